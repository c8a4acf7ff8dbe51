"""MolGAN's objective table on QM9, for molgan's shipped models (docs/results.md).

For each model: ``molgan sample`` draws N samples (seed 0, invalid ones kept as empty lines),
``molgan evaluate`` scores them with the strict metrics, and ``molgan score`` gives the mean
normalised rewards over the valid molecules (MolGAN's normalisation). The QM9 test split is
scored the same way as a reference row. Everything goes through the command line, so each
number is one a user reproduces with the same three commands.

Usage: python benchmarks/objectives.py [--models qm9 qm9-qed runs/qm9-sa/best ...] [-n 10000]
       [--out runs/objectives]
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from molgan.cli import main as molgan
from molgan.data import QM9_SPLITS

COLUMNS = ("validity", "uniqueness", "novelty", "intdiv1", "fcd", "qed", "sa", "logp", "np")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["qm9", "qm9-qed"])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("runs/objectives"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    train = str(QM9_SPLITS["train"])
    rows = {}
    sources = {"QM9 test split": str(QM9_SPLITS["test"])}
    for model in args.models:
        label = _label(model)
        path = args.out / f"{label}.smi"
        n = str(args.n)
        _run(["sample", "--checkpoint", model, "-n", n, "--keep-invalid", "-o", str(path)])
        sources[label] = str(path)
    for name, path in sources.items():
        stem = args.out / name.replace(" ", "_")
        # The QM9 row is scored against the validation split, so it is not its own reference.
        reference = str(QM9_SPLITS["valid"] if name.startswith("QM9") else QM9_SPLITS["test"])
        _run(["evaluate", path, "--train", train, "--test", reference, "--json", f"{stem}.json"])
        _run(["score", path, "--json", f"{stem}.scores.json"])
        metrics = json.loads(Path(f"{stem}.json").read_text())
        metrics.update(json.loads(Path(f"{stem}.scores.json").read_text()))
        rows[name] = metrics
    table = _markdown(rows, args.n)
    print(table)
    (args.out / "table.md").write_text(table + "\n")
    (args.out / "table.json").write_text(json.dumps(rows, indent=2) + "\n")


def _label(model: str) -> str:
    """``qm9-qed`` for a shipped name, ``qm9-sa`` for ``runs/qm9-sa/best``."""
    path = Path(model)
    return path.parent.name if path.name in ("best", "checkpoint") else path.name


def _run(argv: list[str]) -> None:
    print("$ molgan " + " ".join(argv), flush=True)
    if molgan(argv) != 0:
        raise SystemExit(f"molgan {argv[0]} failed")


def _markdown(rows: dict[str, dict], n: int) -> str:
    caption = (
        f"{date.today()}: {n} samples per model (seed 0); QM9 row: the test split. "
        "qed/sa/logp/np: mean normalised reward over valid molecules."
    )
    return metrics_table(caption, rows, COLUMNS)


def metrics_table(caption: str, rows: dict[str, dict], columns: tuple[str, ...]) -> str:
    """A caption, then one markdown row per source (``n/a`` where a metric is undefined)."""
    lines = [
        caption,
        "",
        "| source | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for name, metrics in rows.items():
        cells = ["n/a" if metrics.get(k) is None else f"{metrics[k]:.3f}" for k in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
