"""Rewards for reinforcement: per-molecule scores in [0, 1], their combinations, a parallel scorer.

A reward scores a molecule a generator made. Molecule rewards (:data:`REWARDS`: validity, QED, SA,
logP, NP-likeness) are functions of one sanitised RDKit molecule, normalised as in MolGAN's
reference code (De Cao & Kipf 2018) so that 1 is best. Sample rewards (``"novelty"``,
``"uniqueness"``, ``"structure_match"``, ``"condition_match"``) depend on more than the
molecule: the training set, the other samples, or the classes a conditioned generator was asked
for. An :class:`Objective` names the terms and how they combine (a product, as MolGAN, or a
weighted mean); :class:`RewardScorer` scores batches of SMILES with it, running the RDKit work in
worker processes and caching each molecule's scores by canonical SMILES. An invalid sample
(``None``) scores 0 on every term.
"""

from __future__ import annotations

import contextlib
import io
import math
import multiprocessing
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple

import numpy as np
from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors

from molgan.chem import parse_smiles, quiet_rdkit, strict_molecule, strict_smiles
from molgan.conditions import CONDITIONS

__all__ = [
    "MoleculeReward",
    "QED_RANGE",
    "LOGP_RANGE",
    "SA_RANGE",
    "NP_RANGE",
    "remap",
    "validity_reward",
    "qed_reward",
    "sa_reward",
    "logp_reward",
    "np_reward",
    "REWARDS",
    "SAMPLE_REWARDS",
    "novelty_reward",
    "uniqueness_reward",
    "structure_class",
    "structure_match_reward",
    "condition_match_reward",
    "StructureClass",
    "Objective",
    "RewardScorer",
    "mean_rewards",
    "PROPERTIES",
    "molecule_properties",
]

MoleculeReward = Callable[[Chem.Mol], float]
"""Scores one sanitised molecule; the result is clipped to [0, 1]."""

# remap(x, lo, hi) = (x - lo) / (hi - lo), clipped to [0, 1]: the normalisations of MolGAN's
# reference code (De Cao & Kipf 2018, utils/molecular_metrics.py). hi < lo reverses the scale.
QED_RANGE = (0.0, 1.0)  # QED (Bickerton et al. 2012) is already in [0, 1]
LOGP_RANGE = (-2.12178879609, 6.0429063424)  # Crippen logP range of QM9 as MolGAN normalises it
SA_RANGE = (5.0, 1.5)  # SA score (Ertl & Schuffenhauer 2009): <= 1.5 -> 1, >= 5 -> 0
NP_RANGE = (-3.0, 1.0)  # NP-likeness (Ertl et al. 2008), after the scorer's log damping beyond 4

SAMPLE_REWARDS = ("novelty", "uniqueness", "structure_match", "condition_match")
"""Rewards of a sample in its context, built by :class:`RewardScorer` (not in :data:`REWARDS`)."""


PROPERTIES: dict[str, Callable[[Chem.Mol], float]] = {
    "qed": QED.qed,
    "sa": lambda mol: _sascorer().calculateScore(mol),
    "logp": Crippen.MolLogP,
    "np": lambda mol: _npscorer().scoreMol(mol, _np_model()),
    "mol_weight": Descriptors.MolWt,
}
"""The raw properties behind the rewards (plus molecular weight), for plots and tables."""


def remap(value: float, lo: float, hi: float) -> float:
    """``(value - lo) / (hi - lo)`` clipped to [0, 1]; ``hi < lo`` makes lower values better.

    Examples:
        >>> remap(3.25, 5.0, 1.5), remap(0.5, 5.0, 1.5), remap(9.0, 0.0, 1.0)
        (0.5, 1.0, 1.0)
    """
    return min(max((value - lo) / (hi - lo), 0.0), 1.0)


def validity_reward(mol: Chem.Mol) -> float:
    """1 for every valid molecule; invalid samples never reach a molecule reward and score 0.

    Examples:
        >>> validity_reward(Chem.MolFromSmiles("CCO"))
        1.0
    """
    return 1.0


def qed_reward(mol: Chem.Mol) -> float:
    """RDKit's QED drug-likeness (Bickerton et al. 2012), already in [0, 1].

    Examples:
        >>> round(qed_reward(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")), 3)  # aspirin
        0.55
    """
    return remap(PROPERTIES["qed"](mol), *QED_RANGE)


def sa_reward(mol: Chem.Mol) -> float:
    """Synthetic accessibility (Ertl & Schuffenhauer 2009) remapped: SA 1.5 -> 1, SA 5 -> 0.

    Examples:
        >>> sa_reward(Chem.MolFromSmiles("c1ccccc1"))  # benzene, SA about 1.0
        1.0
    """
    return remap(PROPERTIES["sa"](mol), *SA_RANGE)


