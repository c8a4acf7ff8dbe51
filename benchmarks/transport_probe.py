"""Where discriminator optimal transport puts a latent model's samples, in its code space.

For ``-n`` draws of G's noise (seed 0) prints DOT's estimate of ``K`` (the largest slope of the
latent critic through G over pairs of draws, :func:`molgan.models.transport.lipschitz_estimate`),
then, for G's own codes and after each number of ``--steps``, how far the noise and the codes
moved (medians), the median distance from a code to the nearest code of a training molecule, and
the critic's mean score. For reference, codes of held-out QM9 test molecules lie at a median 3.5
from the nearest training code (docs/results.md, "What FCD measures here").

Usage: python benchmarks/transport_probe.py RUN [--steps 5 100] [--lipschitz 0.3] [-n 2000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from molgan.checkpoint import load_checkpoint
from molgan.model import load_training_graphs
from molgan.models import GraphEncoder, LatentCritic, build_generator
from molgan.models.transport import CriticTransport, lipschitz_estimate
from molgan.training.latent_family import encode_graphs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a latent-family run or checkpoint")
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 100])
    parser.add_argument("--lipschitz", type=float, default=0.3)
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args()
    checkpoint = load_checkpoint(args.checkpoint)
    config, vocab, weights = checkpoint.config, checkpoint.vocab, checkpoint.weights
    if config.model.kind != "latent" or config.model.conditions:
        parser.error("needs an unconditioned latent-family model")
    generator = build_generator(config.model, vocab).eval().requires_grad_(False)
    generator.load_state_dict(weights.get("generator_ema", weights["generator"]))
    critic = LatentCritic.for_generator(config.model, generator).eval().requires_grad_(False)
    critic.load_state_dict(weights["latent_critic"])
    encoder = GraphEncoder.from_config(config.model, vocab).eval().requires_grad_(False)
    encoder.load_state_dict(weights["encoder"])
    _, train = load_training_graphs(config, progress=False)
    with torch.no_grad():
        train_codes = encode_graphs(encoder, train)
    noise = generator.sample_z(args.n, torch.Generator().manual_seed(0))
    estimate = lipschitz_estimate(lambda z: critic(generator.codes(z)), noise)
    print(f"{args.checkpoint}: K estimate (D o G over pairs of draws) {estimate:.3f}")
    with torch.no_grad():
        codes = generator.codes(noise)
    _report("G's own codes", codes, train_codes, critic)
    for steps in args.steps:
        moved = CriticTransport(critic, steps, args.lipschitz)(generator, noise)
        with torch.no_grad():
            moved_codes = generator.codes(moved)
        noise_move = (moved - noise).norm(dim=1).median()
        code_move = (moved_codes - codes).norm(dim=1).median()
        moves = f"noise moved {noise_move:.2f}, codes {code_move:.2f}"
        _report(f"{steps} steps (K {args.lipschitz}; {moves})", moved_codes, train_codes, critic)


def _report(tag: str, codes: torch.Tensor, train_codes: torch.Tensor, critic) -> None:
    nearest = torch.cat([torch.cdist(c, train_codes).min(1).values for c in codes.split(500)])
    with torch.no_grad():
        score = critic(codes).mean()
    print(f"{tag}: nearest training code, median {nearest.median():.2f}; critic {score:.2f}")


if __name__ == "__main__":
    main()
