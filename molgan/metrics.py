"""Set-level metrics of generated molecules: strict validity, novelty, MOSES and GuacaMol suites.

:func:`evaluate` parses each distinct sample once (in worker processes), reduces a set to its unique
strictly valid molecules with their multiplicities, and compares the generated set with a reference
set: FCD, SNN, Frag, Scaf, IntDiv and property distances (MOSES, Polykovskiy et al. 2020 Front.
Pharmacol.), the KL and FCD scores (GuacaMol, Brown et al. 2019 JCIM). The reference's statistics
and the canonical training set are cached on disk (``.npz`` / gzip text, never pickle), keyed by a
hash of their content.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import math
import os
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import IO, NamedTuple

import fcd
import numpy as np
import numpy.typing as npt
import torch
from rdkit import Chem
from rdkit.Chem import QED, Descriptors, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold
from rdkit.Contrib.SA_Score import sascorer
from scipy.stats import entropy, gaussian_kde, wasserstein_distance

from molgan.chem import canonical_smiles, parse_smiles, quiet_rdkit, strict_smiles
from molgan.filters import passes_moses
from molgan.progress import ProgressBar

__all__ = [
    "KL_DESCRIPTORS",
    "evaluate",
    "validity",
    "uniqueness",
    "novelty",
    "canonical_training_set",
    "frechet_distance",
    "tanimoto_matrix",
    "internal_diversity",
]

logger = logging.getLogger(__name__)

CACHE_VERSION = "molgan.metrics/1"  # bump when a cached quantity changes definition
MORGAN_RADIUS, MORGAN_BITS = 2, 1024  # MOSES fingerprints for SNN and IntDiv
ECFP4_BITS = 4096  # GuacaMol get_fingerprints, used for the KL benchmark's internal similarity
SCAFFOLD_MIN_RINGS = 2  # MOSES compute_scaffolds(min_rings=2), as ScafMetric calls it
KL_DESCRIPTORS = (  # GuacaMol KLDivBenchmark; the first four are continuous, the rest are counts
    "BertzCT",
    "MolLogP",
    "MolWt",
    "TPSA",
    "NumHAcceptors",
    "NumHDonors",
    "NumRotatableBonds",
    "NumAliphaticRings",
    "NumAromaticRings",
)
N_CONTINUOUS = 4
KDE_GRID_POINTS, HISTOGRAM_BINS, KL_EPSILON = 1000, 10, 1e-10  # GuacaMol continuous/discrete_kldiv
KL_SAMPLE_SIZE = 10_000  # GuacaMol KLDivBenchmark compares 10,000 molecules per set
KL_SEED = 42  # GuacaMol get_random_subset(seed=42) (the same seed, not the same draw)
FCD_SCORE_SCALE = 0.2  # GuacaMol FCD benchmark score = exp(-0.2 * FCD)
CHUNK_SIZE = 256  # samples per worker task
MIN_POOL_SAMPLES, MIN_PROGRESS_SAMPLES = 500, 2000  # below these: no pool, no progress bar
CHEMNET_BATCH = 1024  # SMILES per ChemNet call (one progress step)
UNIQUE_AT = (1_000, 10_000)  # MOSES unique@1k and unique@10k
SIMILARITY_BLOCK = 2**22  # float32 entries per Tanimoto block (16 MiB: cache-friendly)


def evaluate(
    generated: Sequence[str],
    train: Sequence[str] | None = None,
    reference: Sequence[str] | None = None,
    *,
    scaffold_reference: Sequence[str] | None = None,
    n_jobs: int | None = None,
    progress: bool = True,
    cache_dir: Path | None = None,
) -> dict[str, float | int | None]:
    """Strict set-level metrics of generated SMILES against a training and a reference set.

    Validity, uniqueness and novelty are defined as in :func:`validity`, :func:`uniqueness` and
    :func:`novelty`; ``unique@1k`` and ``unique@10k`` are the uniqueness of the first 1,000 and
    10,000 valid samples (MOSES; ``None`` when fewer are valid). The rest are computed over the
    strictly valid generated molecules, with duplicates, as MOSES does (unless noted), Morgan
    fingerprints radius 2, 1024 bits:

    - ``fcd``: Fréchet ChemNet Distance (Preuer et al. 2018 JCIM) between the ChemNet activations
      of the canonical SMILES and those of the valid reference; ``fcd_score = exp(-0.2 fcd)``
      (GuacaMol).
    - ``snn``: mean over molecules of the maximum Tanimoto similarity to the reference (MOSES).
    - ``frag`` / ``scaf``: cosine similarity of BRICS fragment counts (every fragment of
      ``FragmentOnBRICSBonds``, repeats included) / of Bemis-Murcko scaffold counts (scaffolds with
      fewer than ``SCAFFOLD_MIN_RINGS`` rings ignored) with the reference's, as MOSES's code does.
    - ``intdiv1`` / ``intdiv2``: :func:`internal_diversity` with p = 1, 2 (MOSES).
    - ``filters``: share passing :func:`molgan.filters.passes_moses`, MOSES's MCF + PAINS filter.
    - ``qed_mean``, ``sa_mean``, ``logp_mean``, ``weight_mean``: means of RDKit QED, SA score
      (Ertl & Schuffenhauer), Crippen logP and molecular weight; ``w1_*``: their Wasserstein-1
      distance to the reference's (MOSES).
    - ``kl_score``: GuacaMol's KL benchmark over unique molecules, mean of ``exp(-KL(ref || gen))``
      over ``KL_DESCRIPTORS`` and the internal similarity (ECFP4, 4096 bits): KDE on a 1000-point
      grid for continuous values, 10-bin histograms for counts; on the first 10,000 unique
      generated molecules and a seeded random 10,000 of the unique reference ones (GuacaMol also
      drops stereo before removing duplicates; molgan's graphs carry none).

    Each distinct sample string is parsed once, in ``n_jobs`` worker processes, which compute all
    its per-molecule quantities; each unique molecule then runs through ChemNet once.

    Args:
        generated: One string per sample; ``""`` and unparsable strings are invalid samples.
        train: Training SMILES for novelty (canonicalised here, cached).
        reference: Reference SMILES (e.g. a test split) for the distribution metrics (cached).
        scaffold_reference: A second reference, MOSES's scaffold test set (TestSF): adds
            ``fcd_testsf``, ``snn_testsf``, ``frag_testsf`` and ``scaf_testsf``.
        n_jobs: Worker processes; default ``min(2, os.cpu_count())``.
        progress: Show tqdm bars (stderr) for large inputs.
        cache_dir: Cache folder; default ``$MOLGAN_CACHE`` or ``~/.cache/molgan``. Unwritable: no
            caching.

    Returns:
        ``n_samples``, ``n_valid``, ``n_unique`` and the metrics above as Python ints/floats;
        ``None`` where undefined (no valid molecule, no ``train`` or ``reference``), never NaN.
    """
    n_jobs = n_jobs or min(2, os.cpu_count() or 1)
    cache = Path(cache_dir or os.environ.get("MOLGAN_CACHE", "~/.cache/molgan")).expanduser()
    gen = _Profile.from_samples(list(generated), n_jobs, progress, "generated")
    train_set = None if train is None else canonical_training_set(train, n_jobs, progress, cache)
    ref, ref_sf = (
        None if smiles is None else _Reference.load_or_build(list(smiles), n_jobs, progress, cache)
        for smiles in (reference, scaffold_reference)
    )
    n_valid, n_unique = int(gen.counts.sum()), len(gen.smiles)
    novel = None if train_set is None else sum(s not in train_set for s in gen.smiles)
    passes = _map_chunks(_filter_chunk, gen.smiles, n_jobs, progress, "filters")
    # The generated set's ChemNet statistics serve both references: computed once.
    has_reference = gen.smiles and (ref is not None or ref_sf is not None)
    gen_chemnet = _chemnet_statistics(gen, progress) if has_reference else None
    metrics = {
        "n_samples": len(generated),
        "n_valid": n_valid,
        "n_unique": n_unique,
        "validity": _ratio(n_valid, len(generated)),
        "uniqueness": _ratio(n_unique, n_valid),
        **{
            f"unique@{k // 1000}k": _ratio(len(set(gen.first_valid[:k])), k)
            if n_valid >= k
            else None
            for k in UNIQUE_AT
        },
        "novelty": None if novel is None else _ratio(novel, n_unique),
        "filters": np.average(passes, weights=gen.counts) if passes else None,
        **_intrinsic_metrics(gen),
        **_reference_metrics(gen, gen_chemnet, ref),
    }
    if scaffold_reference is not None:
        sf = _reference_metrics(gen, gen_chemnet, ref_sf, keys=("fcd", "snn", "frag", "scaf"))
        metrics |= {f"{key}_testsf": value for key, value in sf.items()}
    return {key: _finite_or_none(value) for key, value in metrics.items()}


def validity(samples: Sequence[str]) -> float | None:
    """Fraction of samples that are strictly valid molecules (``None`` for no samples).

    Strictly valid (:func:`molgan.chem.strict_smiles`): RDKit parses and sanitises the SMILES, with
    no valency fix, it has one connected component and no ``*`` atom. Stricter than MolGAN (De Cao
    & Kipf 2018), MOSES and GuacaMol, which count any sanitisable SMILES; empty strings count as
    invalid samples.

    Examples:
        >>> validity(["CCO", "CC.O", "*CC", "C1CC", "", "C(C)(C)(C)(C)C", "c1ccoc1", "OCC"])
        0.375
    """
    return _ratio(sum(s is not None for s in _strict_canonical(samples)), len(samples))


def uniqueness(samples: Sequence[str]) -> float | None:
    """Distinct canonical SMILES over strictly valid samples (MOSES unique@all; None if none valid).

    Examples:
        >>> uniqueness(["CCO", "OCC", "C1CC", "CCN"])
        0.6666666666666666
    """
    valid = [s for s in _strict_canonical(samples) if s is not None]
    return _ratio(len(set(valid)), len(valid))


def novelty(samples: Sequence[str], train: Sequence[str]) -> float | None:
    """Share of the distinct valid canonical SMILES absent from the canonicalised ``train`` (MOSES).

    Examples:
        >>> novelty(["CCO", "OCC", "CCN", "C1CC"], train=["C(C)O"])
        0.5
    """
    unique = {s for s in _strict_canonical(samples) if s is not None}
    with quiet_rdkit():
        known = {canonical_smiles(s) for s in train}
    return _ratio(len(unique - known), len(unique))


def canonical_training_set(
    train: Sequence[str],
    n_jobs: int | None = None,
    progress: bool = True,
    cache_dir: Path | None = None,
) -> set[str]:
    """Canonical SMILES of the parsable molecules of ``train``: what novelty is measured against.

    Built in ``n_jobs`` worker processes and cached as :func:`evaluate` caches it (a large set,
    such as MOSES's 1.58 M training molecules, is canonicalised once per machine).

    Examples:
        >>> sorted(canonical_training_set(["OCC", "C1CC", "c1ccccc1"], n_jobs=1, progress=False))
        ['CCO', 'c1ccccc1']
    """
    n_jobs = n_jobs or min(2, os.cpu_count() or 1)
    cache = Path(cache_dir or os.environ.get("MOLGAN_CACHE", "~/.cache/molgan")).expanduser()
    return _train_set(list(train), n_jobs, progress, cache)


def frechet_distance(
    mu1: npt.ArrayLike, sigma1: npt.ArrayLike, mu2: npt.ArrayLike, sigma2: npt.ArrayLike
) -> float:
    """Fréchet distance between Gaussians ``N(mu1, sigma1)`` and ``N(mu2, sigma2)`` (FCD's formula).

    ``||mu1 - mu2||^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))`` (Preuer et al. 2018 JCIM).
    ``tr((sigma1 sigma2)^(1/2))`` is the sum of square roots of the eigenvalues of the symmetric
    ``sigma1^(1/2) sigma2 sigma1^(1/2)`` (similar to ``sigma1 sigma2``), clipped at 0, so singular
    covariances need no ``sqrtm`` or epsilon.

    Args:
        mu1: Mean, shape ``[D]``.
        sigma1: Covariance, symmetric positive semi-definite, shape ``[D, D]``.
        mu2: Mean, shape ``[D]``.
        sigma2: Covariance, shape ``[D, D]``.

    Examples:
        >>> frechet_distance([0.0], [[1.0]], [1.0], [[4.0]])  # 1 + 1 + 4 - 2 * sqrt(1 * 4)
        2.0
    """
    mu1, mu2 = (np.atleast_1d(np.asarray(mu, np.float64)) for mu in (mu1, mu2))
    sigma1, sigma2 = (np.atleast_2d(np.asarray(sigma, np.float64)) for sigma in (sigma1, sigma2))
    eigenvalues, eigenvectors = np.linalg.eigh(sigma1)
    sqrt_sigma1 = (eigenvectors * np.sqrt(eigenvalues.clip(min=0))) @ eigenvectors.T
    product = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
    trace_sqrt = np.sqrt(np.linalg.eigvalsh((product + product.T) / 2).clip(min=0)).sum()
    diff = mu1 - mu2
    distance = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
    return max(0.0, float(distance))  # below 0 only by rounding (square roots of ~0 eigenvalues)


def tanimoto_matrix(fps_a: torch.Tensor, fps_b: torch.Tensor) -> torch.Tensor:
    """Tanimoto similarities ``[N, M]`` of 0/1 fingerprints ``fps_a [N, D]`` and ``fps_b [M, D]``.

    Exact in float32 (counts below 2**24); two empty fingerprints have similarity 1, as in MOSES.

    Examples:
        >>> fps = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
        >>> tanimoto_matrix(fps, fps).tolist()
        [[1.0, 0.3333333432674408], [0.3333333432674408, 1.0]]
    """
    return torch.cat([block for _, block in _similarity_blocks(fps_a, fps_b)])


def internal_diversity(fps: torch.Tensor, p: int = 1) -> float:
    """IntDiv_p: ``1 - (mean over all ordered pairs (i, j), i = j included, of T_ij^p)^(1/p)``.

    The formula of MOSES (Polykovskiy et al. 2020); MOSES's code instead averages the per-molecule
    roots ``(mean_j T_ij^p)^(1/p)``, which differs for p > 1.

    Args:
        fps: 0/1 fingerprints ``[N, D]`` of the set, duplicates included.
        p: Power; 1 and 2 are the MOSES IntDiv1 and IntDiv2.

    Examples:
        >>> internal_diversity(torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
        0.0
        >>> internal_diversity(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))  # T = [[1, 0], [0, 1]]
        0.5
    """
    return 1 - _mean_tanimoto_powers(fps, torch.ones(len(fps)), (p,))[0] ** (1 / p)


class _Record(NamedTuple):
    """Everything the metrics need from one strictly valid molecule (computed in a worker)."""

    smiles: str  # canonical SMILES
    fp: np.ndarray  # uint8 [MORGAN_BITS / 8], packed Morgan bits
    ecfp4: np.ndarray  # uint8 [ECFP4_BITS / 8], packed ECFP4 bits
    qed: float
    sa: float
    descriptors: tuple[float, ...]  # in KL_DESCRIPTORS order
    scaffold: str | None  # None: fewer than SCAFFOLD_MIN_RINGS rings
    fragments: list[str]  # BRICS fragments, repeats kept


@dataclass(frozen=True)
class _Profile:
    """A set reduced to its unique valid molecules (rows) and how many samples each stands for."""

    smiles: list[str]  # canonical SMILES [U]
    counts: np.ndarray  # int64 [U]; sums to the number of valid samples
    fps: np.ndarray  # uint8 [U, MORGAN_BITS / 8]
    ecfp4: np.ndarray  # uint8 [U, ECFP4_BITS / 8]
    qed: np.ndarray  # float64 [U]
    sa: np.ndarray  # float64 [U]
    descriptors: np.ndarray  # float64 [U, len(KL_DESCRIPTORS)]
    scaffolds: dict[str, int]  # scaffold -> valid samples with it
    fragments: dict[str, int]  # fragment -> occurrences over valid samples
    first_valid: list[str] = field(default_factory=list)  # of the first max(UNIQUE_AT) valid

    @classmethod
    def from_samples(cls, samples: list[str], n_jobs: int, progress: bool, what: str) -> _Profile:
        distinct = list(dict.fromkeys(samples))  # each distinct string is parsed once
        _describe("CC")  # loads RDKit's lazy tables (SA fragment scores) once, before any fork
        records = _map_chunks(_describe_chunk, distinct, n_jobs, progress, what)
        described = dict(zip(distinct, records, strict=True))
        valid = [r.smiles for r in map(described.get, samples) if r is not None]
        counts = Counter(valid)
        records = {r.smiles: r for r in described.values() if r is not None}
        rows = [records[s] for s in counts]
        scaffolds, fragments = Counter(), Counter()
        for r in rows:
            if r.scaffold is not None:
                scaffolds[r.scaffold] += counts[r.smiles]
            for fragment in r.fragments:
                fragments[fragment] += counts[r.smiles]
        return cls(
            smiles=list(counts),
            counts=np.array(list(counts.values()), dtype=np.int64),
            fps=np.array([r.fp for r in rows], np.uint8).reshape(-1, MORGAN_BITS // 8),
            ecfp4=np.array([r.ecfp4 for r in rows], np.uint8).reshape(-1, ECFP4_BITS // 8),
            qed=np.array([r.qed for r in rows], np.float64),
            sa=np.array([r.sa for r in rows], np.float64),
            descriptors=np.array([r.descriptors for r in rows]).reshape(-1, len(KL_DESCRIPTORS)),
            scaffolds=dict(scaffolds),
            fragments=dict(fragments),
            first_valid=valid[: max(UNIQUE_AT)],
        )

    @property
    def logp(self) -> np.ndarray:
        return self.descriptors[:, KL_DESCRIPTORS.index("MolLogP")]

    @property
    def weight(self) -> np.ndarray:
        return self.descriptors[:, KL_DESCRIPTORS.index("MolWt")]


@dataclass(frozen=True)
class _Reference:
    """A reference set's profile plus its expensive statistics, cached as one ``.npz``."""

    profile: _Profile
    kl_rows: np.ndarray  # int64 [K]: the unique molecules the KL score uses
    nn_similarity: np.ndarray  # [K] max ECFP4 Tanimoto to another of them (GuacaMol)
    chemnet: tuple[np.ndarray, np.ndarray] | None  # ChemNet mean [512], covariance [512, 512]

    @classmethod
    def load_or_build(
        cls, smiles: list[str], n_jobs: int, progress: bool, cache: Path
    ) -> _Reference:
        path = cache / f"reference-{_content_key('reference', smiles)}.npz"
        try:
            with np.load(path, allow_pickle=False) as data:
                reference = cls._from_arrays(data)
            logger.info("loaded reference statistics from %s", path)
            return reference
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # absent or unreadable: rebuild
        profile = _Profile.from_samples(smiles, n_jobs, progress, "reference")
        kl_rows = np.arange(len(profile.smiles))
        if len(kl_rows) > KL_SAMPLE_SIZE:  # GuacaMol draws a seeded random subset
            kl_rows = np.sort(
                np.random.default_rng(KL_SEED).choice(kl_rows, KL_SAMPLE_SIZE, replace=False)
            )
        nn_similarity = _nn_similarity(profile.ecfp4[kl_rows])
        reference = cls(profile, kl_rows, nn_similarity, _chemnet_statistics(profile, progress))
        _write_cache(path, lambda f: np.savez(f, **reference._to_arrays()))
        return reference

    def _to_arrays(self) -> dict[str, np.ndarray]:
        p = self.profile
        arrays = {"smiles": np.array(p.smiles, dtype=str), "kl_rows": self.kl_rows}
        arrays["nn_similarity"] = self.nn_similarity
        arrays |= {k: getattr(p, k) for k in ("counts", "fps", "ecfp4", "qed", "sa", "descriptors")}
        for name in ("scaffolds", "fragments"):
            arrays[f"{name}_keys"] = np.array(list(getattr(p, name)), dtype=str)
            arrays[f"{name}_counts"] = np.array(list(getattr(p, name).values()), dtype=np.int64)
        if self.chemnet is not None:
            arrays["chemnet_mu"], arrays["chemnet_sigma"] = self.chemnet
        return arrays

    @classmethod
    def _from_arrays(cls, data: np.lib.npyio.NpzFile) -> _Reference:
        counters = {
            name: dict(
                zip(data[f"{name}_keys"].tolist(), data[f"{name}_counts"].tolist(), strict=True)
            )
            for name in ("scaffolds", "fragments")
        }
        columns = ("counts", "fps", "ecfp4", "qed", "sa", "descriptors")
        profile = _Profile(data["smiles"].tolist(), **{k: data[k] for k in columns}, **counters)
        chemnet = (data["chemnet_mu"], data["chemnet_sigma"]) if "chemnet_mu" in data else None
        return cls(profile, data["kl_rows"], data["nn_similarity"], chemnet)


def _intrinsic_metrics(gen: _Profile) -> dict[str, float | None]:
    """Metrics of the generated set alone: IntDiv and property means, over valid samples."""
    if not gen.smiles:
        return dict.fromkeys(
            ("intdiv1", "intdiv2", "qed_mean", "sa_mean", "logp_mean", "weight_mean")
        )
    t1, t2 = _mean_tanimoto_powers(
        _unpack(gen.fps, MORGAN_BITS), torch.from_numpy(gen.counts), (1, 2)
    )
    return {
        "intdiv1": 1 - t1,
        "intdiv2": 1 - math.sqrt(t2),
        "qed_mean": np.average(gen.qed, weights=gen.counts),
        "sa_mean": np.average(gen.sa, weights=gen.counts),
        "logp_mean": np.average(gen.logp, weights=gen.counts),
        "weight_mean": np.average(gen.weight, weights=gen.counts),
    }


_REFERENCE_KEYS = (
    "fcd",
    "fcd_score",
    "snn",
    "frag",
    "scaf",
    "w1_qed",
    "w1_sa",
    "w1_logp",
    "w1_weight",
    "kl_score",
)


def _reference_metrics(
    gen: _Profile,
    gen_chemnet: tuple[np.ndarray, np.ndarray] | None,
    ref: _Reference | None,
    keys: Sequence[str] = _REFERENCE_KEYS,
) -> dict[str, float | None]:
    """Metrics comparing the generated set with the reference (all ``None`` if either is empty)."""
    if ref is None or not gen.smiles or not ref.profile.smiles:
        return dict.fromkeys(keys)
    r = ref.profile
    metrics: dict[str, float | None] = {}
    if "fcd" in keys:
        fcd_value = None
        if gen_chemnet is not None and ref.chemnet is not None:
            fcd_value = frechet_distance(*gen_chemnet, *ref.chemnet)
        metrics["fcd"] = fcd_value
        metrics["fcd_score"] = None if fcd_value is None else math.exp(-FCD_SCORE_SCALE * fcd_value)
    nearest = _max_similarity(_unpack(gen.fps, MORGAN_BITS), _unpack(r.fps, MORGAN_BITS))
    metrics["snn"] = np.average(nearest, weights=gen.counts)
    metrics["frag"] = _cosine_similarity(gen.fragments, r.fragments)
    metrics["scaf"] = _cosine_similarity(gen.scaffolds, r.scaffolds)
    for name in ("qed", "sa", "logp", "weight"):
        metrics[f"w1_{name}"] = wasserstein_distance(
            getattr(gen, name), getattr(r, name), gen.counts, r.counts
        )
    if "kl_score" in keys:
        gen_kl = slice(0, KL_SAMPLE_SIZE)  # GuacaMol: the first 10,000 unique samples
        metrics["kl_score"] = _kl_score(
            gen.descriptors[gen_kl],
            _nn_similarity(gen.ecfp4[gen_kl]),
            r.descriptors[ref.kl_rows],
            ref.nn_similarity,
        )
    return {key: metrics[key] for key in keys}


def _strict_canonical(samples: Sequence[str]) -> list[str | None]:
    with quiet_rdkit():
        return [strict_smiles(parse_smiles(s)) for s in samples]


def _filter_chunk(smiles: list[str]) -> list[bool]:
    """Worker task: MOSES's filter verdict for valid canonical SMILES."""
    with quiet_rdkit():
        return [passes_moses(Chem.MolFromSmiles(s)) for s in smiles]


def _describe_chunk(samples: list[str]) -> list[_Record | None]:
    """Worker task: parse each sample once and compute all its per-molecule quantities."""
    with quiet_rdkit():
        return [_describe(sample) for sample in samples]


def _describe(sample: str) -> _Record | None:
    """All per-molecule quantities of one sample, or ``None`` if it is not strictly valid."""
    mol = parse_smiles(sample)
    smiles = strict_smiles(mol)
    if smiles is None:
        return None
    qed_inputs = QED.properties(mol)  # includes Crippen logP, TPSA and strict rotatable bonds
    shared = {
        "MolLogP": qed_inputs.ALOGP,
        "TPSA": qed_inputs.PSA,
        "NumRotatableBonds": qed_inputs.ROTB,
    }
    descriptors = [
        shared[n] if n in shared else getattr(Descriptors, n)(mol) for n in KL_DESCRIPTORS
    ]
    try:
        scaffold_mol = MurckoScaffold.GetScaffoldForMol(mol)
        enough_rings = scaffold_mol.GetRingInfo().NumRings() >= SCAFFOLD_MIN_RINGS
        scaffold = Chem.MolToSmiles(scaffold_mol) if enough_rings else None
    except (ValueError, RuntimeError):  # MOSES skips molecules whose scaffold RDKit cannot build
        scaffold = None
    return _Record(
        smiles=smiles,
        fp=np.packbits(_morgan(MORGAN_BITS).GetFingerprintAsNumPy(mol)),
        ecfp4=np.packbits(_morgan(ECFP4_BITS).GetFingerprintAsNumPy(mol)),
        qed=QED.qed(mol, qedProperties=qed_inputs),
        sa=sascorer.calculateScore(mol),
        descriptors=tuple(d if math.isfinite(d) else 0.0 for d in descriptors),  # as GuacaMol
        scaffold=scaffold or None,  # MOSES drops the empty scaffold of acyclic molecules
        fragments=Chem.MolToSmiles(Chem.FragmentOnBRICSBonds(mol)).split("."),
    )


@lru_cache(maxsize=2)
def _morgan(n_bits: int) -> rdFingerprintGenerator.FingerprintGenerator64:
    """Radius-2 Morgan: the bits of MOSES's ``GetMorganFingerprintAsBitVect(m, 2, n)``."""
    return rdFingerprintGenerator.GetMorganGenerator(radius=MORGAN_RADIUS, fpSize=n_bits)


def _canonical_chunk(samples: list[str]) -> list[str | None]:
    with quiet_rdkit():
        return [canonical_smiles(s) for s in samples]


def _map_chunks(
    task: Callable[[list[str]], list], items: list[str], n_jobs: int, progress: bool, what: str
) -> list:
    """Run ``task`` on chunks of ``items`` (a fork pool if large); results flattened, in order."""
    chunks = [items[i : i + CHUNK_SIZE] for i in range(0, len(items), CHUNK_SIZE)]
    bar = {"total": len(chunks), "desc": f"parse {what}", "unit": "chunk"}
    bar["disable"] = not progress or len(items) < MIN_PROGRESS_SAMPLES
    if n_jobs <= 1 or len(items) < MIN_POOL_SAMPLES:
        return [out for chunk in ProgressBar(chunks, **bar) for out in task(chunk)]
    with get_context("fork").Pool(min(n_jobs, len(chunks))) as pool:
        return [out for done in ProgressBar(pool.imap(task, chunks), **bar) for out in done]


def _train_set(train: list[str], n_jobs: int, progress: bool, cache: Path) -> set[str]:
    """Canonical SMILES of the parsable training molecules, cached as sorted gzip text."""
    path = cache / f"train-{_content_key('train', train)}.txt.gz"
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return set(f.read().split("\n")) - {""}
    except (OSError, EOFError):
        pass  # absent or unreadable: rebuild
    distinct = list(dict.fromkeys(train))
    known = set(_map_chunks(_canonical_chunk, distinct, n_jobs, progress, "train")) - {None}
    text = "\n".join(sorted(known)).encode()
    _write_cache(path, lambda f: f.write(gzip.compress(text)))
    return known


def _content_key(kind: str, smiles: list[str]) -> str:
    digest = hashlib.sha256(f"{CACHE_VERSION}\n{kind}\n".encode())
    digest.update("\n".join(smiles).encode())
    return digest.hexdigest()[:32]


def _write_cache(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write atomically (temporary file, then rename); log and go on if the folder is unwritable."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except OSError as error:
        logger.warning("not caching %s: %s", path.name, error)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _chemnet_statistics(profile: _Profile, progress: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean ``[512]`` and covariance ``[512, 512]`` of ChemNet activations over valid samples.

    Each unique SMILES runs once and is weighted by its count, which equals running duplicates
    (MOSES keeps them). ``None`` below two valid samples.
    """
    if profile.counts.sum() < 2:
        return None
    model, smiles = fcd.load_ref_model(), profile.smiles
    batches = range(0, len(smiles), CHEMNET_BATCH)
    show = progress and len(smiles) >= MIN_PROGRESS_SAMPLES
    # One thread for small sets: the LSTM's per-step thread barriers cost more than they save, and
    # on a busy machine 2 threads ran 40x slower than 1.
    threads = 1 if len(smiles) < MIN_POOL_SAMPLES else torch.get_num_threads()
    with _torch_threads(threads), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="fcd")  # row_stack
        activations = np.concatenate(
            [
                fcd.get_predictions(model, smiles[i : i + CHEMNET_BATCH], n_jobs=0)  # in-process
                for i in ProgressBar(batches, desc="ChemNet", unit="batch", disable=not show)
            ]
        ).astype(np.float64)  # [U, 512]
    mu = np.average(activations, axis=0, weights=profile.counts)
    return mu, np.cov(activations, rowvar=False, fweights=profile.counts)


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads inside the block, then restore the setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _unpack(packed: np.ndarray, n_bits: int) -> torch.Tensor:
    """Packed bits ``uint8 [N, n_bits / 8]`` to a 0/1 float32 tensor ``[N, n_bits]``."""
    return torch.from_numpy(np.unpackbits(packed, axis=1, count=n_bits).astype(np.float32))


def _similarity_blocks(
    query: torch.Tensor, ref: torch.Tensor
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(first row, Tanimoto block [B, M])`` over ``query [N, D]`` against ``ref [M, D]``.

    Intersections are one matmul per block; the block is made sparse (Morgan fingerprints of small
    molecules set ~2% of bits), which is exact and several times faster than a dense matmul on CPU.
    """
    ref_t, ref_bits = ref.T.contiguous(), ref.sum(1)  # [D, M], [M]
    rows = max(1, SIMILARITY_BLOCK // max(1, len(ref)))
    for start in range(0, len(query), rows):
        block = query[start : start + rows]  # [B, D]
        block_bits = block.sum(1, keepdim=True)  # [B, 1]
        intersection = torch.sparse.mm(block.to_sparse(), ref_t)  # [B, M]
        similarity = intersection.div_((block_bits + ref_bits).sub_(intersection))
        if not (block_bits.all() and ref_bits.all()):
            similarity.nan_to_num_(nan=1.0)  # 0 / 0 between two empty fingerprints
        yield start, similarity


def _mean_tanimoto_powers(
    fps: torch.Tensor, weights: torch.Tensor, powers: Sequence[int]
) -> list[float]:
    """Weighted mean of ``T_ij^p`` over all ordered pairs, for each p (one pass over the blocks)."""
    w = weights.to(torch.float32)  # [N]; counts are exact in float32 below 2**24
    totals = [0.0] * len(powers)
    for start, block in _similarity_blocks(fps, fps):
        w_rows = w[start : start + len(block)].double()  # [B]
        for k, p in enumerate(powers):
            totals[k] += float((block.pow(p) @ w).double() @ w_rows)
    return [total / float(w.double().sum()) ** 2 for total in totals]


def _max_similarity(
    query: torch.Tensor, ref: torch.Tensor, exclude_self: bool = False
) -> np.ndarray:
    """Highest Tanimoto similarity ``[N]`` of each query row to ``ref``.

    ``exclude_self`` zeroes the diagonal when ``query`` is ``ref``, as GuacaMol's internal
    similarity does.
    """
    best = torch.empty(len(query))
    for start, block in _similarity_blocks(query, ref):
        if exclude_self:
            rows = torch.arange(len(block))
            block[rows, start + rows] = 0.0
        best[start : start + len(block)] = block.max(1).values
    return best.numpy().astype(np.float64)


def _nn_similarity(ecfp4: np.ndarray) -> np.ndarray:
    """GuacaMol internal similarity ``[K]``: max Tanimoto of each packed ECFP4 row to another."""
    if len(ecfp4) < 2:
        return np.zeros(len(ecfp4))
    fps = _unpack(ecfp4, ECFP4_BITS)
    return _max_similarity(fps, fps, exclude_self=True)


def _cosine_similarity(a: dict[str, int], b: dict[str, int]) -> float | None:
    """Cosine of two count vectors keyed by name (MOSES Frag/Scaf); ``None`` if one is empty."""
    if not a or not b:
        return None
    dot = sum(count * b.get(key, 0) for key, count in a.items())
    return dot / math.sqrt(sum(c * c for c in a.values()) * sum(c * c for c in b.values()))


def _kl_score(
    gen_descriptors: np.ndarray, gen_nn: np.ndarray, ref_descriptors: np.ndarray, ref_nn: np.ndarray
) -> float | None:
    """GuacaMol KL score over unique molecules: mean of ``exp(-KL(ref || gen))`` per quantity.

    ``None`` when either set has fewer than two unique molecules or a continuous reference quantity
    is constant (its KDE is undefined); a constant generated one scores 0 (the KL diverges).
    """
    if len(gen_nn) < 2 or len(ref_nn) < 2:
        return None
    kls = [
        (_continuous_kl if i < N_CONTINUOUS else _discrete_kl)(
            ref_descriptors[:, i], gen_descriptors[:, i]
        )
        for i in range(len(KL_DESCRIPTORS))
    ] + [_continuous_kl(ref_nn, gen_nn)]
    return None if None in kls else float(np.mean(np.exp(-np.array(kls))))


def _continuous_kl(ref: np.ndarray, gen: np.ndarray) -> float | None:
    if np.ptp(ref) == 0:
        return None
    if np.ptp(gen) == 0:
        return math.inf
    grid = np.linspace(min(ref.min(), gen.min()), max(ref.max(), gen.max()), KDE_GRID_POINTS)
    p, q = gaussian_kde(ref)(grid) + KL_EPSILON, gaussian_kde(gen)(grid) + KL_EPSILON
    return float(entropy(p, q))


def _discrete_kl(ref: np.ndarray, gen: np.ndarray) -> float:
    p, edges = np.histogram(ref, bins=HISTOGRAM_BINS, density=True)
    counts, _ = np.histogram(gen, bins=edges)
    # GuacaMol's density=True, without the NaN when no generated value falls inside the bins.
    q = counts / (counts.sum() * np.diff(edges)) if counts.sum() else np.zeros_like(p)
    return float(entropy(p + KL_EPSILON, q + KL_EPSILON))


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _finite_or_none(value: object) -> float | int | None:
    if value is None or isinstance(value, int):
        return value
    value = float(value)
    return value if math.isfinite(value) else None
