"""Sampling throughput of shipped models, in molecules/s, measured in one run (docs/benchmarks.md).

For each checkpoint: the generator alone (noise -> graph class ids, batches of 4,096, no RDKit),
and ``MolGAN.write_samples`` end to end (generation, RDKit decoding, strict canonical SMILES,
writing), each the best of ``--repeats`` timings of ``-n`` molecules.

Usage: OMP_NUM_THREADS=2 python benchmarks/sample_speed.py --models qm9 qm9-molgan [-n 20000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from molgan.model import MolGAN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["qm9"])
    parser.add_argument("-n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}, device {args.device}, n = {args.n}")
    print("| model | family | generator only (mol/s) | end to end with RDKit (mol/s) |")
    print("|---|---|---|---|")
    for name in args.models:
        model = MolGAN.load(name, device=args.device)
        generate = _best(args.repeats, lambda m=model: sum(1 for _ in m.sample_graphs(args.n)))
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "s.smi"
            write = _best(args.repeats, lambda m=model, o=out: m.write_samples(args.n, o))
        rates = f"{args.n / generate:,.0f} | {args.n / write:,.0f}"
        print(f"| {name} | {model.config.model.kind} | {rates} |", flush=True)


def _best(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


if __name__ == "__main__":
    main()
