"""From SMILES files to graph tensors: featurise once, split, cache, and hand out PyG objects.

``featurize`` turns SMILES into dense ``MolGraph`` tensors (checking that each molecule decodes back
to the same canonical SMILES) and says which rows it skipped and why. ``MoleculeDataset`` is a
torch-geometric ``InMemoryDataset`` over any SMILES file that caches the featurised tensors under a
folder keyed by the file's hash and the vocabulary, so a changed file or vocabulary never reuses a
stale cache. ``split_rows`` is the documented, version-independent train/valid/test split.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from torch_geometric.data import Batch, Data, InMemoryDataset

from molgan.chem import parse_smiles, quiet_rdkit, read_molecule
from molgan.graph import (
    EncodingError,
    MolGraph,
    check_encodable,
    decode_arrays,
    mol_to_graph,
)
from molgan.io import (
    InputFileError,
    atomic_file,
    atomic_write_text,
    read_smiles,
    read_smiles_lines,
)
from molgan.order import check_atom_order, reorder_atoms
from molgan.progress import ProgressBar
from molgan.standardize import check_transforms, standardize
from molgan.vocab import AtomType, Vocabulary, atom_type_of

__all__ = [
    "DATA_DIR",
    "QM9_PATH",
    "QM9_SPLITS",
    "MOSES_SPLITS",
    "SPLIT_FRACTIONS",
    "Featurized",
    "featurize",
    "data_stats",
    "derive_vocabulary",
    "split_rows",
    "write_splits",
    "MoleculeDataset",
    "graph_to_data",
    "data_to_graph",
    "graphs_to_batch",
]

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
QM9_PATH = DATA_DIR / "qm9.csv.gz"
QM9_SPLITS = {
    name: DATA_DIR / "splits" / f"qm9_{name}.csv.gz" for name in ("train", "valid", "test")
}
MOSES_DIR = DATA_DIR / "moses"
MOSES_SPLITS = {  # MOSES (Polykovskiy et al. 2020): train, test, and the scaffold test (TestSF)
    name: MOSES_DIR / f"{name}.csv.gz" for name in ("train", "test", "test_scaffolds")
}
# 80/10/10, the usual QM9 proportions; the rows are ordered by a seeded hash, not a RNG stream, so
# the split never changes with the NumPy or Python version.
SPLIT_FRACTIONS = {"train": 0.8, "valid": 0.1, "test": 0.1}
SPLIT_SEED = 0
_CACHE_FORMAT = 2
_EXAMPLES_PER_REASON = 5
_EXAMPLE_WIDTH = 80  # characters of an example row in a skip report
_NOT_PARSED = ("empty", "too_long", "unparsable", "fails_sanitization")
_CHUNK = 2048  # SMILES per worker task
_MIN_POOL_ROWS = 4096  # below this, one process does the work


@dataclass
class Featurized:
    """The encodable rows of a SMILES file as dense tensors, and what was skipped.

    Attributes:
        graphs: ``atoms [M, N]`` and ``bonds [M, N, N]`` (int8) for the ``M`` kept rows.
        smiles: Canonical SMILES of the kept rows.
        rows: 0-based index of each kept row in the input (``[M]``, long).
        n_rows: Rows read from the input, kept or not.
        skipped: Reason -> count of skipped rows.
        examples: Reason -> up to five ``(row, smiles)`` examples.
        changed: Transform -> rows it changed (see :mod:`molgan.standardize`), kept or not.
    """

    graphs: MolGraph
    smiles: list[str]
    rows: torch.Tensor
    n_rows: int
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)

    @property
    def n_kept(self) -> int:
        """Rows kept (parsed, encodable and round-tripping exactly)."""
        return len(self.smiles)


def featurize(
    smiles: Sequence[str],
    vocab: Vocabulary,
    *,
    atom_order: str = "input",
    transforms: Sequence[str] = (),
    n_jobs: int | None = None,
    progress: bool = True,
) -> Featurized:
    """Parse, encode and round-trip-check SMILES in worker processes.

    A row is kept when RDKit parses it, it is a single fragment (after ``transforms``),
    ``mol_to_graph`` can encode it in ``vocab``, and decoding the graph gives back the same
    canonical SMILES. Otherwise it is counted under one reason: ``empty``, ``too_long`` (over
    :data:`molgan.chem.MAX_SMILES_LENGTH` characters, never parsed), ``unparsable``,
    ``fails_sanitization`` (:func:`molgan.chem.read_molecule`), ``multi_fragment``,
    ``dummy_atom``, ``no_heavy_atoms``, ``radical``, ``isotope``
    (:func:`molgan.graph.check_encodable`),
    ``too_many_atoms``, ``unknown_atom``, ``unknown_bond`` or ``round_trip_mismatch``.

    The dense tensors are filled in place as workers finish, so memory holds one ``int8`` copy
    of them (756 bytes per molecule at ``N = 27``) plus the SMILES.

    Args:
        smiles: The input strings, one per row.
        vocab: The vocabulary to encode in.
        atom_order: How atoms are numbered (:data:`molgan.order.ATOM_ORDERS`).
        transforms: Clean-up applied to each parsed molecule first
            (:data:`molgan.standardize.TRANSFORMS`); ``Featurized.changed`` counts their effect.
        n_jobs: Worker processes (default: all cores); 1 runs in this process.
        progress: Show a progress bar for large inputs.
    """
    transforms = check_transforms(transforms)
    tasks = [(vocab.to_dict(), atom_order, transforms, chunk) for chunk in _chunked(smiles)]
    merged = _Merger(len(smiles), vocab.max_atoms, smiles)
    show = progress and len(smiles) >= 20_000
    with ProgressBar(total=len(smiles), desc="featurising", unit="mol", disable=not show) as bar:
        for result in _map(_featurize_chunk, tasks, n_jobs, len(smiles)):
            merged.add(*result)
            bar.update(len(result[0]))
    return merged.result()


def data_stats(
    path: str | os.PathLike,
    vocab: Vocabulary | None = None,
    *,
    max_atoms: int | None = None,
    transforms: Sequence[str] = (),
    entries: tuple[list[str], list[int]] | None = None,
) -> dict:
    """Report how many rows of a SMILES file parse, encode and round-trip exactly, and why not.

    Args:
        path: A SMILES or CSV file.
        vocab: The vocabulary to encode in; ``None`` derives one from the file's parsable rows
            (see :func:`derive_vocabulary`).
        max_atoms: ``N`` of a derived vocabulary (default: the largest molecule in the file).
        transforms: Clean-up applied first (:mod:`molgan.standardize`), as ``[data] transforms``.
        entries: ``path``'s entries and their lines, if already read
            (:func:`molgan.io.read_smiles_lines`).

    Returns:
        ``rows``, ``parsed``, ``encodable``, ``round_trip_ok``, ``round_trip_rate`` (round-trip
        ok / encodable, ``None`` if nothing is encodable), ``kept_rate`` (round-trip ok / rows),
        ``vocabulary``, ``transforms``, ``changed`` (transform -> rows it changed) and
        ``skipped``: reason -> ``{"count", "examples": [{"line", "smiles"}]}`` with 1-based lines.
    """
    path = Path(path)
    smiles, lines = entries or read_smiles_lines(path)
    vocab = vocab or derive_vocabulary(smiles, max_atoms, transforms=transforms)
    feats = featurize(smiles, vocab, transforms=transforms)
    not_parsed = sum(feats.skipped.get(r, 0) for r in _NOT_PARSED)
    parsed = feats.n_rows - not_parsed
    encodable = feats.n_kept + feats.skipped.get("round_trip_mismatch", 0)
    return {
        "input": str(path),
        "rows": feats.n_rows,
        "parsed": parsed,
        "encodable": encodable,
        "round_trip_ok": feats.n_kept,
        "round_trip_rate": feats.n_kept / encodable if encodable else None,
        "kept_rate": feats.n_kept / feats.n_rows,
        "vocabulary": vocab.to_dict(),
        "transforms": list(check_transforms(transforms)),
        "changed": feats.changed,
        "skipped": {
            reason: {
                "count": count,
                "examples": [
                    {"line": lines[row], "smiles": text} for row, text in feats.examples[reason]
                ],
            }
            for reason, count in sorted(feats.skipped.items(), key=lambda kv: -kv[1])
        },
    }


def derive_vocabulary(
    smiles: Sequence[str],
    max_atoms: int | None = None,
    *,
    transforms: Sequence[str] = (),
    n_jobs: int | None = None,
    aromatic: bool = False,
) -> Vocabulary:
    """The vocabulary of the entries of ``smiles`` that parse into one fragment.

    Each entry is parsed (in worker processes for large inputs) and cleaned by ``transforms``
    first, so a salt's counter-ion, dropped by ``largest_fragment``, never enters the vocabulary;
    entries that stay multi-fragment are left out, as :func:`featurize` skips them. See
    ``Vocabulary.from_mols`` for the class order, and for ``aromatic`` (aromatic bonds kept).

    Examples:
        >>> vocab = derive_vocabulary(["CCO", "", "C1CC", "[NH3+]CC(=O)[O-]"])
        >>> [a.label for a in vocab.atom_types]
        ['C', 'N+', 'O', 'O-']
        >>> vocab = derive_vocabulary(["CCN.Cl"], transforms=["largest_fragment"])
        >>> [a.label for a in vocab.atom_types]
        ['C', 'N']
    """
    transforms = check_transforms(transforms)
    seen: set[AtomType] = set()
    largest = 0
    tasks = [(transforms, aromatic, chunk) for chunk in _chunked(smiles)]
    for atoms, n in _map(_atom_types_chunk, tasks, n_jobs, len(smiles)):
        seen |= atoms
        largest = max(largest, n)
    if not seen:
        raise ValueError("no parsable single-fragment molecule to derive a vocabulary from")
    return Vocabulary.from_atom_types(seen, max_atoms or largest, aromatic)


def split_rows(n_rows: int, seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """The train/valid/test split of ``n_rows`` rows (80/10/10), as sorted row indices.

    Rows are ordered by ``sha256(f"{seed}:{row}")`` and cut at exact sizes, so the split depends
    only on the row count and the seed, never on a library's random-number stream.

    Examples:
        >>> parts = split_rows(10)
        >>> [len(parts[k]) for k in ("train", "valid", "test")]
        [8, 1, 1]
        >>> sorted(np.concatenate(list(parts.values())).tolist()) == list(range(10))
        True
    """
    keys = [hashlib.sha256(f"{seed}:{row}".encode()).digest()[:8] for row in range(n_rows)]
    order = np.array(sorted(range(n_rows), key=keys.__getitem__), dtype=np.int64)
    n_train = round(SPLIT_FRACTIONS["train"] * n_rows)
    n_valid = round(SPLIT_FRACTIONS["valid"] * n_rows)
    return {
        "train": np.sort(order[:n_train]),
        "valid": np.sort(order[n_train : n_train + n_valid]),
        "test": np.sort(order[n_train + n_valid :]),
    }


def write_splits(source: str | os.PathLike, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``<stem>_{train,valid,test}.csv.gz`` (columns ``row,smiles``) from :func:`split_rows`.

    ``row`` is the 0-based data row of ``source`` (for QM9, ``mol_id - 1``). The files are
    gzip-compressed without a timestamp, so rewriting them gives identical bytes.
    """
    source, out_dir = Path(source), Path(out_dir)
    smiles = read_smiles(source)
    stem = source.name.split(".")[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, rows in split_rows(len(smiles)).items():
        text = "row,smiles\n" + "".join(f"{r},{smiles[r]}\n" for r in rows.tolist())
        paths[name] = out_dir / f"{stem}_{name}.csv.gz"
        paths[name].write_bytes(gzip.compress(text.encode(), mtime=0))
    return paths


class MoleculeDataset(InMemoryDataset):
    """A torch-geometric dataset of the molecules in one SMILES or CSV file.

    The file is featurised once (see :func:`featurize`) and cached under
    ``root/processed/<file stem>-<sha256 of the file>-<vocabulary fingerprint>-<options>/``. Items
    are PyG ``Data`` objects (see :func:`graph_to_data`); :attr:`graphs` gives all dense tensors at
    once, which is what the GAN trainer samples batches from.

    Args:
        source: The SMILES/CSV file (default: the bundled QM9).
        vocab: The vocabulary (default: ``Vocabulary.qm9()``).
        root: Where the ``processed`` folder goes (default: beside ``source``).
        progress: Show a progress bar while featurising.
        atom_order: How atoms are numbered (:data:`molgan.order.ATOM_ORDERS`).
        transforms: Clean-up of each molecule before encoding (:mod:`molgan.standardize`).
        limit: Featurise only the first ``limit`` rows of the file (a subset of a large set).

    The atom order, the transforms and the limit are part of the cache key.
    """

    def __init__(
        self,
        source: str | os.PathLike = QM9_PATH,
        vocab: Vocabulary | None = None,
        root: str | os.PathLike | None = None,
        progress: bool = True,
        atom_order: str = "input",
        transforms: Sequence[str] = (),
        limit: int | None = None,
    ) -> None:
        self.source = Path(source)
        self.vocab = vocab or Vocabulary.qm9()
        self.progress = progress
        self.atom_order = atom_order
        self.transforms = check_transforms(transforms)
        self.limit = limit
        check_atom_order(atom_order)  # before any work, not in the featurising workers
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be positive, got {limit}")
        self._key = "-".join(
            [
                self.source.name.split(".")[0],
                hashlib.sha256(_read_bytes(self.source)).hexdigest()[:16],
                self.vocab.fingerprint,
                atom_order,
                *self.transforms,
                *([] if limit is None else [f"first{limit}"]),
                f"v{_CACHE_FORMAT}",
            ]
        )
        super().__init__(str(root or self.source.parent), log=False)
        try:
            cache = torch.load(self.processed_paths[0], weights_only=True)
        except RuntimeError:  # a cache left half-written by an older version: rebuild it
            logger.warning("rebuilding the unreadable cache %s", self.processed_paths[0])
            self.process()
            cache = torch.load(self.processed_paths[0], weights_only=True)
        self.graphs = MolGraph(cache["atoms"], cache["bonds"])
        self.rows = cache["rows"]
        meta = json.loads(Path(self.processed_paths[1]).read_text())
        self.smiles = meta["smiles"]
        self.skipped: dict[str, int] = meta["skipped"]
        self.changed: dict[str, int] = meta["changed"]

    @property
    def processed_dir(self) -> str:
        """The cache folder for this file and vocabulary."""
        return os.path.join(self.root, "processed", self._key)

    @property
    def raw_file_names(self) -> list[str]:
        """None: the source file is read where it is."""
        return []

    @property
    def processed_file_names(self) -> list[str]:
        """The tensors (``graphs.pt``) and the SMILES with the skip report (``meta.json``)."""
        return ["graphs.pt", "meta.json"]

    def process(self) -> None:
        """Featurise the source file and write the cache.

        Both files are written atomically, so runs that start together on one file never read
        a half-written cache; each may featurise it, and the last rename wins.
        """
        smiles = read_smiles(self.source)
        feats = featurize(
            smiles[: self.limit],
            self.vocab,
            atom_order=self.atom_order,
            transforms=self.transforms,
            progress=self.progress,
        )
        del smiles
        for reason, count in feats.skipped.items():
            logger.info("skipped %d of %d rows of %s: %s", count, feats.n_rows, self.source, reason)
        for name, count in feats.changed.items():
            logger.info("%s changed %d of %d rows of %s", name, count, feats.n_rows, self.source)
        meta = {
            "source": str(self.source),
            "vocabulary": self.vocab.to_dict(),
            "atom_order": self.atom_order,
            "transforms": list(self.transforms),
            "limit": self.limit,
            "n_rows": feats.n_rows,
            "skipped": feats.skipped,
            "changed": feats.changed,
            "smiles": feats.smiles,
        }
        atomic_write_text(self.processed_paths[1], json.dumps(meta))
        tensors = {"atoms": feats.graphs.atoms, "bonds": feats.graphs.bonds, "rows": feats.rows}
        with atomic_file(self.processed_paths[0]) as handle:  # no second copy in memory
            torch.save(tensors, handle)

    def len(self) -> int:
        """Number of molecules kept."""
        return len(self.smiles)

    def get(self, idx: int) -> Data:
        """Molecule ``idx`` as a PyG ``Data`` object."""
        graph = MolGraph(self.graphs.atoms[idx], self.graphs.bonds[idx])
        return graph_to_data(graph, self.vocab, smiles=self.smiles[idx])


def graph_to_data(graph: MolGraph, vocab: Vocabulary, smiles: str | None = None) -> Data:
    """Convert one dense graph to a sparse PyG ``Data`` object (padding atoms dropped).

    Features match :class:`MoleculeDataset`: ``x [n, T-1]`` one-hot atom classes (padding
    excluded), ``edge_index [2, E]`` with both directions of every bond, ``edge_attr [E, Y-1]``
    one-hot bond classes, plus ``atom_ids [n]`` and ``bond_ids [E]`` (class ids as in ``vocab``).
    """
    real = (graph.atoms > 0).nonzero().flatten()
    atom_ids = graph.atoms[real].long()  # [n]
    bonds = graph.bonds[real][:, real].long()  # [n, n]
    src, dst = bonds.nonzero(as_tuple=True)
    bond_ids = bonds[src, dst]  # [E]
    data = Data(
        x=torch.nn.functional.one_hot(atom_ids - 1, vocab.n_atom_classes - 1).float(),
        edge_index=torch.stack([src, dst]),
        edge_attr=torch.nn.functional.one_hot(bond_ids - 1, vocab.n_bond_classes - 1).float(),
        atom_ids=atom_ids,
        bond_ids=bond_ids,
        num_nodes=len(real),
    )
    if smiles is not None:
        data.smiles = smiles
    return data


def data_to_graph(data: Data, vocab: Vocabulary) -> MolGraph:
    """Convert a ``Data`` object made by :func:`graph_to_data` back to a dense graph."""
    n = int(data.num_nodes)
    if n > vocab.max_atoms:
        raise ValueError(f"graph has {n} atoms, more than max_atoms={vocab.max_atoms}")
    atoms = torch.zeros(vocab.max_atoms, dtype=torch.int8)
    atoms[:n] = data.atom_ids.to(torch.int8)
    bonds = torch.zeros(vocab.max_atoms, vocab.max_atoms, dtype=torch.int8)
    bonds[data.edge_index[0], data.edge_index[1]] = data.bond_ids.to(torch.int8)
    return MolGraph(atoms, bonds)


def graphs_to_batch(graphs: MolGraph, vocab: Vocabulary) -> Batch:
    """Convert a dense batch (``atoms [B, N]``, ``bonds [B, N, N]``) to a PyG ``Batch``."""
    items = [MolGraph(a, b) for a, b in zip(graphs.atoms.cpu(), graphs.bonds.cpu())]
    return Batch.from_data_list([graph_to_data(g, vocab) for g in items])


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise InputFileError(f"{path}: cannot read ({err.strerror})") from None


def _chunked(smiles: Sequence[str]) -> list[list[str]]:
    return [list(smiles[i : i + _CHUNK]) for i in range(0, len(smiles), _CHUNK)]


def _map(work, tasks: list, n_jobs: int | None, n_rows: int) -> Iterator:
    """``work`` over ``tasks`` in order: in forked workers for large inputs, else here."""
    n_jobs = n_jobs or os.cpu_count() or 1
    if n_jobs > 1 and len(tasks) > 1 and n_rows >= _MIN_POOL_ROWS:
        with multiprocessing.get_context("fork").Pool(min(n_jobs, len(tasks))) as pool:
            yield from pool.imap(work, tasks)
    else:
        yield from map(work, tasks)


def _atom_types_chunk(
    task: tuple[tuple[str, ...], bool, list[str]],
) -> tuple[set[AtomType], int]:
    """Worker: the atom classes and the largest heavy-atom count of one chunk's molecules."""
    transforms, aromatic, smiles = task
    seen: set[AtomType] = set()
    largest = 0
    with quiet_rdkit():
        for text in smiles:
            mol = parse_smiles(text)
            if mol is None:
                continue
            mol = standardize(mol, transforms)[0]
            if len(Chem.GetMolFrags(mol)) > 1:
                continue
            try:
                check_encodable(mol)
            except EncodingError:
                continue
            largest = max(largest, mol.GetNumAtoms())
            seen.update(atom_type_of(a, aromatic) for a in mol.GetAtoms())
    return seen, largest


def _featurize_chunk(
    task: tuple[dict, str, tuple[str, ...], list[str]],
) -> tuple[list[str], list[str], list[tuple[str, ...]], bytes]:
    """Worker: per row a skip reason ("" = kept), canonical SMILES and changing transforms.

    Also returns the kept graphs' bytes. Uses NumPy only (no torch ops), because torch's thread
    pool is not safe in forked workers.
    """
    vocab_dict, atom_order, transforms, smiles = task
    vocab = Vocabulary.from_dict(vocab_dict)
    reasons, canon, changes, graphs = [], [], [], []
    with quiet_rdkit():
        for text in smiles:
            reason, graph, can, changed = _encode_one(text, vocab, atom_order, transforms)
            reasons.append(reason)
            canon.append(can)
            changes.append(changed)
            if graph is not None:
                graphs.append(graph)
        if not graphs:
            return reasons, canon, changes, b""
        atoms = np.stack([g.atoms.numpy() for g in graphs])  # [K, N]
        bonds = np.stack([g.bonds.numpy() for g in graphs])  # [K, N, N]
        decoded = iter(decode_arrays(atoms, bonds, vocab))
        keep = []
        for k, reason in enumerate(reasons):
            if reason:
                continue
            mol = next(decoded)
            keep.append(mol is not None and Chem.MolToSmiles(mol) == canon[k])
            if not keep[-1]:
                reasons[k] = "round_trip_mismatch"
    return reasons, canon, changes, atoms[keep].tobytes() + bonds[keep].tobytes()


def _encode_one(
    text: str, vocab: Vocabulary, atom_order: str = "input", transforms: Sequence[str] = ()
) -> tuple[str, MolGraph | None, str, tuple[str, ...]]:
    mol, reason = read_molecule(text)
    if mol is None:
        return reason, None, "", ()
    mol, changed = standardize(mol, transforms)
    canon = Chem.MolToSmiles(mol)
    if "." in canon:
        return "multi_fragment", None, canon, changed
    try:
        return "", mol_to_graph(reorder_atoms(mol, atom_order), vocab), canon, changed
    except EncodingError as err:
        return err.reason, None, canon, changed


def _shorten(text: str, width: int = _EXAMPLE_WIDTH) -> str:
    """``text`` cut to ``width`` characters for a report (the cut ones end in an ellipsis)."""
    return text if len(text) <= width else text[: width - 1] + "…"


class _Merger:
    """Collects the workers' results in row order into preallocated ``int8`` arrays."""

    def __init__(self, n_rows: int, n_atoms: int, smiles: Sequence[str]) -> None:
        self.atoms = np.zeros((n_rows, n_atoms), np.int8)
        self.bonds = np.zeros((n_rows, n_atoms, n_atoms), np.int8)
        self.smiles = smiles
        self.n_atoms = n_atoms
        self.kept: list[str] = []
        self.rows: list[int] = []
        self.skipped: dict[str, int] = {}
        self.examples: dict[str, list[tuple[int, str]]] = {}
        self.changed: dict[str, int] = {}
        self.row = 0

    def add(
        self,
        reasons: list[str],
        canon: list[str],
        changes: list[tuple[str, ...]],
        blob: bytes,
    ) -> None:
        """Add one chunk's result (the next rows of the input)."""
        n, start = self.n_atoms, len(self.kept)
        k = reasons.count("")
        flat = np.frombuffer(blob, dtype=np.int8)
        self.atoms[start : start + k] = flat[: k * n].reshape(k, n)
        self.bonds[start : start + k] = flat[k * n :].reshape(k, n, n)
        for reason, can, changed in zip(reasons, canon, changes):
            for name in changed:
                self.changed[name] = self.changed.get(name, 0) + 1
            if reason:
                self.skipped[reason] = self.skipped.get(reason, 0) + 1
                shown = self.examples.setdefault(reason, [])
                if len(shown) < _EXAMPLES_PER_REASON:
                    shown.append((self.row, _shorten(self.smiles[self.row])))
            else:
                self.kept.append(can)
                self.rows.append(self.row)
            self.row += 1

    def result(self) -> Featurized:
        """The merged rows, in the preallocated arrays shrunk in place to ``n_kept`` rows."""
        k = len(self.kept)
        # No views of the arrays exist yet, so they can shrink without a copy (a view would make
        # torch.save write the whole preallocated storage).
        self.atoms.resize((k, *self.atoms.shape[1:]), refcheck=False)
        self.bonds.resize((k, *self.bonds.shape[1:]), refcheck=False)
        graphs = MolGraph(torch.from_numpy(self.atoms), torch.from_numpy(self.bonds))
        rows = torch.tensor(self.rows, dtype=torch.long)
        return Featurized(
            graphs, self.kept, rows, self.row, self.skipped, self.examples, self.changed
        )
