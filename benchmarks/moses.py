"""MOSES evaluation of molgan models (docs/results.md): both FCD protocols, and the data's floor.

Every row is ``molgan sample --keep-invalid --seed 0`` followed by ``molgan evaluate`` on the file
it wrote, with novelty against the whole MOSES training set (1,584,663 molecules):

- **10k protocol** (the quality bar of the MOSES issue): 10,000 samples against 10,000 random
  molecules of MOSES's test set and 10,000 of its scaffold test set (TestSF), drawn with
  numpy ``default_rng(0)`` and written to ``OUT/moses_{test,testsf}_10k.smi``. The floor row
  evaluates a disjoint random 10,000 of the test set (``OUT/moses_test_10k_b.smi``) the same way:
  two samples of the data itself score this FCD.
- **MOSES protocol** (``--moses-protocol``): 30,000 samples against the whole test set (176,074)
  and the whole TestSF (176,225), with our ChemNet (the ``fcd`` package), not the statistics in
  the ``molsets`` wheel, which come from another ChemNet build (``data/moses/README.md``).

Sample files and reports already in ``OUT`` are reused (delete them to redo a row). Prints a
markdown table.

Usage: python benchmarks/moses.py [--model moses] [--model runs/x/best] [-n 10000]
       [--moses-protocol] [--out runs/moses-eval]
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np
from objectives import _label, _run, metrics_table

from molgan.data import MOSES_SPLITS
from molgan.io import read_smiles, write_smiles

COLUMNS = (
    "validity",
    "unique@1k",
    "unique@10k",
    "novelty",
    "filters",
    "fcd",
    "fcd_testsf",
    "snn",
    "snn_testsf",
    "frag",
    "scaf",
    "scaf_testsf",
    "intdiv1",
    "intdiv2",
    "w1_logp",
    "w1_sa",
    "w1_qed",
    "w1_weight",
    "qed_mean",
)
REFERENCE_SIZE = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="checkpoint or shipped name")
    parser.add_argument("-n", type=int, default=10_000, help="samples per model (10k protocol)")
    parser.add_argument("--moses-protocol", action="store_true", help="also 30k vs the full sets")
    parser.add_argument("--out", type=Path, default=Path("runs/moses-eval"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    refs = write_references(args.out)
    rows = {"MOSES test (another 10k)": evaluate(refs["floor"], refs, "test", args.out)}
    for model in args.model or ["moses"]:
        samples = sample(model, args.n, args.out)
        rows[f"{_label(model)} ({args.n // 1000}k)"] = evaluate(samples, refs, "test", args.out)
        if args.moses_protocol:
            samples = sample(model, 30_000, args.out)
            full = {"test": MOSES_SPLITS["test"], "testsf": MOSES_SPLITS["test_scaffolds"]}
            rows[f"{_label(model)} (30k, full sets)"] = evaluate(samples, full, "full", args.out)
    table = markdown(rows)
    print(table)
    (args.out / "table.md").write_text(table + "\n")


def write_references(out: Path) -> dict[str, Path]:
    """Random 10,000-molecule draws of the test and TestSF sets, and a disjoint test draw."""
    paths = {name: out / f"moses_{name}.smi" for name in ("test_10k", "testsf_10k", "test_10k_b")}
    if all(p.exists() for p in paths.values()):
        return {
            "test": paths["test_10k"],
            "testsf": paths["testsf_10k"],
            "floor": paths["test_10k_b"],
        }
    rng = np.random.default_rng(0)
    test = read_smiles(MOSES_SPLITS["test"])
    order = rng.permutation(len(test))
    write_smiles(paths["test_10k"], [test[i] for i in order[:REFERENCE_SIZE]])
    write_smiles(paths["test_10k_b"], [test[i] for i in order[REFERENCE_SIZE : 2 * REFERENCE_SIZE]])
    testsf = read_smiles(MOSES_SPLITS["test_scaffolds"])
    picked = rng.choice(len(testsf), REFERENCE_SIZE, replace=False)
    write_smiles(paths["testsf_10k"], [testsf[i] for i in picked])
    return {"test": paths["test_10k"], "testsf": paths["testsf_10k"], "floor": paths["test_10k_b"]}


def sample(model: str, n: int, out: Path) -> Path:
    """``molgan sample`` of ``n`` molecules (seed 0, invalid ones kept as empty lines)."""
    path = out / f"{_label(model)}-{n}.smi"
    if not path.exists():
        _run(["sample", "--checkpoint", model, "-n", str(n), "--keep-invalid", "-o", str(path)])
    return path


def evaluate(samples: Path, refs: dict[str, Path], tag: str, out: Path) -> dict:
    """``molgan evaluate`` against the MOSES training set and the two references."""
    report = out / f"{samples.stem}-{tag}.json"
    if not report.exists():
        argv = ["evaluate", str(samples), "--train", str(MOSES_SPLITS["train"])]
        argv += ["--test", str(refs["test"]), "--test-sf", str(refs["testsf"])]
        _run([*argv, "--json", str(report)])
    return json.loads(report.read_text())


def markdown(rows: dict[str, dict]) -> str:
    """The rows as a markdown table (``n/a`` where a metric is undefined)."""
    caption = (
        f"{date.today()}: `python benchmarks/moses.py`; strict validity, novelty against all "
        "1,584,663 MOSES training molecules."
    )
    return metrics_table(caption, rows, COLUMNS)


if __name__ == "__main__":
    main()
