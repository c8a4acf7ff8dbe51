import random

import pytest
import torch
from rdkit import Chem

from molgan.chem import mol_to_smiles
from molgan.data import QM9_PATH, featurize
from molgan.graph import graph_to_mol, mol_to_graph
from molgan.io import read_smiles
from molgan.order import ATOM_ORDERS, reorder_atoms
from molgan.vocab import Vocabulary

MOLECULES = [
    "CCO",
    "c1ccoc1",
    "OC1COC1",
    "CC(C)(O)C#N",
    "[NH3+]CC(=O)[O-]",
    "Cc1ccc(O)cn1",
    "C1=CC2CC1C=C2",
    "OCC1(O)CC1F",
]


def _shuffled(mol: Chem.Mol, seed: int) -> Chem.Mol:
    order = list(range(mol.GetNumAtoms()))
    random.Random(seed).shuffle(order)
    return Chem.RenumberAtoms(mol, order)


@pytest.mark.parametrize("aromatic", [False, True])
@pytest.mark.parametrize("order", ["smiles", "bfs"])
@pytest.mark.parametrize("smiles", [*MOLECULES, "Cc1nc[nH]c1C=O"])
def test_any_input_permutation_gives_the_same_graph(smiles, order, aromatic):
    vocab = Vocabulary.qm9(aromatic)
    mol = Chem.MolFromSmiles(smiles)
    reference = mol_to_graph(reorder_atoms(mol, order), vocab)
    for seed in range(6):
        graph = mol_to_graph(reorder_atoms(_shuffled(mol, seed), order), vocab)
        assert torch.equal(graph.atoms, reference.atoms)
        assert torch.equal(graph.bonds, reference.bonds)
    assert mol_to_smiles(graph_to_mol(reference, vocab)) == mol_to_smiles(mol)


def test_the_input_order_depends_on_how_a_molecule_is_written(vocab):
    """What a canonical order removes: two spellings of ethanol, two graphs."""
    first = mol_to_graph(reorder_atoms(Chem.MolFromSmiles("CCO"), "input"), vocab)
    second = mol_to_graph(reorder_atoms(Chem.MolFromSmiles("OCC"), "input"), vocab)
    assert not torch.equal(first.atoms, second.atoms)
    canonical = [
        mol_to_graph(reorder_atoms(Chem.MolFromSmiles(s), "smiles"), vocab) for s in ("CCO", "OCC")
    ]
    assert torch.equal(canonical[0].atoms, canonical[1].atoms)


def test_bfs_visits_atoms_breadth_first():
    mol = reorder_atoms(Chem.MolFromSmiles("CCCCC(C)C"), "bfs")
    distance = Chem.GetDistanceMatrix(mol)[0]
    assert list(distance) == sorted(distance)


def test_unknown_order_is_refused():
    with pytest.raises(ValueError, match="unknown atom order 'dfs'"):
        reorder_atoms(Chem.MolFromSmiles("C"), "dfs")
    assert ATOM_ORDERS == ("input", "smiles", "bfs")


@pytest.mark.slow
@pytest.mark.parametrize("order", ["smiles", "bfs"])
def test_every_qm9_molecule_round_trips_in_canonical_order(order):
    feats = featurize(read_smiles(QM9_PATH), Vocabulary.qm9(), atom_order=order, progress=False)
    assert feats.n_kept == 133_885 and feats.skipped == {}
