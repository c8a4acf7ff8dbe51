"""Encode RDKit molecules as dense atom-type and bond-type tensors, and decode them back.

``mol_to_graph`` / ``graph_to_mol`` are the exact codec every other part of molgan is measured
with: for every QM9 molecule, canonical SMILES in equals canonical SMILES out (see the tests).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
from rdkit import Chem

from molgan.chem import quiet_rdkit, strict_smiles
from molgan.vocab import Vocabulary, atom_type_of

__all__ = [
    "EncodingError",
    "UnknownAtomError",
    "UnknownBondError",
    "TooManyAtomsError",
    "NoHeavyAtomsError",
    "DummyAtomError",
    "RadicalError",
    "IsotopeError",
    "check_encodable",
    "MolGraph",
    "DenseGraph",
    "mol_to_graph",
    "graph_to_mol",
    "graphs_to_mols",
    "graphs_to_smiles",
    "decode_arrays",
    "same_piece",
]


class EncodingError(ValueError):
    """A molecule cannot be written in a vocabulary; ``reason`` is a short machine-usable tag."""

    reason = "unencodable"


class UnknownAtomError(EncodingError):
    """The molecule holds an (element, charge) that is not an atom class of the vocabulary."""

    reason = "unknown_atom"


class UnknownBondError(EncodingError):
    """The molecule holds a bond type (after kekulization) outside the vocabulary."""

    reason = "unknown_bond"


class TooManyAtomsError(EncodingError):
    """The molecule has more heavy atoms than ``vocab.max_atoms``."""

    reason = "too_many_atoms"


class NoHeavyAtomsError(EncodingError):
    """The molecule has no heavy atom (``[H][H]``, ``[H+]``): there is no graph to write."""

    reason = "no_heavy_atoms"


class DummyAtomError(EncodingError):
    """The molecule holds a dummy atom (``*``, atomic number 0): a placeholder, not an element."""

    reason = "dummy_atom"


class RadicalError(EncodingError):
    """An atom has unpaired electrons, which the atom classes cannot express."""

    reason = "radical"


class IsotopeError(EncodingError):
    """An atom carries an isotope label, which the atom classes cannot express."""

    reason = "isotope"


def check_encodable(mol: Chem.Mol) -> None:
    """Raise an :class:`EncodingError` for what no vocabulary can write.

    That is: a dummy atom, no heavy atom, a radical, an isotope label. :func:`mol_to_graph`
    checks this before the vocabulary's own limits.

    Examples:
        >>> check_encodable(Chem.MolFromSmiles("[13CH4]"))
        Traceback (most recent call last):
        ...
        molgan.graph.IsotopeError: isotope 13C cannot be encoded
    """
    if any(atom.GetAtomicNum() == 0 for atom in mol.GetAtoms()):
        raise DummyAtomError("a dummy atom (*) cannot be encoded")
    if mol.GetNumHeavyAtoms() == 0:
        raise NoHeavyAtomsError("no heavy atom")
    for atom in mol.GetAtoms():
        if atom.GetNumRadicalElectrons():
            raise RadicalError(f"radical atom {atom.GetSymbol()} cannot be encoded")
        if atom.GetIsotope():
            raise IsotopeError(f"isotope {atom.GetIsotope()}{atom.GetSymbol()} cannot be encoded")


class MolGraph(NamedTuple):
    """Integer class ids of one graph or of a batch.

    ``atoms`` is ``[N]`` or ``[B, N]``, ``bonds`` is ``[N, N]`` or ``[B, N, N]``. Atom id 0 is
    padding, bond id 0 is no bond; ``bonds`` is symmetric with an empty diagonal.
    """

    atoms: torch.Tensor
    bonds: torch.Tensor

    def one_hot(self, vocab: Vocabulary) -> DenseGraph:
        """One-hot float scores: ``atoms [..., N, T]`` and ``bonds [..., N, N, Y]``."""
        atoms = torch.nn.functional.one_hot(self.atoms.long(), vocab.n_atom_classes).float()
        bonds = torch.nn.functional.one_hot(self.bonds.long(), vocab.n_bond_classes).float()
        return DenseGraph(atoms, bonds)


class DenseGraph(NamedTuple):
    """Float per-class scores (logits, probabilities or one-hot).

    ``atoms`` is ``[B, N, T]`` and ``bonds`` is ``[B, N, N, Y]``.
    """

    atoms: torch.Tensor
    bonds: torch.Tensor

    def argmax(self) -> MolGraph:
        """The most likely class of every atom and bond."""
        return MolGraph(self.atoms.argmax(-1), self.bonds.argmax(-1))


def same_piece(graph: MolGraph) -> torch.Tensor:
    """``[B, N, N]`` bool: whether atoms ``i`` and ``j`` lie in one piece of a class-id graph.

    Padding atoms lie in no piece (their rows are all false). Batched on the graph's device: the
    reachability matrix is squared until paths cover ``N`` atoms.

    Examples:
        >>> atoms = torch.tensor([[1, 1, 1, 0]])  # three atoms and a padding slot
        >>> bonds = torch.zeros(1, 4, 4, dtype=torch.long)
        >>> bonds[0, 0, 1] = bonds[0, 1, 0] = 1  # atoms 0-1 bonded, atom 2 alone
        >>> same_piece(MolGraph(atoms, bonds))[0].int().tolist()
        [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    """
    real = graph.atoms > 0
    edges = (graph.bonds > 0) & real[:, :, None] & real[:, None, :]
    reach = (edges | torch.diag_embed(real)).float()
    for _ in range(max(1, math.ceil(math.log2(max(reach.shape[1], 2))))):  # paths double
        reach = (reach @ reach).clamp(max=1.0)
    return reach > 0


def mol_to_graph(mol: Chem.Mol, vocab: Vocabulary) -> MolGraph:
    """Encode a molecule as dense atom-type and bond-type ids.

    Args:
        mol: A sanitised molecule with at most ``vocab.max_atoms`` heavy atoms.
        vocab: Maps atom classes and bond types to class ids. Aromatic rings are kekulized
            unless the vocabulary has an ``AROMATIC`` bond class.

    Returns:
        ``atoms`` of shape ``[N]`` (int8, real atoms first, then padding 0) and symmetric ``bonds``
        of shape ``[N, N]`` (int8, 0 = no bond), with ``N = vocab.max_atoms``.

    Raises:
        DummyAtomError, NoHeavyAtomsError, RadicalError, IsotopeError: See :func:`check_encodable`.
        TooManyAtomsError: If ``mol`` has more than ``vocab.max_atoms`` heavy atoms.
        UnknownAtomError: If ``mol`` contains an atom class outside ``vocab``.
        UnknownBondError: If a (kekulized) bond type is outside ``vocab``.

    Examples:
        >>> graph = mol_to_graph(Chem.MolFromSmiles("C=O"), Vocabulary.qm9())
        >>> graph.atoms.tolist()[:3], graph.bonds[0, 1].item()
        ([1, 6, 0], 2)
    """
    check_encodable(mol)
    n_atoms = mol.GetNumAtoms()
    if n_atoms > vocab.max_atoms:
        raise TooManyAtomsError(f"{n_atoms} heavy atoms, more than max_atoms={vocab.max_atoms}")
    if not vocab.aromatic:
        # Kekulize so aromatic rings encode as single/double bonds that RDKit re-aromatises.
        mol = Chem.Mol(mol)
        Chem.Kekulize(mol, clearAromaticFlags=True)
    atoms = np.zeros(vocab.max_atoms, dtype=np.int8)
    for atom in mol.GetAtoms():
        atom_type = atom_type_of(atom, vocab.aromatic)
        atom_id = vocab.atom_id(atom_type.element, atom_type.charge, atom_type.hydrogens)
        if atom_id is None:
            raise UnknownAtomError(f"atom {atom_type.label} is not in the vocabulary")
        atoms[atom.GetIdx()] = atom_id
    bonds = np.zeros((vocab.max_atoms, vocab.max_atoms), dtype=np.int8)
    for bond in mol.GetBonds():
        bond_id = vocab.bond_id(bond.GetBondType())
        if bond_id is None:
            raise UnknownBondError(f"bond type {bond.GetBondType()} is not in the vocabulary")
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        bonds[i, j] = bonds[j, i] = bond_id
    return MolGraph(torch.from_numpy(atoms), torch.from_numpy(bonds))


def graph_to_mol(graph: MolGraph, vocab: Vocabulary) -> Chem.Mol | None:
    """Decode one graph into a sanitised molecule.

    Padding atoms (id 0) are dropped, together with any bond that touches them, so they never
    become dummy ``*`` atoms. Only the upper triangle of ``bonds`` is read. Hydrogens are implicit:
    RDKit fills each atom's default valence for its element and charge. No valency correction.

    Args:
        graph: ``atoms [N]`` and ``bonds [N, N]`` class ids.
        vocab: The vocabulary the ids refer to.

    Returns:
        The sanitised molecule (possibly of several fragments, which ``chem.strict_smiles``
        rejects), or ``None`` if the graph has no atoms or fails RDKit sanitisation.

    Examples:
        >>> vocab = Vocabulary.qm9()
        >>> graph = mol_to_graph(Chem.MolFromSmiles("c1ccoc1"), vocab)
        >>> Chem.MolToSmiles(graph_to_mol(graph, vocab))
        'c1ccoc1'
        >>> aromatic = Vocabulary.qm9(aromatic=True)  # aromatic bonds, and an [nH] atom class
        >>> Chem.MolToSmiles(graph_to_mol(mol_to_graph(Chem.MolFromSmiles("c1cc[nH]c1"), aromatic),
        ...                               aromatic))
        'c1cc[nH]c1'
    """
    batch = MolGraph(torch.as_tensor(graph.atoms)[None], torch.as_tensor(graph.bonds)[None])
    return graphs_to_mols(batch, vocab)[0]


def graphs_to_mols(graphs: MolGraph, vocab: Vocabulary) -> list[Chem.Mol | None]:
    """Decode a batch (``atoms [B, N]``, ``bonds [B, N, N]``) with :func:`graph_to_mol`'s rules.

    The index work is done once for the whole batch in NumPy, so the per-molecule Python work is
    only RDKit calls; this keeps decoding as fast as RDKit's own SMILES round trip.
    """
    return decode_arrays(
        graphs.atoms.detach().cpu().numpy(), graphs.bonds.detach().cpu().numpy(), vocab
    )


def graphs_to_smiles(graphs: MolGraph, vocab: Vocabulary) -> list[str | None]:
    """Canonical SMILES of every graph that is a strictly valid molecule, else ``None``."""
    with quiet_rdkit():
        return [strict_smiles(mol) for mol in graphs_to_mols(graphs, vocab)]


def decode_arrays(atoms: np.ndarray, bonds: np.ndarray, vocab: Vocabulary) -> list[Chem.Mol | None]:
    """:func:`graphs_to_mols` on NumPy arrays ``atoms [B, N]`` and ``bonds [B, N, N]``.

    Torch-free, so it is safe in forked worker processes.
    """
    real = atoms > 0  # [B, N]
    position = np.cumsum(real, axis=1) - 1  # index of each real atom within its molecule
    kept = np.triu(bonds, k=1) * (real[:, :, None] & real[:, None, :])  # [B, N, N]
    mol_idx, i, j = np.nonzero(kept)
    starts = np.searchsorted(mol_idx, np.arange(len(atoms) + 1)).tolist()
    begin, end = position[mol_idx, i].tolist(), position[mol_idx, j].tolist()
    bond_ids = kept[mol_idx, i, j].tolist()
    templates, bond_types = _atom_templates(vocab), vocab.rdkit_bond_types
    aromatic = vocab.bond_id(Chem.BondType.AROMATIC)
    mols: list[Chem.Mol | None] = []
    for k, row in enumerate(atoms.tolist()):
        mol = Chem.RWMol()
        for atom_id in row:
            if atom_id:
                mol.AddAtom(templates[atom_id])
        for e in range(starts[k], starts[k + 1]):
            n_bonds = mol.AddBond(begin[e], end[e], bond_types[bond_ids[e]])
            if bond_ids[e] == aromatic:  # flag the ring for RDKit to kekulize on sanitisation
                mol.GetBondWithIdx(n_bonds - 1).SetIsAromatic(True)
                mol.GetAtomWithIdx(begin[e]).SetIsAromatic(True)
                mol.GetAtomWithIdx(end[e]).SetIsAromatic(True)
        mols.append(_sanitized(mol.GetMol()) if mol.GetNumAtoms() else None)
    return mols


@lru_cache(maxsize=8)
def _atom_templates(vocab: Vocabulary) -> tuple[Chem.Atom | None, ...]:
    """One RDKit atom per class id (``AddAtom`` copies it), index 0 (padding) is ``None``."""
    templates: list[Chem.Atom | None] = [None]
    for atom_type in vocab.atom_types:
        atom = Chem.Atom(atom_type.element)
        atom.SetFormalCharge(atom_type.charge)
        atom.SetNumExplicitHs(atom_type.hydrogens)
        templates.append(atom)
    return tuple(templates)


def _sanitized(mol: Chem.Mol) -> Chem.Mol | None:
    try:
        Chem.SanitizeMol(mol)
    except Chem.rdchem.MolSanitizeException:
        return None
    return mol
