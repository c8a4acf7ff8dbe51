"""Shared fixtures: the QM9 vocabulary, 20 literal SMILES, their graphs, a seeded generator."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from molgan.chem import smiles_to_mol
from molgan.graph import MolGraph, mol_to_graph
from molgan.io import read_smiles
from molgan.vocab import Vocabulary

TEST_DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session", autouse=True)
def metrics_cache(tmp_path_factory):
    """Keep the metrics' reference caches inside the test session, not in ~/.cache."""
    path = tmp_path_factory.mktemp("molgan-cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("MOLGAN_CACHE", str(path))
    yield path
    patch.undo()


@pytest.fixture(autouse=True)
def torch_threads():
    """Give every test the thread count the session started with (CLI commands may change it)."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def vocab() -> Vocabulary:
    return Vocabulary.qm9()


@pytest.fixture(scope="session")
def tiny_smiles() -> list[str]:
    return read_smiles(TEST_DATA / "tiny.smi")


@pytest.fixture(scope="session")
def graph_batch(tiny_smiles, vocab) -> MolGraph:
    graphs = [mol_to_graph(smiles_to_mol(s), vocab) for s in tiny_smiles]
    return MolGraph(torch.stack([g.atoms for g in graphs]), torch.stack([g.bonds for g in graphs]))


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)
