"""Medicinal-chemistry filters for generated candidates: rule of five, PAINS, Brenk, MOSES.

A filter says whether a molecule passes. :func:`filter_smiles` runs several on a list of SMILES
and returns a :class:`FilterReport` with a pass flag per molecule and filter, the count of
molecules each filter rejects, and the SMILES that pass all. PAINS (Baell & Holloway 2010) and
Brenk (Brenk et al. 2008) are RDKit's ``FilterCatalog`` substructure sets; the rule of five
(Lipinski et al. 1997) uses RDKit's descriptors. The MOSES filter (Polykovskiy et al. 2020) is
the one MOSES built its data with and reports as "Filters": its MCF and PAINS SMARTS (shipped in
``data/filters/``), no charged atom, only C, N, S, O, F, Cl, Br, H, and no ring of 8 or more
atoms. A threshold on a raw property of :data:`molgan.rewards.PROPERTIES` is a filter too,
written like ``"qed>=0.6"`` or ``"mol_weight<=350"`` (:func:`threshold_filter`).
"""

from __future__ import annotations

import csv
import operator
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem import Crippen, Descriptors, Lipinski
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

from molgan.chem import quiet_rdkit, strict_molecule
from molgan.progress import ProgressBar
from molgan.rewards import PROPERTIES

__all__ = [
    "RULE_OF_FIVE",
    "lipinski_violations",
    "passes_lipinski",
    "passes_pains",
    "passes_brenk",
    "passes_moses",
    "FILTERS",
    "DEFAULT_FILTERS",
    "threshold_filter",
    "FilterReport",
    "filter_smiles",
    "resolve_filters",
]

FILTER_DATA = Path(__file__).resolve().parent.parent / "data" / "filters"
_MOSES_ELEMENTS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})
_MOSES_MAX_RING = 7  # MOSES rejects rings of 8 or more atoms

# Lipinski et al. 1997: poor absorption is likely when more than one of these limits is exceeded.
RULE_OF_FIVE = {"mol_weight": 500.0, "logp": 5.0, "h_donors": 5, "h_acceptors": 10}
_MAX_VIOLATIONS = 1


def lipinski_violations(mol: Chem.Mol) -> int:
    """How many of the four rule-of-five limits a molecule exceeds (0-4).

    Examples:
        >>> lipinski_violations(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O"))  # aspirin
        0
    """
    return sum(
        (
            Descriptors.MolWt(mol) > RULE_OF_FIVE["mol_weight"],
            Crippen.MolLogP(mol) > RULE_OF_FIVE["logp"],
            Lipinski.NumHDonors(mol) > RULE_OF_FIVE["h_donors"],
            Lipinski.NumHAcceptors(mol) > RULE_OF_FIVE["h_acceptors"],
        )
    )


def passes_lipinski(mol: Chem.Mol) -> bool:
    """Lipinski's rule of five: at most one limit exceeded.

    Examples:
        >>> passes_lipinski(Chem.MolFromSmiles("CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC(=O)O"))
        False
    """
    return lipinski_violations(mol) <= _MAX_VIOLATIONS


def passes_pains(mol: Chem.Mol) -> bool:
    """No PAINS (A, B and C) substructure: none of the pan-assay interference motifs.

    Examples:
        >>> passes_pains(Chem.MolFromSmiles("O=C1C=CC(=O)C=C1"))  # a quinone: PAINS quinone_A
        False
    """
    return not _catalog(FilterCatalogParams.FilterCatalogs.PAINS).HasMatch(mol)


def passes_brenk(mol: Chem.Mol) -> bool:
    """No Brenk substructure: none of the unwanted, reactive or toxic motifs of Brenk et al.

    Examples:
        >>> passes_brenk(Chem.MolFromSmiles("CCO")), passes_brenk(Chem.MolFromSmiles("CC=O"))
        (True, False)
    """
    return not _catalog(FilterCatalogParams.FilterCatalogs.BRENK).HasMatch(mol)


