import numpy as np
import pytest
import torch
from rdkit import Chem

from molgan.chem import canonical_smiles, mol_to_smiles, smiles_to_mol
from molgan.data import QM9_PATH, featurize
from molgan.graph import (
    MolGraph,
    TooManyAtomsError,
    UnknownAtomError,
    graph_to_mol,
    graphs_to_mols,
    graphs_to_smiles,
    mol_to_graph,
)
from molgan.io import read_smiles
from molgan.vocab import Vocabulary


@pytest.mark.parametrize("smiles", ["CCO", "c1ccoc1", "OC1COC1", "C#N", "FC(F)F", "C"])
def test_round_trip_preserves_canonical_smiles(smiles, vocab):
    graph = mol_to_graph(smiles_to_mol(smiles), vocab)
    assert mol_to_smiles(graph_to_mol(graph, vocab)) == smiles


def test_tiny_set_round_trips(tiny_smiles, graph_batch, vocab):
    decoded = graphs_to_mols(graph_batch, vocab)
    assert [mol_to_smiles(m) for m in decoded] == [
        mol_to_smiles(smiles_to_mol(s)) for s in tiny_smiles
    ]


def test_zwitterion_charges_survive(vocab):
    graph = mol_to_graph(smiles_to_mol("[NH3+]CC(=O)[O-]"), vocab)
    assert sorted(graph.atoms.tolist()) == [0, 0, 0, 0, 1, 1, 5, 6, 7]
    assert mol_to_smiles(graph_to_mol(graph, vocab)) == "[NH3+]CC(=O)[O-]"


def test_encoding_is_kekulized_symmetric_with_empty_diagonal(vocab):
    graph = mol_to_graph(smiles_to_mol("c1ccoc1"), vocab)
    bonds = graph.bonds
    assert torch.equal(bonds, bonds.T)
    assert bonds.diagonal().eq(0).all()
    assert sorted(bonds[bonds > 0].tolist()) == [1, 1, 1, 1, 1, 1, 2, 2, 2, 2]  # 3 single, 2 double


def test_encoding_errors(vocab):
    with pytest.raises(UnknownAtomError, match="Cl"):
        mol_to_graph(smiles_to_mol("CCl"), vocab)
    with pytest.raises(UnknownAtomError, match=r"atom O\+ is not"):
        mol_to_graph(smiles_to_mol("C[OH2+]"), vocab)
    with pytest.raises(TooManyAtomsError, match="10 heavy atoms"):
        mol_to_graph(smiles_to_mol("C" * 10), vocab)


def test_padding_never_becomes_dummy_atoms(vocab):
    atoms = torch.tensor([0, 1, 0, 6, 0, 0, 0, 0, 0])  # C and O with padding around them
    bonds = torch.zeros(9, 9, dtype=torch.long)
    bonds[1, 3] = bonds[3, 1] = 1
    bonds[0, 1] = bonds[1, 0] = 1  # a bond to a padding atom is dropped with it
    mol = graph_to_mol(MolGraph(atoms, bonds), vocab)
    assert mol_to_smiles(mol) == "CO"
    assert all(a.GetAtomicNum() > 0 for a in mol.GetAtoms())


def test_unsanitisable_and_empty_graphs_decode_to_none(vocab):
    atoms = torch.tensor([6, 1, 1, 1, 0, 0, 0, 0, 0])  # O with three bonds: valence error
    bonds = torch.zeros(9, 9, dtype=torch.long)
    for j in (1, 2, 3):
        bonds[0, j] = bonds[j, 0] = 1
    assert graph_to_mol(MolGraph(atoms, bonds), vocab) is None
    assert graph_to_mol(MolGraph(torch.zeros(9, dtype=torch.long), bonds * 0), vocab) is None


def test_disconnected_graph_decodes_with_fragments(vocab):
    atoms = torch.tensor([1, 1, 0, 0, 0, 0, 0, 0, 0])
    mol = graph_to_mol(MolGraph(atoms, torch.zeros(9, 9, dtype=torch.long)), vocab)
    assert mol_to_smiles(mol) == "C.C"  # decoded as is; strict validity rejects it


