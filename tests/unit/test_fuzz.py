"""Property-based fuzzing (hypothesis) of the two boundaries that take arbitrary input."""

import gzip

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdkit import Chem

from molgan.chem import quiet_rdkit, strict_smiles
from molgan.graph import MolGraph, graph_to_mol, mol_to_graph
from molgan.io import InputFileError, read_smiles
from molgan.vocab import AtomType, Vocabulary

VOCABS = {
    "qm9": Vocabulary.qm9(),
    "drug": Vocabulary(
        tuple(AtomType(e) for e in ("C", "N", "O", "F", "S", "Cl", "Br")) + (AtomType("N", 1),),
        max_atoms=12,
    ),
}


@st.composite
def generator_graphs(draw, vocab: Vocabulary) -> MolGraph:
    """Any graph a generator can emit: any atom class per slot, any bond class per pair."""
    n, t, y = vocab.max_atoms, vocab.n_atom_classes, vocab.n_bond_classes
    atoms = draw(st.lists(st.integers(0, t - 1), min_size=n, max_size=n))
    # Sparse bonds, as in molecules, plus dense ones now and then.
    p_bond = draw(st.sampled_from([0.1, 0.2, 0.5]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.integers(1, y, (n, n)) * (rng.random((n, n)) < p_bond), k=1)
    bonds = upper + upper.T
    return MolGraph(torch.tensor(atoms, dtype=torch.int8), torch.tensor(bonds, dtype=torch.int8))


@pytest.mark.parametrize("name", list(VOCABS))
def test_any_generator_graph_decodes_to_a_valid_molecule_or_none(name):
    vocab = VOCABS[name]

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(generator_graphs(vocab))
    def check(graph):
        with quiet_rdkit():
            mol = graph_to_mol(graph, vocab)  # never raises
            smiles = strict_smiles(mol)
        if smiles is None:
            return
        # A valid decode re-encodes to the same molecule: the same atom classes (a permutation
        # of the non-padding slots), as many bonds, and the same canonical SMILES back.
        again = mol_to_graph(Chem.MolFromSmiles(smiles), vocab)
        assert sorted(again.atoms[again.atoms > 0].tolist()) == sorted(
            graph.atoms[graph.atoms > 0].tolist()
        )
        assert int((again.bonds > 0).sum()) == int((graph_to_edges(graph) > 0).sum())
        with quiet_rdkit():
            assert strict_smiles(graph_to_mol(again, vocab)) == smiles

    check()


def graph_to_edges(graph: MolGraph) -> torch.Tensor:
    """The bonds between real atoms (a decoded molecule drops those touching padding)."""
    real = graph.atoms > 0
    return graph.bonds * (real[:, None] & real[None, :])


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=2000),
    name=st.sampled_from(["x.smi", "x.txt", "x.csv", "x.csv.gz", "x.smi.gz"]),
    compress=st.booleans(),
)
def test_random_bytes_give_entries_or_molgans_error(tmp_path_factory, data, name, compress):
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(gzip.compress(data) if compress else data)
    try:
        entries = read_smiles(path)
    except InputFileError as err:
        assert str(err).startswith(str(path))
    else:
        assert isinstance(entries, list) and all(isinstance(e, str) for e in entries)