def logp_reward(mol: Chem.Mol) -> float:
    """Crippen logP (Wildman & Crippen 1999) remapped over MolGAN's QM9 range to [0, 1].

    Examples:
        >>> round(logp_reward(Chem.MolFromSmiles("CCCCCC")), 3)  # hexane, Crippen logP 2.59
        0.577
    """
    return remap(PROPERTIES["logp"](mol), *LOGP_RANGE)


def np_reward(mol: Chem.Mol) -> float:
    """NP-likeness (Ertl et al. 2008, rdkit.Contrib.NP_Score) remapped: -3 -> 0, 1 -> 1.

    Examples:
        >>> np_reward(Chem.MolFromSmiles("OCC1OC(O)C(O)C(O)C1O"))  # glucose, NP score 2.6
        1.0
    """
    return remap(PROPERTIES["np"](mol), *NP_RANGE)


REWARDS: dict[str, MoleculeReward] = {
    "validity": validity_reward,
    "qed": qed_reward,
    "sa": sa_reward,
    "logp": logp_reward,
    "np": np_reward,
}
"""Molecule rewards by name."""


def novelty_reward(smiles: Sequence[str | None], train: set[str]) -> np.ndarray:
    """1 for a valid canonical SMILES not in ``train``, else 0.

    Examples:
        >>> novelty_reward(["CCO", "CCN", None], {"CCO"}).tolist()
        [0.0, 1.0, 0.0]
    """
    return np.array([float(s is not None and s not in train) for s in smiles])


def uniqueness_reward(smiles: Sequence[str | None], recent: Iterable[str] = ()) -> np.ndarray:
    """``1 / copies`` of each valid SMILES among ``smiles`` and the ``recent`` samples.

    Every duplicate lowers the reward, from the second copy on. MolGAN's uniqueness reward only
    dropped for molecules with five or more copies in a batch, too late to stop mode collapse.

    Examples:
        >>> uniqueness_reward(["CCO", "CCO", "CCN", None]).tolist()
        [0.5, 0.5, 1.0, 0.0]
        >>> uniqueness_reward(["CCN"], recent=["CCN", "CCN", "CCO"]).tolist()
        [0.3333333333333333]
    """
    counts = Counter(s for s in smiles if s is not None)
    counts.update(recent)
    return np.array([1.0 / counts[s] if s is not None else 0.0 for s in smiles])


class StructureClass(NamedTuple):
    """The structure of a molecule that RL drifts across on QM9.

    See docs/results.md, "What FCD measures here". Its fields are named and valued as the
    conditions of :mod:`molgan.conditions` (``heavy_atoms=7``, ``aromatic_ring=1``).
    """

    heavy_atoms: int
    aromatic_ring: int
    triple_bond: int


def structure_class(smiles: str) -> StructureClass:
    """(heavy atoms, has an aromatic ring, has a triple bond) of a valid canonical SMILES.

    Examples:
        >>> structure_class("c1ccoc1"), tuple(structure_class("C#CCO"))
        (StructureClass(heavy_atoms=5, aromatic_ring=1, triple_bond=0), (4, 0, 1))
    """
    return _structure_class(Chem.MolFromSmiles(smiles))


def condition_match_reward(
    classes: Sequence[StructureClass | None], asked: Sequence[Mapping[str, int]]
) -> np.ndarray:
    """1 where a sample's structure class has every value it was asked for, else 0.

    ``asked`` holds one ``{condition: value}`` per sample, in the user-facing values of
    :mod:`molgan.conditions` (``{"heavy_atoms": 7, "aromatic_ring": 1}``); ``None`` scores 0.

    Examples:
        >>> cls = structure_class("c1ccoc1")
        >>> condition_match_reward([cls, cls, None], [{"aromatic_ring": 1}, {"heavy_atoms": 6},
        ...                                           {}]).tolist()
        [1.0, 0.0, 0.0]
    """
    return np.array(
        [
            float(c is not None and all(getattr(c, k) == v for k, v in want.items()))
            for c, want in zip(classes, asked, strict=True)
        ]
    )


