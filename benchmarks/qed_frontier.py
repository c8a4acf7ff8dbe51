"""The QED / uniqueness trade-off of the QED model under other rewards and critics (results.md).

Issue 4's bar asks one model for mean QED >= 0.60 with >= 95 % validity and >= 50 % uniqueness
(10,000 samples). This script asks whether any reward moves the MolGAN generator there: it
fine-tunes the shipped ``checkpoints/qm9-qed`` for 3,000 more REINFORCE steps under each variant
of ``configs/qm9-qed.toml`` in :data:`VARIANTS`, then scores every final checkpoint (and the
starting model) with ``benchmarks/objectives.py``, i.e. ``molgan sample`` -> ``molgan evaluate``
-> ``molgan score`` on 10,000 samples, seed 0.

Each run takes about 5 minutes on the 2-core CPU box; two run at a time, one thread each. A
variant whose ``OUT/NAME/checkpoint`` exists is not trained again, only scored.

Usage: python benchmarks/qed_frontier.py [--out runs/qed-frontier] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import torch

BASE = "configs/qm9-qed.toml"
START = "checkpoints/qm9-qed"
STEPS = 3000

VARIANTS: dict[str, dict[str, dict[str, object]]] = {
    # QED alone: what the generator reaches when nothing pays for new molecules (MolGAN's RL).
    "qed-only": {"reward": {"terms": ("qed",)}},
    # QED plus a small or larger additive bonus for a molecule not seen in the last 8,192 samples.
    "qed+0.1u": {"reward": {"combine": "mean", "weights": (1.0, 0.1), "window": 8192}},
    "qed+0.3u": {"reward": {"combine": "mean", "weights": (1.0, 0.3), "window": 8192}},
    # The small bonus with a 10x stronger mode-seeking term (different z, different graphs).
    "qed+0.1u-ms": {
        "reward": {"combine": "mean", "weights": (1.0, 0.1), "window": 8192},
        "train": {"diversity_weight": 1.0},
    },
    # The shipped product reward with a longer memory: no adversarial term, or a 3x RL scale.
    "qedxu-rl-only": {"reward": {"gan_weight": 0.0, "window": 8192}},
    "qedxu-scale30": {"reward": {"reinforce_scale": 30.0, "window": 8192}},
    # The shipped reward, with a critic that sees only the train split's molecules of QED >= 0.55,
    # so the adversarial term pulls towards drug-like QM9 molecules instead of all of QM9.
    "qedxu-data55": {"min_qed": 0.55},
}
"""Overrides of ``configs/qm9-qed.toml`` (``[reward]``, ``[train]``, and ``min_qed``: train the
critic on the QM9 train molecules of at least that QED); each starts at ``START``."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/qed-frontier"))
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--train", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train:  # one training run, in its own process (the parent runs two at a time)
        train_variant(args.train, args.out / args.train)
        return
    runs = [name for name in args.only if not (args.out / name / "checkpoint").is_dir()]
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for pair in (runs[i : i + 2] for i in range(0, len(runs), 2)):
        procs = []
        for name in pair:
            cmd = [sys.executable, __file__, "--train", name, "--out", str(args.out)]
            with open(args.out / f"{name}.log", "w") as log:
                procs.append((name, subprocess.Popen(cmd, env=env, stdout=log, stderr=log)))
        for name, proc in procs:
            if proc.wait() != 0:
                raise SystemExit(f"training {name} failed; see {args.out / name}.log")
    models = [START, *(str(args.out / name / "checkpoint") for name in args.only)]
    script = Path(__file__).with_name("objectives.py")
    cmd = [sys.executable, str(script), "--models", *models, "--out", str(args.out / "table")]
    subprocess.run(cmd, check=True)


def train_variant(name: str, out: Path) -> None:
    """Fine-tune ``START`` for ``STEPS`` steps with the variant's overrides."""
    from molgan.config import load_config
    from molgan.model import MolGAN

    torch.set_num_threads(1)
    variant = VARIANTS[name]
    train = {"init_from": START, "steps": STEPS, "keep_best": "", **variant.get("train", {})}
    config = load_config(BASE).replace(train=train, reward=variant.get("reward", {}))
    if "min_qed" in variant:
        subset = drug_like_subset(variant["min_qed"], out.parent)
        config = config.replace(data={"path": str(subset)})
    MolGAN.train(config, out, progress=False)


def drug_like_subset(min_qed: float, folder: Path) -> Path:
    """Write the QM9 train split's molecules with QED >= ``min_qed`` to a SMILES file.

    The same as ``molgan filter data/splits/qm9_train.csv.gz --filters 'qed>=MIN' -o PATH``.
    """
    from molgan.data import QM9_SPLITS
    from molgan.filters import filter_smiles
    from molgan.io import read_smiles, write_smiles

    report = filter_smiles(read_smiles(QM9_SPLITS["train"]), [f"qed>={min_qed:g}"])
    path = folder / f"qm9_train_qed{min_qed:g}.smi"
    write_smiles(path, report.kept)
    print(f"{path}: {len(report.kept)} molecules with QED >= {min_qed:g}")
    return path


if __name__ == "__main__":
    main()
