"""Train a latent-family recipe within a wall-clock budget: measure its step rates, then size it.

The autoencoder's one-cycle learning rate needs its total number of steps before the first
one, so a fixed time (a lent GPU's few minutes) cannot simply stop a run. This script featurises
the recipe's data, times a few autoencoder and latent-GAN steps on the device, and then trains
the recipe with ``[autoencoder] steps`` and ``[train] steps`` chosen to fill ``--seconds``
(``--gan-share`` of it for the GAN stage), evaluating and checkpointing ten times on the way.
A recipe with ``[autoencoder] steps = 0`` (one that starts from ``init_from``, such as a refiner
stage) has no autoencoder stage: its GAN stage gets the whole budget.
It prints and writes (``--json``) the featurising time, the rates and the steps it chose.
``--smoke`` runs the recipe on its first 3,000 molecules at batch 32 (``--init-from`` points a
refiner stage at a smoke run): bugs only a GPU shows stop a device call in seconds, not after
the featurising of the whole set.

Usage: python benchmarks/timed_recipe.py --config configs/moses-latent-gpu.toml --device cuda \
           --seconds 330 --out runs/moses-gpu [--gan-share 0.2] [--json FILE] [--smoke]
           [--init-from CHECKPOINT]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from train_speed import steps_per_second, warm_up

from molgan.config import Config, load_config
from molgan.graph import MolGraph
from molgan.model import load_training_graphs
from molgan.training import Trainer, resolve_device
from molgan.vocab import Vocabulary

_PROBE_SECONDS = 10.0  # timed per stage, after 10 untimed steps
_SAFETY = 0.85  # share of the budget planned for steps: evaluations and checkpoints take the rest
_SMOKE_MOLECULES = 3000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--device", default=None)
    parser.add_argument("--seconds", type=float, required=True, help="training budget")
    parser.add_argument("--gan-share", type=float, default=0.2)
    parser.add_argument("--json", default=None)
    parser.add_argument("--smoke", action="store_true", help="3,000 molecules at batch 32")
    parser.add_argument("--init-from", default=None, help="replaces [train] init_from")
    args = parser.parse_args()
    device = resolve_device(args.device)
    config = load_config(args.config)
    if args.smoke:
        config = config.replace(
            data={"limit": _SMOKE_MOLECULES},
            autoencoder={"batch_size": 32},
            train={"batch_size": 32, "eval_samples": 100},
        )
    if args.init_from:
        config = config.replace(train={"init_from": args.init_from})
    if config.model.kind != "latent":
        raise SystemExit(f"{args.config}: timed_recipe.py sizes the latent family's two stages")
    start = time.perf_counter()
    vocab, graphs = load_training_graphs(config, progress=False)
    report = {"molecules": len(graphs.atoms), "featurize_s": time.perf_counter() - start}
    gan_share = args.gan_share if config.autoencoder.steps else 1.0
    ae_rate = 0.0
    if gan_share < 1.0:
        ae_rate = _rate(config.replace(autoencoder={"steps": 10**9}), vocab, graphs, device)
    gan_rate = _rate(config.replace(autoencoder={"steps": 0}), vocab, graphs, device)
    ae_steps = int(ae_rate * args.seconds * (1 - gan_share) * _SAFETY)
    gan_steps = max(1, int(gan_rate * args.seconds * gan_share * _SAFETY))
    every = max(1, (ae_steps + gan_steps) // 10)
    run = config.replace(
        autoencoder={"steps": ae_steps},
        train={"steps": gan_steps, "eval_every": every, "checkpoint_every": every},
    )
    report.update(
        ae_steps_per_s=ae_rate, gan_steps_per_s=gan_rate, ae_steps=ae_steps, gan_steps=gan_steps
    )
    print(json.dumps(report), flush=True)
    start = time.perf_counter()
    # The graphs loaded above: MolGAN.train would read the data and derive its vocabulary again.
    Trainer(run, vocab, graphs, device=device, out_dir=args.out).fit()
    report["train_s"] = time.perf_counter() - start
    print(json.dumps(report), flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)


def _rate(config: Config, vocab: Vocabulary, graphs: MolGraph, device: torch.device) -> float:
    """Steps per second of ``config``'s first stage on ``device`` (a throwaway trainer)."""
    trainer = Trainer(config, vocab, graphs, device=device, progress=False)
    warm_up(trainer.train_step, device)  # the GAN stage's first step also encodes every graph
    rate = steps_per_second(trainer.train_step, device, _PROBE_SECONDS)
    trainer.module.close()
    return rate


if __name__ == "__main__":
    main()
