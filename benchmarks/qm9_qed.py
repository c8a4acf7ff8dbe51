"""How drug-like QM9 can be: the QED distribution of all 133,885 QM9 molecules.

QM9 molecules have at most 9 heavy atoms, and QED (Bickerton et al. 2012) favours molecules of
about 300 Da, so the dataset's QED is capped well below 1. This script gives the ceiling that a
QM9-trained generator's mean QED runs into (docs/results.md).

Usage: python benchmarks/qm9_qed.py [--json runs/qm9_qed.json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from molgan.data import QM9_PATH
from molgan.io import read_smiles
from molgan.rewards import molecule_properties

THRESHOLDS = (0.5, 0.55, 0.6, 0.65)


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
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
