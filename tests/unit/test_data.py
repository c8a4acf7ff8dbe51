import gzip
import shutil
from pathlib import Path

import torch

from molgan.chem import mol_to_smiles
from molgan.data import (
    QM9_PATH,
    QM9_SPLITS,
    MoleculeDataset,
    data_stats,
    data_to_graph,
    derive_vocabulary,
    featurize,
    graph_to_data,
    graphs_to_batch,
    split_rows,
)
from molgan.graph import MolGraph, graphs_to_mols
from molgan.io import read_smiles
from molgan.vocab import Vocabulary


def test_featurize_counts_every_skip_reason(vocab):
    rows = ["CCO", "", "C1CC", "CC.O", "ClCCl", "C" * 12, "[NH3+]CC(=O)[O-]"]
    feats = featurize(rows, vocab, n_jobs=1)
    assert feats.smiles == ["CCO", "[NH3+]CC(=O)[O-]"]
    assert feats.rows.tolist() == [0, 6]
    assert feats.skipped == {
        "empty": 1,
        "unparsable": 1,
        "multi_fragment": 1,
        "unknown_atom": 1,
        "too_many_atoms": 1,
    }
    assert feats.examples["unknown_atom"] == [(4, "ClCCl")]
    assert feats.graphs.atoms.shape == (2, 9) and feats.graphs.bonds.shape == (2, 9, 9)


def test_each_kind_of_unusual_chemistry_is_kept_or_skipped_by_name(vocab):
    rows = {
        "C[NH3+]": "",  # charged species in the vocabulary: kept
        "[CH4]": "",  # explicit hydrogens: kept (RDKit folds them into the heavy atom)
        "[H]OC([H])([H])[H]": "",
        "[H][H]": "no_heavy_atoms",
        "[H+]": "no_heavy_atoms",
        "[CH3]": "radical",
        "[13CH4]": "isotope",
        "[2H]OC": "isotope",
        "c1cccc1": "fails_sanitization",  # cannot be kekulized
        "C(C)(C)(C)(C)C": "fails_sanitization",  # pentavalent carbon
        "C1CC": "unparsable",  # unclosed ring: not SMILES
        "C" * 3000: "too_long",
    }
    feats = featurize(list(rows), vocab, n_jobs=1)
    assert feats.smiles == ["C[NH3+]", "C", "CO"]
    expected: dict[str, int] = {}
    for reason in rows.values():
        if reason:
            expected[reason] = expected.get(reason, 0) + 1
    assert feats.skipped == expected
    derived = derive_vocabulary(["[H][H]", "[CH3]", "[2H]OC", "CN"])  # H never becomes a class
    assert [atom.label for atom in derived.atom_types] == ["C", "N"]


def test_parallel_featurize_equals_serial(tiny_smiles, vocab):
    many = tiny_smiles * 250  # 5,000 rows: three chunks
    serial, parallel = featurize(many, vocab, n_jobs=1), featurize(many, vocab, n_jobs=2)
    assert serial.smiles == parallel.smiles
    assert torch.equal(serial.graphs.bonds, parallel.graphs.bonds)


def test_dataset_caches_by_file_hash_and_vocabulary(tmp_path, tiny_smiles):
    source = tmp_path / "mols.smi"
    source.write_text("\n".join(tiny_smiles[:10]) + "\n")
    first = MoleculeDataset(source, progress=False)
    assert len(first) == 10
    assert len(list((tmp_path / "processed").iterdir())) == 1
    again = MoleculeDataset(source, progress=False)  # reuses the cache
    assert again.smiles == first.smiles
    source.write_text("\n".join(tiny_smiles[:12]) + "\n")  # a changed file gets a new cache
    changed = MoleculeDataset(source, progress=False)
    assert len(changed) == 12
    bigger = Vocabulary(Vocabulary.qm9().atom_types, max_atoms=12)  # so does a new vocabulary
    assert len(MoleculeDataset(source, bigger, progress=False)) == 12
    assert len(list((tmp_path / "processed").iterdir())) == 3


def test_a_truncated_cache_is_rebuilt_not_a_crash(tmp_path, tiny_smiles):
    source = tmp_path / "mols.smi"
    source.write_text("\n".join(tiny_smiles[:10]) + "\n")
    first = MoleculeDataset(source, progress=False)
    cache = Path(first.processed_paths[0])
    cache.write_bytes(cache.read_bytes()[:100])  # what a reader racing a plain write could see
    again = MoleculeDataset(source, progress=False)
    assert again.smiles == first.smiles
    assert torch.equal(again.graphs.bonds, first.graphs.bonds)
    assert not [p for p in cache.parent.iterdir() if p.name.endswith(".tmp")]


