"""Training throughput of molgan's trainer at MolGAN's sizes (batch 32) and at a large batch.

A step is one discriminator update on ``batch`` real and ``batch`` generated graphs, plus a
generator update every ``n_critic`` (5) steps; molecules/s = batch x steps / s (real molecules
seen by the critic). The "RDKit-in-step" row emulates a plain MolGAN port, which decodes and
scores every generated batch with RDKit in the training process: the same trainer plus a strict
RDKit validity check of each step's fake batch. The "RL (QED)" row is molgan's own RL step
(``[reward] terms = ["qed", "uniqueness"]``, no warm-up): the reward network's update and the
generator's RL term run in the step, while RDKit scores the previous fake batch in worker
processes (``[reward] n_jobs``).

Usage: python benchmarks/train_speed.py [--device cpu|cuda] [--batches 32 1024] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date

import torch

from molgan.chem import quiet_rdkit, strict_smiles
from molgan.config import Config
from molgan.data import QM9_SPLITS, MoleculeDataset
from molgan.graph import graphs_to_mols
from molgan.sampling import logits_to_graph
from molgan.training import Trainer, resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 1024])
    parser.add_argument("--seconds", type=float, default=20.0, help="timed budget per row")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    device = resolve_device(args.device)
    dataset = MoleculeDataset(QM9_SPLITS["train"], progress=False)
    rows = []
    for batch in args.batches:
        rows.append(_measure(dataset, batch, device, args.seconds, rdkit_in_step=False))
    rows.append(_measure(dataset, args.batches[0], device, args.seconds, rdkit_in_step=True))
    for batch in args.batches:
        rows.append(_measure(dataset, batch, device, args.seconds, rl=True))
    info = {
        "date": date.today().isoformat(),
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "rows": rows,
    }
    for row in rows:
        print(
            f"{row['mode']:<16} batch {row['batch']:>5}: {row['steps_per_s']:8.1f} steps/s "
            f"{row['mol_per_s']:10.0f} mol/s"
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(info, handle, indent=2)


def _measure(
    dataset, batch: int, device, seconds: float, rdkit_in_step: bool = False, rl: bool = False
) -> dict:
    config = Config().replace(
        train={
            "batch_size": batch,
            "structure_weight": 1.0,
            "log_every": 10**9,
            "eval_every": 10**9,
        },
        reward={"terms": ("qed", "uniqueness"), "warmup": 0.0} if rl else {},
    )
    trainer = Trainer(config, dataset.vocab, dataset.graphs, device=device, progress=False)

    def step() -> None:
        trainer.train_step()
        if rdkit_in_step:  # what a port does: decode and score each fake batch with RDKit
            with torch.no_grad(), quiet_rdkit():
                logits = trainer.generator(trainer.generator.sample_z(batch, trainer.rng))
                mols = graphs_to_mols(logits_to_graph(logits), dataset.vocab)
                [strict_smiles(m) for m in mols]

    for _ in range(10):  # warm-up
        step()
    _sync(device)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            step()
        steps += 10
        _sync(device)
    elapsed = time.perf_counter() - start
    if trainer.rewards is not None:
        trainer.rewards.close()
    return {
        "mode": "RDKit-in-step" if rdkit_in_step else "RL (QED)" if rl else "molgan",
        "batch": batch,
        "steps_per_s": steps / elapsed,
        "mol_per_s": steps * batch / elapsed,
    }


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    main()
