import pytest
import torch
from rdkit import Chem

from molgan.aromatic import aromatize_graphs, aromatized, ring_dienes
from molgan.graph import DenseGraph, MolGraph, graphs_to_smiles, mol_to_graph
from molgan.models.autoencoder import valence_target
from molgan.sampling import ValenceMask
from molgan.vocab import Vocabulary

# Ring dienes a latent model decoded (runs/headline/qm9-deep.smi) and their aromatic forms.
COMPLETED = [
    ("CC1=C(C)C(O)NC=C1", "Cc1ccnc(O)c1C"),  # loses H2: a pyridinol
    ("OCCC1=CN=CCN1", "OCCc1cnccn1"),  # a pyrazine
    ("CCC1=CC(N)N=N1", "CCc1cc(N)[nH]n1"),  # a ring H moves onto N: a pyrazole
    ("C1=CCC=CC1", "c1ccccc1"),
    ("C[N+]1=CC=CCC1", "C[n+]1ccccc1"),  # a charge is kept
]
# Rings with no aromatic form on the same atoms, and rings that are not ring dienes.
LEFT = [
    "COC1=CC=C(C)C1",  # a cyclopentadiene: its CH2 would have to become N or O
    "CNCC1=COC=CN1",  # an oxygen in a six-membered ring
    "C1=CC2C=CC1CC2",  # bridged: QM9's only ring dienes (bicyclo[2.2.2]octadienes)
    "c1ccoc1",
    "C1=CCCC1",
    "O=C1C=CC(=O)C=C1",  # a quinone: its ring carbons carry exocyclic double bonds
]


def _connectivity(mol):
    return sorted(
        tuple(sorted((b.GetBeginAtom().GetSymbol(), b.GetEndAtom().GetSymbol())))
        for b in mol.GetBonds()
    )


@pytest.mark.parametrize(("smiles", "expected"), COMPLETED)
def test_a_ring_diene_becomes_aromatic_on_the_same_atoms(smiles, expected):
    mol = Chem.MolFromSmiles(smiles)
    assert ring_dienes(mol)
    done = aromatized(mol)
    assert Chem.MolToSmiles(done) == expected
    assert [a.GetSymbol() for a in done.GetAtoms()] == [a.GetSymbol() for a in mol.GetAtoms()]
    assert _connectivity(done) == _connectivity(mol)
    assert not ring_dienes(done)


def test_each_ring_diene_is_completed_or_left_on_its_own():
    done = aromatized(Chem.MolFromSmiles("CC1=CC=CC1.C1=CCC=CC1"))  # two pieces
    assert Chem.MolToSmiles(done) == "CC1=CC=CC1.c1ccccc1"


@pytest.mark.parametrize("smiles", LEFT)
def test_rings_without_an_aromatic_form_are_left(smiles):
    assert aromatized(Chem.MolFromSmiles(smiles)) is None


def test_graphs_are_completed_at_their_own_slots_and_others_are_untouched():
    vocab = Vocabulary.qm9()
    smiles = [s for s, _ in COMPLETED] + LEFT
    graphs = [mol_to_graph(Chem.MolFromSmiles(s), vocab) for s in smiles]
    gen = torch.Generator().manual_seed(0)
    perms = [torch.randperm(vocab.max_atoms, generator=gen) for _ in graphs]  # padding between
    batch = MolGraph(
        torch.stack([g.atoms[p] for g, p in zip(graphs, perms, strict=True)]),
        torch.stack([g.bonds[p][:, p] for g, p in zip(graphs, perms, strict=True)]),
    )
    done = aromatize_graphs(batch, vocab)
    assert torch.equal(done.atoms, batch.atoms)
    assert torch.equal(done.bonds, done.bonds.transpose(1, 2))
    assert torch.equal(done.bonds > 0, batch.bonds > 0)  # the same pairs bonded
    expected = [e for _, e in COMPLETED] + [Chem.CanonSmiles(s) for s in LEFT]
    assert graphs_to_smiles(done, vocab) == expected
    # The smallest edit: one double bond between the two sp3 ring atoms (RDKit's own Kekulé
    # form of the pyrazine would rewrite five bonds).
    for row in (0, 1):
        assert (done.bonds[row] != batch.bonds[row]).sum().item() == 2  # one pair, both halves


def test_completion_refuses_aromatic_bonds():
    vocab = Vocabulary.qm9(aromatic=True)
    graph = mol_to_graph(Chem.MolFromSmiles("C1=CCC=CC1"), vocab)
    with pytest.raises(ValueError, match="Kekulé"):
        aromatize_graphs(MolGraph(graph.atoms[None], graph.bonds[None]), vocab)


def test_the_valence_target_completes_the_rings_it_is_told_to():
    vocab = Vocabulary.qm9()
    graph = mol_to_graph(Chem.MolFromSmiles("CC1=C(C)C(O)NC=C1"), vocab)
    logits = MolGraph(graph.atoms[None], graph.bonds[None]).one_hot(vocab)
    logits = DenseGraph(logits.atoms * 10.0, logits.bonds * 10.0)
    mask = ValenceMask(vocab)
    plain = valence_target(logits, mask).argmax()
    done = valence_target(logits, mask, lambda g: aromatize_graphs(g, vocab)).argmax()
    assert graphs_to_smiles(plain, vocab) == ["CC1=C(C)C(O)NC=C1"]
    assert graphs_to_smiles(done, vocab) == ["Cc1ccnc(O)c1C"]