def structure_match_reward(
    classes: Sequence[Hashable | None], recent: Iterable[Hashable], reference: dict[Hashable, float]
) -> np.ndarray:
    """``min(1, p_data(c) / p_generated(c))`` of each sample's class ``c`` (0 for ``None``).

    ``p_generated`` counts the batch and the ``recent`` samples' classes, ``reference`` is the
    training set's class distribution. A class generated no more often than in the data scores
    1; an over-produced class scores less, so the reward pays for the structures a generator is
    short of, as ``"uniqueness"`` pays for the molecules it has not made yet.

    Examples:
        >>> structure_match_reward(["a", "a", "b", None], [], {"a": 0.25, "b": 0.75}).tolist()
        [0.375, 0.375, 1.0, 0.0]
    """
    counts = Counter(c for c in classes if c is not None)
    counts.update(recent)
    total = sum(counts.values())
    return np.array(
        [0.0 if c is None else min(1.0, reference.get(c, 0.0) * total / counts[c]) for c in classes]
    )


@dataclass(frozen=True)
class Objective:
    """What to reward: named terms (or callables ``Mol -> float``) and how to combine them.

    Attributes:
        terms: Names from :data:`REWARDS` or :data:`SAMPLE_REWARDS`, or molecule-reward callables.
        combine: ``"product"`` (MolGAN: all terms must be good) or ``"mean"`` (weighted mean).
        weights: One weight per term for ``"mean"`` (default: equal); unused by ``"product"``.

    Raises:
        KeyError: On an unknown term name; the message lists the valid ones.
        ValueError: On an empty objective, an unknown ``combine`` or a wrong number of weights.
    """

    terms: tuple[str | MoleculeReward, ...]
    combine: str = "product"
    weights: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(self.terms))
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        if not self.terms:
            raise ValueError("an objective needs at least one reward term")
        for term in self.terms:
            if isinstance(term, str) and term not in REWARDS and term not in SAMPLE_REWARDS:
                valid = ", ".join([*REWARDS, *SAMPLE_REWARDS])
                raise KeyError(f"unknown reward {term!r}; valid names: {valid}")
            if not isinstance(term, str) and not callable(term):
                raise ValueError(f"a reward term must be a name or a callable, not {term!r}")
        if self.combine not in ("product", "mean"):
            raise ValueError(f"combine must be 'product' or 'mean', not {self.combine!r}")
        if self.weights and len(self.weights) != len(self.terms):
            raise ValueError(f"{len(self.weights)} weights given for {len(self.terms)} terms")

    def combine_scores(self, scores: np.ndarray) -> np.ndarray:
        """Combine per-term scores ``[B, K]`` (columns in ``terms`` order) into rewards ``[B]``.

        Examples:
            >>> Objective(("qed", "sa")).combine_scores(np.array([[0.5, 0.8]])).tolist()
            [0.4]
            >>> Objective(("qed", "sa"), "mean", (3, 1)).combine_scores(np.array([[0.5, 1.0]]))
            array([0.625])
        """
        if self.combine == "product":
            return scores.prod(axis=1)
        weights = np.asarray(self.weights or (1.0,) * len(self.terms))
        return scores @ (weights / weights.sum())