def passes_moses(mol: Chem.Mol) -> bool:
    """MOSES's filter (``mol_passes_filters``), the rules its training set was built with.

    A molecule passes when it has no charged atom, only C, N, S, O, F, Cl, Br (and H), no ring of
    8 or more atoms, and none of MOSES's 22 MCF and 480 PAINS SMARTS matches it with explicit
    hydrogens added.

    Examples:
        >>> passes_moses(Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1"))  # paracetamol
        True
        >>> passes_moses(Chem.MolFromSmiles("C1CO1")), passes_moses(Chem.MolFromSmiles("CC[NH3+]"))
        (False, False)
    """
    if any(a.GetFormalCharge() or a.GetSymbol() not in _MOSES_ELEMENTS for a in mol.GetAtoms()):
        return False
    if any(len(ring) > _MOSES_MAX_RING for ring in mol.GetRingInfo().AtomRings()):
        return False
    with_h = Chem.AddHs(mol)
    return not any(with_h.HasSubstructMatch(pattern) for pattern in _moses_patterns())


@cache
def _moses_patterns() -> tuple[Chem.Mol, ...]:
    """MOSES's MCF and PAINS SMARTS, compiled once (``data/filters/README.md``)."""
    with open(FILTER_DATA / "moses_mcf.csv", newline="") as handle:
        smarts = [row["smarts"] for row in csv.DictReader(handle)]
    with open(FILTER_DATA / "moses_wehi_pains.csv", newline="") as handle:
        smarts += [row[0].strip() for row in csv.reader(handle) if row]
    return tuple(Chem.MolFromSmarts(s) for s in smarts)


FILTERS: dict[str, Callable[[Chem.Mol], bool]] = {
    "lipinski": passes_lipinski,
    "pains": passes_pains,
    "brenk": passes_brenk,
    "moses": passes_moses,
}
"""Filters by name; each takes a sanitised molecule and returns whether it passes."""
DEFAULT_FILTERS = ("lipinski", "pains", "brenk")
"""What ``filter_smiles`` and ``molgan filter`` run unless told otherwise."""


def threshold_filter(spec: str) -> Callable[[Chem.Mol], bool]:
    """A filter from a threshold on a raw property: ``"<property>>=<value>"`` or ``<=``.

    The properties are those of :data:`molgan.rewards.PROPERTIES` (``qed``, ``sa``, ``logp``,
    ``np``, ``mol_weight``), unnormalised: ``"sa<=4"`` keeps molecules whose SA score is at most 4.

    Raises:
        KeyError: On an unknown property; the message lists the valid ones.
        ValueError: When ``spec`` is not a property, ``>=`` or ``<=``, and a number.

    Examples:
        >>> drug_like = threshold_filter("qed>=0.5")
        >>> aspirin, methane = Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O"), Chem.MolFromSmiles("C")
        >>> drug_like(aspirin), drug_like(methane)
        (True, False)
    """
    match = _THRESHOLD.fullmatch(spec.strip())
    if match is None:
        raise ValueError(f"a threshold filter reads like 'qed>=0.6' or 'sa<=4', not {spec!r}")
    name, op, value = match.group(1), _COMPARISONS[match.group(2)], float(match.group(3))
    if name not in PROPERTIES:
        raise KeyError(
            f"unknown property {name!r} in {spec!r}; valid names: {', '.join(PROPERTIES)}"
        )
    prop = PROPERTIES[name]
    return lambda mol: bool(op(prop(mol), value))


