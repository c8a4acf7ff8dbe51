"""How well a feedback run's kept codes carry their reward to the codes around them.

A feedback run (``[reward] estimator = "feedback"``, ``molgan/feedback.py``) keeps the codes of the
best-scoring molecules G has drawn, and G learns to draw codes like them. That pays only as far as
codes near a kept code decode to molecules as good as its own. This script takes a training
checkpoint's kept codes, adds isotropic Gaussian noise of each ``--noise`` scale (codes have unit
variance per dimension), decodes them as the model samples (argmax after the refiner's passes) and
prints, per scale: the share that decodes to the kept molecule itself, the share strictly valid,
and the mean QED of the valid ones.
Used in docs/results.md ("Drug-likeness on MOSES").

Usage: python benchmarks/feedback_memory.py runs/moses-qed/checkpoint --noise 0 0.05 0.1 0.2 0.3
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from latent_ablation import decode

from molgan.checkpoint import load_checkpoint
from molgan.model import MolGAN
from molgan.rewards import molecule_properties


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a feedback run's training checkpoint")
    parser.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3])
    parser.add_argument("-n", type=int, default=2048, help="kept codes drawn per scale")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    checkpoint = load_checkpoint(args.checkpoint)
    if "feedback" not in checkpoint.weights:
        parser.error(f"{args.checkpoint}: no feedback memory (not a feedback run's checkpoint)")
    kept = checkpoint.weights["feedback"]["codes"]
    names = checkpoint.extra["feedback_smiles"]
    model = MolGAN.load(args.checkpoint)
    rng = torch.Generator().manual_seed(args.seed)
    rows = torch.randint(len(kept), (args.n,), generator=rng)
    print(f"{len(kept)} kept codes; {args.n} drawn per scale, seed {args.seed}")
    print("| noise | decodes to the kept molecule | strictly valid | mean QED |")
    print("|---|---|---|---|")
    with torch.no_grad():
        for scale in args.noise:
            start = kept[rows]
            codes = start + scale * torch.randn(start.shape, generator=rng)
            smiles = decode(model.generator.decode, codes, model.vocab)
            same = np.mean([s == names[i] for s, i in zip(smiles, rows.tolist())])
            valid = [s for s in smiles if s is not None]
            qed = molecule_properties(valid, ["qed"])["qed"] if valid else np.full(1, np.nan)
            print(f"| {scale:g} | {same:.3f} | {len(valid) / len(smiles):.3f} | {qed.mean():.3f} |")


if __name__ == "__main__":
    main()