def test_dataset_items_are_pyg_data_matching_the_dense_graphs(tmp_path, tiny_smiles, vocab):
    source = tmp_path / "mols.smi"
    source.write_text("\n".join(tiny_smiles) + "\n")
    dataset = MoleculeDataset(source, progress=False)
    item = dataset[8]  # [NH3+]CC(=O)[O-]
    assert item.smiles == "[NH3+]CC(=O)[O-]"
    assert item.x.shape == (5, vocab.n_atom_classes - 1)
    assert item.edge_index.shape == (2, 8) and item.edge_attr.shape == (8, vocab.n_bond_classes - 1)
    graph = data_to_graph(item, vocab)
    assert torch.equal(graph.atoms, dataset.graphs.atoms[8])
    assert torch.equal(graph.bonds, dataset.graphs.bonds[8])


def test_graph_data_round_trip_and_batch(graph_batch, vocab):
    for atoms, bonds in zip(graph_batch.atoms, graph_batch.bonds):
        back = data_to_graph(graph_to_data(MolGraph(atoms, bonds), vocab), vocab)
        assert torch.equal(back.atoms, atoms) and torch.equal(back.bonds, bonds)
    batch = graphs_to_batch(graph_batch, vocab)
    assert batch.num_graphs == 20
    assert batch.x.shape[0] == int((graph_batch.atoms > 0).sum())


def test_split_is_exact_disjoint_and_covers_all_rows():
    parts = split_rows(133_885)
    sizes = {k: len(v) for k, v in parts.items()}
    assert sizes == {"train": 107_108, "valid": 13_388, "test": 13_389}
    union = set().union(*(set(v.tolist()) for v in parts.values()))
    assert len(union) == 133_885


def test_shipped_split_files_match_the_documented_derivation():
    smiles = read_smiles(QM9_PATH)
    for name, rows in split_rows(len(smiles)).items():
        lines = gzip.decompress(QM9_SPLITS[name].read_bytes()).decode().splitlines()
        assert lines[0] == "row,smiles"
        assert lines[1:] == [f"{r},{smiles[r]}" for r in rows.tolist()]


def test_data_stats_reports_reasons_with_file_lines(tmp_path, vocab):
    path = tmp_path / "in.csv"
    path.write_text("smiles,name\nCCO,a\n,b\nC1CC,c\nClCCl,d\n")
    report = data_stats(path, vocab)
    assert (report["rows"], report["parsed"], report["encodable"]) == (4, 2, 1)
    assert report["round_trip_rate"] == 1.0
    assert report["skipped"]["unknown_atom"] == {
        "count": 1,
        "examples": [{"line": 5, "smiles": "ClCCl"}],
    }
    derived = data_stats(path)  # vocabulary derived from the file itself
    assert derived["encodable"] == 2
    assert ["Cl", 0] in derived["vocabulary"]["atom_types"]


def test_decoded_dataset_graphs_match_its_smiles(tmp_path, tiny_smiles, vocab):
    shutil.copy(QM9_PATH, tmp_path / "qm9.csv.gz")  # not featurised here: only the hash is read
    source = tmp_path / "mols.smi"
    source.write_text("\n".join(tiny_smiles) + "\n")
    dataset = MoleculeDataset(source, progress=False)
    assert [mol_to_smiles(m) for m in graphs_to_mols(dataset.graphs, vocab)] == dataset.smiles


def test_dataset_limit_featurises_only_the_first_rows(tmp_path, tiny_smiles):
    source = tmp_path / "mols.smi"
    source.write_text("\n".join(tiny_smiles) + "\n")
    head = MoleculeDataset(source, progress=False, limit=5)
    assert head.smiles == MoleculeDataset(source, progress=False).smiles[:5]
    assert head.rows.tolist() == [0, 1, 2, 3, 4]
    assert len(list((tmp_path / "processed").iterdir())) == 2  # the limit is in the cache key


def test_parallel_vocabulary_equals_serial(tiny_smiles):
    many = tiny_smiles * 300  # 6,000 rows: a worker pool
    assert derive_vocabulary(many, n_jobs=2) == derive_vocabulary(many, n_jobs=1)