@dataclass(frozen=True)
class FilterReport:
    """The outcome of :func:`filter_smiles`.

    Attributes:
        smiles: The canonical SMILES of each input (``None`` where the input was not a strictly
            valid molecule).
        filters: The filter names, in column order.
        passed: ``[M, F]`` bool: molecule ``m`` passes filter ``f`` (``False`` for invalid input).
        invalid: Why inputs were not strictly valid: reason
            (:func:`molgan.chem.strict_molecule`) -> count.
    """

    smiles: list[str | None]
    filters: tuple[str, ...]
    passed: np.ndarray
    invalid: dict[str, int] = field(default_factory=dict)

    @property
    def n_valid(self) -> int:
        """Inputs that are strictly valid molecules."""
        return sum(s is not None for s in self.smiles)

    @property
    def passed_all(self) -> np.ndarray:
        """``[M]`` bool: valid and passing every filter."""
        valid = np.array([s is not None for s in self.smiles], dtype=bool)
        return valid & self.passed.all(axis=1) if len(self.filters) else valid

    @property
    def kept(self) -> list[str]:
        """The canonical SMILES that pass every filter, in input order (repeats kept)."""
        return [s for s, ok in zip(self.smiles, self.passed_all, strict=True) if ok]

    @property
    def kept_unique(self) -> list[str]:
        """:attr:`kept` without repeats: each molecule once, at its first position."""
        return list(dict.fromkeys(self.kept))

    @property
    def n_duplicates(self) -> int:
        """Valid inputs that repeat an earlier valid input (the same canonical SMILES)."""
        valid = [s for s in self.smiles if s is not None]
        return len(valid) - len(set(valid))

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        return f"FilterReport(filters={list(self.filters)}, {counts})"

    def counts(self) -> dict[str, int]:
        """Counts: inputs, invalid ones by reason, valid, rejected per filter, passing all.

        Each filter's rejections are counted among the valid molecules.
        """
        valid = np.array([s is not None for s in self.smiles], dtype=bool)
        rejected = {
            f"rejected_{name}": int((valid & ~self.passed[:, k]).sum())
            for k, name in enumerate(self.filters)
        }
        return {
            "n_input": len(self.smiles),
            **{f"invalid_{reason}": count for reason, count in self.invalid.items()},
            "n_valid": int(valid.sum()),
            "n_duplicates": self.n_duplicates,
            **rejected,
            "n_passed": int(self.passed_all.sum()),
        }


def filter_smiles(
    smiles: Sequence[str],
    filters: Sequence[str] = DEFAULT_FILTERS,
    progress: bool = False,
) -> FilterReport:
    """Run named filters on SMILES; invalid or empty entries fail every filter.

    Args:
        smiles: SMILES strings (as generated; ``""`` marks an invalid sample).
        filters: Names from :data:`FILTERS`, or thresholds such as ``"qed>=0.6"``
            (:func:`threshold_filter`).
        progress: Show a tqdm bar.

    Raises:
        KeyError: On an unknown filter or property name; the message lists the valid ones.
        ValueError: On a malformed threshold.

    Examples:
        >>> report = filter_smiles(["CCO", "CC=O", "", "C1CC"], ["brenk"])
        >>> report.kept, report.counts()["rejected_brenk"]
        (['CCO'], 1)
    """
    checks = resolve_filters(filters)
    canonical: list[str | None] = []
    invalid: Counter[str] = Counter()
    passed = np.zeros((len(smiles), len(checks)), dtype=bool)
    with quiet_rdkit():
        for i, text in enumerate(ProgressBar(smiles, desc="filtering", disable=not progress)):
            judged = strict_molecule(text)
            canonical.append(judged.smiles)
            if judged.mol is None:
                invalid[judged.reason] += 1
            else:
                passed[i] = [check(judged.mol) for check in checks]
    return FilterReport(canonical, tuple(filters), passed, dict(invalid.most_common()))


def resolve_filters(filters: Sequence[str]) -> list[Callable[[Chem.Mol], bool]]:
    """The checks that filter names (:data:`FILTERS`) or thresholds (``"qed>=0.6"``) stand for.

    Raises:
        KeyError: On an unknown filter or property name; the message lists the valid ones.
        ValueError: On a malformed threshold.

    Examples:
        >>> len(resolve_filters(["lipinski", "qed>=0.6"]))
        2
    """
    unknown = [name for name in filters if name not in FILTERS and not _COMPARISON.search(name)]
    if unknown:
        raise KeyError(
            f"unknown filter(s) {unknown}; valid names: {', '.join(FILTERS)}, "
            "or a threshold such as 'qed>=0.6'"
        )
    return [FILTERS[name] if name in FILTERS else threshold_filter(name) for name in filters]


_COMPARISONS = {">=": operator.ge, "<=": operator.le}
_COMPARISON = re.compile(r"[<>]=")
_THRESHOLD = re.compile(r"(\w+)\s*(>=|<=)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


@cache
def _catalog(which: FilterCatalogParams.FilterCatalogs) -> FilterCatalog:
    params = FilterCatalogParams()
    params.AddCatalog(which)
    return FilterCatalog(params)
