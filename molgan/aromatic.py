"""Complete the aromatic rings a decoder leaves half made: a teacher's rule for the refiner.

Off the training codes, the latent decoder often emits a five- or six-membered ring with two
double bonds instead of an aromatic ring: a half-right Kekulé alternation that happens to be
within valence, so it is a valid ring diene (``CC1=C(C)C(O)NC=C1`` where the data would have
the pyridinol ``Cc1ccnc(O)c1C``). QM9, enumerated under GDB-17's rules, holds no such ring
(none of its 133,885 molecules, bridged rings aside), but 4 % of a latent model's samples have
one, while its aromatic share is a third of the data's (``docs/results.md``, "Half-made aromatic
rings"). :func:`aromatized` gives the aromatic form of such a ring where one exists with the
same heavy atoms, charges and bonds (only bond orders and hydrogens change, as in losing H2, or
moving an H onto a ring N), and :func:`aromatize_graphs` applies it to a batch of class-id
graphs at their own slots, so that it can serve as the refiner's training target
(``[train] valence_target_aromatize``). Sampling never uses it: what the refiner learns from it
is judged, like the rest, by strict decoding.
"""

from __future__ import annotations

import numpy as np
import torch
from rdkit import Chem

from molgan.chem import quiet_rdkit
from molgan.graph import MolGraph, decode_arrays
from molgan.vocab import Vocabulary

__all__ = ["RING_SIZES", "has_aromatic_ring", "ring_dienes", "aromatized", "aromatize_graphs"]

RING_SIZES = (5, 6)
"""Ring sizes that are completed: Hückel rings of the sizes QM9's aromatic rings have."""


def has_aromatic_ring(mol: Chem.Mol) -> bool:
    """Whether any atom of a sanitised molecule is aromatic (so it has an aromatic ring).

    Examples:
        >>> [has_aromatic_ring(Chem.MolFromSmiles(s)) for s in ("c1ccoc1", "C1=CCC=C1")]
        [True, False]
    """
    return any(atom.GetIsAromatic() for atom in mol.GetAtoms())


def ring_dienes(mol: Chem.Mol) -> list[tuple[int, ...]]:
    """The rings of ``mol`` that are not aromatic yet hold two double bonds or more.

    Rings of the sizes :data:`RING_SIZES`, as atom indices in ring order; only a ring's own
    bonds count (an exocyclic ``C=O`` does not). A bridged ring (one that shares more than a bond
    with another ring, as in bicyclo[2.2.2]octadiene, QM9's only ring dienes) is left out: it
    cannot be planar.

    Examples:
        >>> ring_dienes(Chem.MolFromSmiles("CC1=C(C)C(O)NC=C1"))
        [(1, 2, 4, 6, 7, 8)]
        >>> ring_dienes(Chem.MolFromSmiles("c1ccccc1")), ring_dienes(Chem.MolFromSmiles("C1=CCCC1"))
        ([], [])
        >>> ring_dienes(Chem.MolFromSmiles("C1=CC2C=CC1CC2"))  # bridged
        []
    """
    info = mol.GetRingInfo()
    found = []
    for atom_ring, bond_ring in zip(info.AtomRings(), info.BondRings(), strict=True):
        bonds = [mol.GetBondWithIdx(b) for b in bond_ring]
        if len(atom_ring) not in RING_SIZES or any(b.GetIsAromatic() for b in bonds):
            continue
        if sum(b.GetBondType() == Chem.BondType.DOUBLE for b in bonds) >= 2 and not _bridged(
            mol, atom_ring, info.AtomRings()
        ):
            found.append(atom_ring)
    return found


def aromatized(mol: Chem.Mol) -> Chem.Mol | None:
    """``mol`` with each ring diene made aromatic where it can be, else ``None``.

    A ring is made aromatic by setting its bonds aromatic and letting RDKit assign the
    hydrogens; when that does not sanitise, each ring nitrogen in turn carries the ring's
    hydrogen (pyrrole's ``[nH]``). The first form that sanitises with more aromatic atoms wins.
    Atoms, charges and which atoms are bonded never change.

    Returns:
        The sanitised molecule, or ``None`` when ``mol`` has no ring diene or none of them has
        an aromatic form (a cyclopentadiene's ``CH2``, an oxygen in a six-membered ring).

    Examples:
        >>> Chem.MolToSmiles(aromatized(Chem.MolFromSmiles("CC1=C(C)C(O)NC=C1")))
        'Cc1ccnc(O)c1C'
        >>> Chem.MolToSmiles(aromatized(Chem.MolFromSmiles("CCC1=CC(N)N=N1")))  # H onto N
        'CCc1cc(N)[nH]n1'
        >>> aromatized(Chem.MolFromSmiles("COC1=CC=C(C)C1")) is None  # needs another element
        True
    """
    changed = False
    with quiet_rdkit():  # the forms that do not sanitise are expected
        for ring in ring_dienes(mol):
            better = _aromatic_ring(mol, ring)
            if better is not None:
                mol, changed = better, True
    return mol if changed else None