def test_permuting_atoms_leaves_decoded_molecule_unchanged(graph_batch, vocab):
    generator = torch.Generator().manual_seed(0)
    expected = [mol_to_smiles(m) for m in graphs_to_mols(graph_batch, vocab)]
    for _ in range(3):
        perm = torch.randperm(vocab.max_atoms, generator=generator)
        permuted = MolGraph(graph_batch.atoms[:, perm], graph_batch.bonds[:, perm][:, :, perm])
        assert [mol_to_smiles(m) for m in graphs_to_mols(permuted, vocab)] == expected


def test_one_hot_and_argmax_are_inverse(graph_batch, vocab):
    dense = graph_batch.one_hot(vocab)
    assert dense.atoms.shape == (20, 9, vocab.n_atom_classes)
    assert dense.bonds.shape == (20, 9, 9, vocab.n_bond_classes)
    back = dense.argmax()
    assert torch.equal(back.atoms, graph_batch.atoms.long())
    assert torch.equal(back.bonds, graph_batch.bonds.long())


@pytest.mark.slow
@pytest.mark.parametrize("aromatic", [False, True], ids=["kekulized", "aromatic"])
def test_every_qm9_molecule_round_trips(aromatic):
    """All 133,885 QM9 rows: canonical SMILES in == canonical SMILES out (100 %, no exceptions).

    In both ring representations: kekulized, and aromatic bonds with [nH]-style atom classes.
    """
    vocab = Vocabulary.qm9(aromatic)
    smiles = read_smiles(QM9_PATH)
    feats = featurize(smiles, vocab, progress=False)
    assert feats.n_rows == 133_885
    assert feats.skipped == {}
    assert feats.n_kept == 133_885
    # The kept canonical SMILES are RDKit's canonical forms of the input rows, row for row.
    sample = np.random.default_rng(0).choice(len(smiles), 500, replace=False)
    for row in sample.tolist():
        assert feats.smiles[row] == Chem.MolToSmiles(Chem.MolFromSmiles(smiles[row]))
    # Vocabulary.qm9() is the data's own vocabulary: nothing was skipped as unknown, every class
    # occurs, and deriving a vocabulary from one molecule per class (plus a 9-atom one) gives it.
    atoms = feats.graphs.atoms.long()
    examples = {int((atoms == t).any(1).nonzero()[0]) for t in range(1, vocab.n_atom_classes)}
    examples.add(int((atoms > 0).sum(1).argmax()))
    mols = (Chem.MolFromSmiles(smiles[row]) for row in examples)
    derived = Vocabulary.from_mols(mols, aromatic=aromatic)
    assert derived == vocab
    # Aromatic bonds occur in the aromatic representation only.
    assert bool((feats.graphs.bonds == 4).any()) == aromatic


def test_graphs_to_smiles_decodes_strictly(graph_batch, vocab, tiny_smiles):
    smiles = graphs_to_smiles(graph_batch, vocab)
    assert smiles == [canonical_smiles(s) for s in tiny_smiles]
    empty = MolGraph(torch.zeros(1, 9, dtype=torch.long), torch.zeros(1, 9, 9, dtype=torch.long))
    assert graphs_to_smiles(empty, vocab) == [None]


@pytest.mark.parametrize(
    "smiles", ["c1ccccc1", "c1cc[nH]c1", "Cc1nc[nH]c1C=O", "c1cc[nH+]cc1", "O=c1cc[nH]o1"]
)
def test_aromatic_vocabulary_keeps_rings_aromatic_and_round_trips(smiles):
    vocab = Vocabulary.qm9(aromatic=True)
    mol = smiles_to_mol(smiles)
    graph = mol_to_graph(mol, vocab)
    ring_bonds = [b for b in mol.GetBonds() if b.GetIsAromatic()]
    aromatic_id = vocab.bond_types.index("AROMATIC") + 1
    assert int((torch.triu(graph.bonds.long(), 1) == aromatic_id).sum()) == len(ring_bonds)
    assert mol_to_smiles(graph_to_mol(graph, vocab)) == mol_to_smiles(mol)


def test_an_aromatic_ring_that_cannot_be_kekulized_decodes_to_none():
    """Pyrrole without its [nH] class: RDKit cannot kekulize it, so the graph is invalid."""
    vocab = Vocabulary.qm9(aromatic=True)
    graph = mol_to_graph(smiles_to_mol("c1cc[nH]c1"), vocab)
    atoms = graph.atoms.clone()
    atoms[atoms == vocab.atom_id("N", 0, 1)] = vocab.atom_id("N")
    assert graph_to_mol(MolGraph(atoms, graph.bonds), vocab) is None
