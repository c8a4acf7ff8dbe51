"""Canonical atom orders: renumber a molecule so that its graph does not depend on its spelling.

A one-shot decoder emits atom ``i`` at slot ``i``, so it can only learn to reconstruct molecules
if every molecule has one fixed atom order. ``"smiles"`` is the order in which RDKit writes the
canonical SMILES (a depth-first walk from the canonical root; MoFlow's choice), ``"bfs"`` a
breadth-first walk from the same root that visits neighbours by canonical rank, and ``"input"``
keeps the order of the input (MolGAN's). ``benchmarks/atom_order.py`` measures which one an
autoencoder reconstructs better.
"""

from __future__ import annotations

from collections import deque

from rdkit import Chem

__all__ = ["ATOM_ORDERS", "check_atom_order", "reorder_atoms"]

ATOM_ORDERS = ("input", "smiles", "bfs")
"""The values of ``[data] atom_order``."""


def reorder_atoms(mol: Chem.Mol, order: str = "input") -> Chem.Mol:
    """Renumber the atoms of ``mol`` in ``order``.

    ``"smiles"`` and ``"bfs"`` first rebuild the molecule from its canonical SMILES, so atoms,
    bonds and the Kekulé structure chosen later all come out the same for every way of writing
    the molecule.

    Args:
        mol: A sanitised molecule.
        order: One of :data:`ATOM_ORDERS`.

    Returns:
        ``mol`` itself for ``"input"``, else a renumbered copy.

    Raises:
        ValueError: If ``order`` is not in :data:`ATOM_ORDERS`.

    Examples:
        >>> mol = reorder_atoms(Chem.MolFromSmiles("OCC"), "smiles")
        >>> [atom.GetSymbol() for atom in mol.GetAtoms()]
        ['C', 'C', 'O']
        >>> mol = reorder_atoms(Chem.MolFromSmiles("CC(C)(O)CC"), "bfs")  # canonical: CCC(C)(C)O
        >>> [atom.GetDegree() for atom in mol.GetAtoms()]
        [1, 2, 4, 1, 1, 1]
    """
    check_atom_order(order)
    if order == "input":
        return mol
    # Written and re-read, the molecule's atoms come in canonical SMILES output order.
    canonical = Chem.MolFromSmiles(Chem.MolToSmiles(mol))
    if order == "smiles":
        return canonical
    ranks = list(Chem.CanonicalRankAtoms(canonical, breakTies=True))
    return Chem.RenumberAtoms(canonical, _bfs_order(canonical, ranks))


def check_atom_order(order: str) -> None:
    """Raise ``ValueError`` naming the valid orders if ``order`` is not one of them."""
    if order not in ATOM_ORDERS:
        raise ValueError(f"unknown atom order {order!r}; valid: {list(ATOM_ORDERS)}")


def _bfs_order(mol: Chem.Mol, ranks: list[int]) -> list[int]:
    """Breadth-first atom indices from atom 0, neighbours by rank; each fragment in turn."""
    seen = [False] * mol.GetNumAtoms()
    order: list[int] = []
    for root in range(mol.GetNumAtoms()):
        if seen[root]:
            continue
        seen[root] = True
        queue = deque([root])
        while queue:
            atom = queue.popleft()
            order.append(atom)
            neighbours = [n.GetIdx() for n in mol.GetAtomWithIdx(atom).GetNeighbors()]
            for nxt in sorted(neighbours, key=ranks.__getitem__):
                if not seen[nxt]:
                    seen[nxt] = True
                    queue.append(nxt)
    return order
