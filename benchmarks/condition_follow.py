"""How well a conditioned model gives the classes it is asked for (docs/results.md, "Conditions").

For each condition of the model and each of its classes that the training data holds, draws
``-n`` samples with that class fixed (the other conditions follow the data given it) and prints
the strict validity and the share of valid samples that have the class asked for. A model that
ignores its conditions scores each class's share of its unconditioned samples; one that follows
them scores 1.

Usage: python benchmarks/condition_follow.py CHECKPOINT [-n 2000] [--seed 0] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from molgan.conditions import CONDITIONS, ConditionError, label_molecules
from molgan.model import MolGAN


def follow_table(model: MolGAN, n: int, seed: int) -> list[dict]:
    """One row per (condition, class): samples drawn, validity, share of valid with the class."""
    prior = model.generator.prior
    rows = []
    for k, name in enumerate(model.conditions):
        condition = CONDITIONS[name]
        for index in range(prior.sizes[k]):
            try:
                data_share = prior.restricted({name: index}).sum().item()
            except ConditionError:
                continue  # no training molecule has this class
            value = index + condition.offset
            mols = model.sample_mols(n, seed=seed, condition={name: value})
            valid = [mol for mol in mols if mol is not None]
            got = torch.as_tensor(label_molecules(valid, [name])[:, 0])
            rows.append(
                {
                    "condition": f"{name}={value}",
                    "data_share": round(data_share, 4),
                    "validity": round(len(valid) / n, 4),
                    "followed": round((got == index).float().mean().item(), 4) if valid else None,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a checkpoint of a model with [model] conditions")
    parser.add_argument("-n", type=int, default=2000, help="samples per class (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    model = MolGAN.load(args.checkpoint)
    if not model.conditions:
        raise SystemExit(f"{args.checkpoint}: the model has no conditions")
    rows = follow_table(model, args.n, args.seed)
    print(f"{args.checkpoint}: {args.n} samples per class, seed {args.seed}")
    print("| asked | share of the data | validity | valid samples with the class |")
    print("|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['condition']} | {row['data_share']:.3f} | {row['validity']:.3f} | "
            f"{row['followed'] if row['followed'] is not None else 'n/a'} |"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
