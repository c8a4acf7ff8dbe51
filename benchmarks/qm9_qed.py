"""How drug-like QM9 can be: the QED distribution of all 133,885 QM9 molecules.

QM9 molecules have at most 9 heavy atoms, and QED (Bickerton et al. 2012) favours molecules of
about 300 Da, so the dataset's QED is capped well below 1. This script gives the ceiling that a
QM9-trained generator's mean QED runs into (docs/results.md).

It also answers: how high can the mean QED of 10,000 samples be, at a given validity and
uniqueness, for a *memoriser*, a sampler that only ever draws known molecules (the training
split, or all of QM9), each draw independent, with the best possible draw probabilities?
That is the convex programme

    maximise  sum_i p_i q_i   over  p >= 0, sum_i p_i = 1,
    subject to  E[distinct] = sum_i 1 - (1 - p_i)^n  >=  uniqueness * n,

with ``n`` valid draws (validity x 10,000) and ``q_i`` the molecules' QED. It is solved through
its Lagrange dual (:func:`best_memoriser`); the optimum draws a few thousand top molecules
often and some thousands more once or twice. A generator that also makes novel molecules can go
beyond it only with novel molecules of high QED; the script counts how many lie one atom away
from QM9's best (:func:`one_atom_neighbours`).

Usage: python benchmarks/qm9_qed.py [--json runs/qm9_qed.json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from rdkit import Chem
from rdkit.Chem import QED

from molgan.chem import quiet_rdkit
from molgan.data import QM9_PATH, QM9_SPLITS
from molgan.io import read_smiles
from molgan.rewards import molecule_properties

THRESHOLDS = (0.5, 0.55, 0.6, 0.65)
SAMPLES = 10_000
"""Samples per evaluation (the issue's quality bar)."""
BARS = ((0.95, 0.5), (1.0, 0.5), (0.95, 0.3))
"""(validity, uniqueness) pairs at which the memoriser ceiling is computed."""
SEED_QED = 0.55
"""QM9 molecules at least this drug-like seed the one-atom neighbour search."""
ELEMENTS = (6, 7, 8, 9)
"""QM9's heavy elements: C, N, O, F."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    table = molecule_properties(read_smiles(QM9_PATH), ["qed"])
    qed = table["qed"]
    order = np.argsort(-qed)
    report = {
        "n": int(len(qed)),
        "mean": float(qed.mean()),
        "max": float(qed.max()),
        **{f"n_qed_ge_{t}": int((qed >= t).sum()) for t in THRESHOLDS},
        "top": [[str(table["smiles"][i]), round(float(qed[i]), 4)] for i in order[:10]],
    }
    by_molecule = dict(zip(table["smiles"].tolist(), qed.tolist()))  # one entry per molecule
    train = set(molecule_properties(read_smiles(QM9_SPLITS["train"]), [])["smiles"].tolist())
    sources = {
        "QM9 train split": np.array([q for s, q in by_molecule.items() if s in train]),
        "all of QM9": np.array(list(by_molecule.values())),
    }
    report["memoriser"] = [
        {
            "source": name,
            "molecules": int(len(values)),
            "validity": validity,
            "uniqueness": uniqueness,
            "best_mean_qed": round(
                best_memoriser(values, round(validity * SAMPLES), uniqueness), 4
            ),
        }
        for name, values in sources.items()
        for validity, uniqueness in BARS
    ]
    seeds = [s for s, q in by_molecule.items() if q >= SEED_QED]
    neighbours = one_atom_neighbours(seeds, known=set(by_molecule))
    high = sorted((s for s, q in neighbours.items() if q >= 0.6), key=neighbours.get)[::-1]
    report["one_atom_neighbours"] = {
        "seeds": len(seeds),
        "seed_qed": SEED_QED,
        "novel_valid": len(neighbours),
        "n_qed_ge_0.6": len(high),
        "examples_qed_ge_0.6": high[:: max(1, len(high) // 12)][:12],
    }
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)


def best_memoriser(qed: np.ndarray, draws: int, uniqueness: float) -> float:
    """The largest mean QED of ``draws`` independent draws from molecules with scores ``qed``
    whose expected number of distinct molecules is at least ``uniqueness * draws``.

    For multipliers ``mu`` (distinct count) and ``nu`` (total probability) the Lagrangian is
    maximised molecule by molecule: ``q_i + mu n (1 - p_i)^(n-1) = nu``, so
    ``p_i = 1 - ((nu - q_i) / (mu n))^(1 / (n-1))`` where that is positive, else 0. ``nu`` is
    found by bisection so that ``sum p = 1``, then ``mu`` by bisection so that the distinct
    count meets the bound. The programme is concave, so this is the global optimum.

    Examples:
        Two molecules scored 1 and 0, two draws: 1.5 distinct on average needs
        ``2 p (1 - p) >= 0.5``, so ``p = 1/2``; one distinct is free, so always draw the best.

        >>> q = np.array([1.0, 0.0])
        >>> round(best_memoriser(q, 2, 0.75), 3), round(best_memoriser(q, 2, 0.5), 3)
        (0.5, 1.0)
    """
    q = np.sort(np.asarray(qed, dtype=np.float64))[::-1]
    n, target = draws, uniqueness * draws
    if target > len(q):
        raise ValueError(f"{len(q)} molecules cannot give {target:.0f} distinct ones")

    def probabilities(mu: float) -> np.ndarray:
        lo, hi = q[0], q[0] + mu * n  # sum p(nu) falls from >= 1 at nu = q[0] to 0 at hi
        for _ in range(100):
            nu = (lo + hi) / 2
            lo, hi = (nu, hi) if _probs(q, mu * n, nu, n).sum() > 1 else (lo, nu)
        p = _probs(q, mu * n, hi, n)
        return p / p.sum()

    def distinct(p: np.ndarray) -> float:
        return float(-np.expm1(n * np.log1p(-np.minimum(p, 1 - 1e-15))).sum())

    lo, hi = 1e-12, 1e3  # distinct(p(mu)) grows with mu
    if distinct(probabilities(lo)) >= target:
        return float(q[0])
    for _ in range(200):
        mu = np.sqrt(lo * hi)
        lo, hi = (mu, hi) if distinct(probabilities(mu)) < target else (lo, mu)
    return float(probabilities(hi) @ q)


def one_atom_neighbours(seeds: list[str], known: set[str]) -> dict[str, float]:
    """QED of the valid molecules one element change (C, N, O, F) away from ``seeds``, not in
    ``known``: canonical SMILES -> QED.

    Each seed is kekulised and one heavy atom's element is replaced; hydrogen counts are then
    recomputed from valence, and RDKit's sanitisation decides validity (bonds are unchanged, so
    the result stays one fragment of at most 9 heavy atoms).
    """
    found: dict[str, float] = {}
    with quiet_rdkit():
        for smiles in seeds:
            mol = Chem.MolFromSmiles(smiles)
            Chem.Kekulize(mol, clearAromaticFlags=True)
            for atom in mol.GetAtoms():
                for element in ELEMENTS:
                    if element == atom.GetAtomicNum():
                        continue
                    edited = Chem.RWMol(mol)
                    edited.GetAtomWithIdx(atom.GetIdx()).SetAtomicNum(element)
                    for each in edited.GetAtoms():
                        each.SetNumExplicitHs(0)
                        each.SetNoImplicit(False)
                    try:
                        Chem.SanitizeMol(edited)
                    except Exception:  # noqa: BLE001  (RDKit raises several kinds)
                        continue
                    canonical = Chem.MolToSmiles(edited)
                    parsed = Chem.MolFromSmiles(canonical)  # strict: the SMILES must read back
                    if parsed is not None and canonical not in known and canonical not in found:
                        found[canonical] = QED.qed(parsed)
    return found


def _probs(q: np.ndarray, scale: float, nu: float, n: int) -> np.ndarray:
    ratio = (nu - q) / scale
    return np.where(ratio >= 1, 0.0, 1 - np.clip(ratio, 0, 1) ** (1 / (n - 1)))


if __name__ == "__main__":
    main()