@dataclass
class RewardScorer:
    """Score SMILES with an :class:`Objective`, in worker processes, caching by canonical SMILES.

    Args:
        objective: The terms and how they combine.
        train: Training-set canonical SMILES (needed by ``"novelty"`` and ``"structure_match"``,
            whose reference distribution of :func:`structure_class` they give).
        n_jobs: Worker processes for the molecule rewards (1 = in this process). Workers are
            forked, so user callables need no pickling; without fork, scoring is serial.
        window: How many recent generated samples ``"uniqueness"`` counts duplicates against
            (and ``"structure_match"`` counts classes over).

    Examples:
        >>> scorer = RewardScorer(Objective(("validity", "uniqueness")), n_jobs=1)
        >>> scorer.score(["CCO", "CCO", None]).tolist()
        [0.5, 0.5, 0.0]
    """

    objective: Objective
    train: set[str] = field(default_factory=set)
    n_jobs: int = 2
    window: int = 1024
    recent: deque = field(init=False, repr=False)
    """The last ``window`` valid generated SMILES (saved with checkpoints, for exact resume; set
    them back with :meth:`restore_recent`)."""
    # Per SMILES: its molecule terms, then its structure class when "structure_match" or
    # "condition_match" is scored; both come from the one parse in a worker.
    _cache: dict[str, tuple] = field(default_factory=dict, init=False, repr=False)
    _pool: multiprocessing.pool.Pool | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for term in ("novelty", "structure_match"):
            if term in self.objective.terms and not self.train:
                raise ValueError(f"the {term!r} reward needs the training set's SMILES (train=...)")
        self.recent = deque(maxlen=self.window)
        self._classify = bool({"structure_match", "condition_match"} & set(self.objective.terms))
        self._reference: dict[Hashable, float] = {}
        if "structure_match" in self.objective.terms:
            counts = Counter(structure_class(s) for s in self.train)
            self._reference = {c: n / len(self.train) for c, n in counts.items()}
        self._molecule_terms = [
            REWARDS.get(t, t) for t in self.objective.terms if t not in SAMPLE_REWARDS
        ]
        self._parses = bool(self._molecule_terms) or self._classify  # whether SMILES need RDKit

    def score(
        self,
        smiles: Sequence[str | None],
        generated: bool = True,
        asked: Sequence[Mapping[str, int]] | None = None,
    ) -> np.ndarray:
        """Rewards ``[B]`` of canonical SMILES (``None`` = invalid sample, reward 0).

        Args:
            smiles: Canonical SMILES as :func:`molgan.chem.strict_smiles` writes them.
            generated: Whether these are generator samples; only those enter the window of
                recent samples that ``"uniqueness"`` counts against.
            asked: The condition values each sample was drawn with (``"condition_match"``).
        """
        return self.objective.combine_scores(self.score_terms(smiles, generated, asked))

    def score_terms(
        self,
        smiles: Sequence[str | None],
        generated: bool = True,
        asked: Sequence[Mapping[str, int]] | None = None,
    ) -> np.ndarray:
        """Per-term scores ``[B, K]`` in the objective's term order (rows of 0 for ``None``)."""
        self._fill_cache(smiles)
        molecule = iter(range(len(self._molecule_terms)))
        classes = [self._cache[s][-1] if s else None for s in smiles] if self._classify else []
        columns = []
        for term in self.objective.terms:
            if term == "novelty":
                columns.append(novelty_reward(smiles, self.train))
            elif term == "uniqueness":
                columns.append(uniqueness_reward(smiles, self.recent if generated else ()))
            elif term == "structure_match":
                recent = (self._cache[s][-1] for s in self.recent) if generated else ()
                columns.append(structure_match_reward(classes, recent, self._reference))
            elif term == "condition_match":
                if asked is None:
                    raise ValueError("the 'condition_match' reward needs a conditioned generator")
                columns.append(condition_match_reward(classes, asked))
            else:
                k = next(molecule)
                columns.append(np.array([self._cache[s][k] if s else 0.0 for s in smiles]))
        if generated:
            self.recent.extend(s for s in smiles if s is not None)
        return np.stack(columns, axis=1) if columns else np.zeros((len(smiles), 0))

    def restore_recent(self, samples: Iterable[str]) -> None:
        """Set the window of recent generated samples (a resumed run's).

        With ``"structure_match"`` the samples not cached are classified now, so that each step
        reads their classes from the cache.
        """
        self.recent.clear()
        self.recent.extend(samples)
        if "structure_match" in self.objective.terms:  # the one term reading the window's classes
            self._fill_cache(list(self.recent))

    def start(self) -> None:
        """Fork the worker processes now (else the first :meth:`score` that needs them does).

        A trainer calls this before its loop, so the fork happens in the main thread while no
        device work runs, not later from a background thread.
        """
        if self._pool is None and self.n_jobs > 1 and self._parses and _can_fork():
            _load_tables()  # read SA/NP tables once, before forking, so workers share them
            self._pool = multiprocessing.get_context("fork").Pool(
                self.n_jobs,
                initializer=_init_worker,
                initargs=(self._molecule_terms, self._classify),
            )

    def close(self) -> None:
        """Stop the worker processes (a later :meth:`score` starts new ones)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> RewardScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        raise TypeError("a RewardScorer holds worker processes and cannot be pickled")

    def _fill_cache(self, smiles: Sequence[str | None]) -> None:
        todo = [s for s in dict.fromkeys(smiles) if s is not None and s not in self._cache]
        if not todo or not self._parses:
            self._cache.update(dict.fromkeys(todo, ()))
            return
        if self.n_jobs > 1 and len(todo) > 1 and _can_fork():
            self.start()
            chunk = max(1, math.ceil(len(todo) / (4 * self.n_jobs)))
            rows = self._pool.map(_score_in_worker, todo, chunksize=chunk)
        else:
            rows = [_score_smiles(s, self._molecule_terms, self._classify) for s in todo]
        self._cache.update(zip(todo, rows, strict=True))


def mean_rewards(
    smiles: Sequence[str], names: Sequence[str] = ("qed", "sa", "logp", "np"), n_jobs: int = 2
) -> dict[str, float | int | None]:
    """Each molecule reward's mean over the strictly valid SMILES of a sample.

    The means are over valid molecules (as MolGAN's Table 2 reports them); ``n_valid`` says how
    many there were, ``invalid_<reason>`` why the others were left out
    (:func:`molgan.chem.strict_molecule`), and a mean is ``None`` when none was valid.

    Raises:
        KeyError: On a name that is not in :data:`REWARDS`.

    Examples:
        >>> mean_rewards(["c1ccccc1", "", "C1CC"], ["sa"], n_jobs=1)
        {'n_samples': 3, 'n_valid': 1, 'invalid_empty': 1, 'invalid_unparsable': 1, 'sa': 1.0}
    """
    unknown = [name for name in names if name not in REWARDS]
    if unknown:
        raise KeyError(f"unknown molecule reward(s) {unknown}; valid names: {', '.join(REWARDS)}")
    with quiet_rdkit():
        judged = [strict_molecule(s) for s in smiles]
    valid = [j.smiles for j in judged if j.smiles is not None]
    invalid = Counter(j.reason for j in judged if j.smiles is None)
    result: dict[str, float | int | None] = {"n_samples": len(smiles), "n_valid": len(valid)}
    result.update({f"invalid_{reason}": count for reason, count in invalid.most_common()})
    with RewardScorer(Objective(tuple(names)), n_jobs=n_jobs) as scorer:
        scores = scorer.score_terms(valid, generated=False)  # [V, K]
    for k, name in enumerate(names):
        result[name] = float(scores[:, k].mean()) if valid else None
    return result


def molecule_properties(
    smiles: Sequence[str], names: Sequence[str] = ("qed", "sa", "logp")
) -> dict[str, np.ndarray]:
    """Raw properties of the strictly valid SMILES among ``smiles`` (invalid ones are skipped).

    Returns:
        ``{"smiles": canonical SMILES [V], name: values [V], ...}`` as numpy arrays.

    Examples:
        >>> props = molecule_properties(["OCC", "", "c1ccccc1"], ["mol_weight"])
        >>> props["smiles"].tolist(), props["mol_weight"].round(2).tolist()
        (['CCO', 'c1ccccc1'], [46.07, 78.11])
    """
    unknown = [name for name in names if name not in PROPERTIES]
    if unknown:
        raise KeyError(f"unknown propert(ies) {unknown}; valid names: {', '.join(PROPERTIES)}")
    with quiet_rdkit():
        mols = [parse_smiles(s) for s in smiles]
        pairs = [(strict_smiles(m), m) for m in mols]
    valid = [(s, m) for s, m in pairs if s is not None]
    table = {"smiles": np.array([s for s, _ in valid], dtype=object)}
    for name in names:
        table[name] = np.array([PROPERTIES[name](m) for _, m in valid], dtype=np.float64)
    return table


# -- private -----------------------------------------------------------------------------------

_WORKER_TERMS: list[MoleculeReward] = []
_WORKER_CLASSIFY: list[bool] = [False]


def _init_worker(terms: list[MoleculeReward], classify: bool) -> None:
    _WORKER_TERMS[:] = terms
    _WORKER_CLASSIFY[0] = classify


def _score_in_worker(smiles: str) -> tuple:
    return _score_smiles(smiles, _WORKER_TERMS, _WORKER_CLASSIFY[0])


def _score_smiles(smiles: str, terms: list[MoleculeReward], classify: bool = False) -> tuple:
    """Every molecule term of one SMILES, each clipped to [0, 1], then its class.

    All terms are 0 if the SMILES does not parse; with ``classify`` its :func:`structure_class`
    follows (``None`` if it does not parse).
    """
    with quiet_rdkit():
        mol = parse_smiles(smiles)
    if mol is None:
        return (0.0,) * len(terms) + ((None,) if classify else ())
    values = tuple(min(max(float(term(mol)), 0.0), 1.0) for term in terms)
    return values + ((_structure_class(mol),) if classify else ())


def _structure_class(mol: Chem.Mol) -> StructureClass:
    """:func:`structure_class` of a parsed molecule: the conditions' labels, as values."""
    return StructureClass(
        *(CONDITIONS[name].label(mol) + CONDITIONS[name].offset for name in StructureClass._fields)
    )


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _load_tables() -> None:
    _sascorer().calculateScore(Chem.MolFromSmiles("CC"))
    _np_model()


@cache
def _sascorer():
    from rdkit.Contrib.SA_Score import sascorer

    return sascorer


@cache
def _npscorer():
    from rdkit.Contrib.NP_Score import npscorer

    return npscorer


@cache
def _np_model() -> dict:
    """RDKit's shipped NP-likeness fragment model (its loader prints to stderr; muted)."""
    with contextlib.redirect_stderr(io.StringIO()):
        return _npscorer().readNPModel()