def aromatize_graphs(graphs: MolGraph, vocab: Vocabulary) -> MolGraph:
    """Class-id graphs with the ring dienes :func:`aromatized` completes, in Kekulé bonds.

    ``graphs`` holds ``atoms [B, N]`` and ``bonds [B, N, N]``; a completed ring is written back
    at its atoms' own slots (padding may sit between them), in the Kekulé form that changes the
    fewest bonds of the graph, so that the refiner learns the smallest edit. Graphs that do
    not decode, or have no ring diene to complete, come back unchanged.

    Raises:
        ValueError: ``vocab`` has aromatic bonds (the rule completes Kekulé rings).

    Examples:
        >>> from molgan.graph import mol_to_graph, graph_to_mol
        >>> vocab = Vocabulary.qm9()
        >>> one = mol_to_graph(Chem.MolFromSmiles("OC1C=CC=CN1"), vocab)
        >>> done = aromatize_graphs(MolGraph(one.atoms[None], one.bonds[None]), vocab)
        >>> Chem.MolToSmiles(graph_to_mol(MolGraph(done.atoms[0], done.bonds[0]), vocab))
        'Oc1ccccn1'
    """
    if vocab.aromatic:
        raise ValueError("aromatic completion writes Kekulé bonds; this vocabulary is aromatic")
    atom_ids = graphs.atoms.detach().cpu().numpy()
    bond_ids = graphs.bonds.detach().cpu().numpy().copy()  # [B, N, N]
    # A ring diene needs two double bonds, and sanitising makes none: only such graphs are
    # decoded (RDKit is the cost of this target, once per training step).
    doubles = np.triu(bond_ids == vocab.bond_id(Chem.BondType.DOUBLE), k=1).sum(axis=(1, 2))
    candidates = np.flatnonzero(doubles >= 2)  # [C]
    with quiet_rdkit():
        mols = decode_arrays(atom_ids[candidates], bond_ids[candidates], vocab)
    for k, mol in zip(candidates.tolist(), mols, strict=True):
        done = aromatized(mol) if mol is not None else None
        if done is None:
            continue
        slots = np.flatnonzero(atom_ids[k] > 0)  # the mol's atom i sits in slots[i]
        ends = [(slots[b.GetBeginAtomIdx()], slots[b.GetEndAtomIdx()]) for b in done.GetBonds()]
        form = _closest_kekule(done, [bond_ids[k, i, j] for i, j in ends], vocab)
        for bond, (i, j) in zip(form.GetBonds(), ends, strict=True):
            bond_ids[k, i, j] = bond_ids[k, j, i] = vocab.bond_id(bond.GetBondType())
    bonds = torch.from_numpy(bond_ids).to(device=graphs.bonds.device, dtype=graphs.bonds.dtype)
    return MolGraph(graphs.atoms, bonds)


def _aromatic_ring(mol: Chem.Mol, ring: tuple[int, ...]) -> Chem.Mol | None:
    """``mol`` with the atoms ``ring`` made one aromatic ring, or ``None``.

    It succeeds when some placement of the ring's hydrogens lets RDKit sanitise it with the ring
    aromatic.
    """
    pairs = zip(ring, ring[1:] + ring[:1], strict=True)  # RDKit lists a ring in its order
    ring_bonds = [mol.GetBondBetweenAtoms(a, b).GetIdx() for a, b in pairs]
    before = sum(atom.GetIsAromatic() for atom in mol.GetAtoms())
    nitrogens = [i for i in ring if mol.GetAtomWithIdx(i).GetAtomicNum() == 7]
    kekule = Chem.RWMol(mol)
    Chem.Kekulize(kekule, clearAromaticFlags=True)
    for hydrogen_on in [None, *nitrogens]:
        trial = Chem.RWMol(kekule)
        for b in ring_bonds:
            bond = trial.GetBondWithIdx(b)
            bond.SetBondType(Chem.BondType.AROMATIC)
            bond.SetIsAromatic(True)
        for i in ring:
            atom = trial.GetAtomWithIdx(i)
            atom.SetIsAromatic(True)
            atom.SetNoImplicit(False)
            atom.SetNumExplicitHs(1 if i == hydrogen_on else 0)
        try:
            Chem.SanitizeMol(trial)
        except Chem.rdchem.MolSanitizeException:
            continue
        ring_aromatic = all(trial.GetAtomWithIdx(i).GetIsAromatic() for i in ring)
        if ring_aromatic and sum(atom.GetIsAromatic() for atom in trial.GetAtoms()) > before:
            return trial.GetMol()
    return None


def _bridged(mol: Chem.Mol, ring: tuple[int, ...], rings: tuple[tuple[int, ...], ...]) -> bool:
    """Whether ``ring`` shares more with another ring than one bond (fused rings share one)."""
    for other in rings:
        shared = set(ring) & set(other)
        if other == ring or len(shared) < 2:
            continue
        if len(shared) > 2 or mol.GetBondBetweenAtoms(*shared) is None:
            return True
    return False


def _closest_kekule(mol: Chem.Mol, before: list[int], vocab: Vocabulary) -> Chem.Mol:
    """The Kekulé form of ``mol`` whose bond classes differ least from ``before``.

    ``before`` holds a class id per bond index; charges stay as they are, and RDKit's own form
    wins a tie.
    """
    charges = [atom.GetFormalCharge() for atom in mol.GetAtoms()]
    own = Chem.Mol(mol)
    Chem.Kekulize(own, clearAromaticFlags=True)
    best, fewest = own, None
    for form in [own, *Chem.ResonanceMolSupplier(mol, Chem.KEKULE_ALL)]:
        if form is None or [a.GetFormalCharge() for a in form.GetAtoms()] != charges:
            continue
        changed = sum(
            vocab.bond_id(bond.GetBondType()) != before[bond.GetIdx()] for bond in form.GetBonds()
        )
        if fewest is None or changed < fewest:
            best, fewest = form, changed
    return best
