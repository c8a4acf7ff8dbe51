"""Data-parallel training throughput: 1 process against K ranks under torchrun, same config.

Each run is ``torchrun --nproc_per_node K -m molgan train --config CONFIG --steps S`` (gloo on the
CPU, NCCL with ``--device cuda``); throughput is training graphs per second over the run's own
training wall time (``seconds`` in its log.csv, start-up excluded): ``S x batch x K / seconds``.
Each rank gets ``OMP_NUM_THREADS = threads // K``, so every run uses the same cores.

Usage: python benchmarks/ddp.py [--config configs/qm9-molgan.toml] [--steps 300] [--ranks 1 2]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from molgan.config import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/qm9-molgan.toml")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    batch = load_config(args.config).train.batch_size
    print(f"{args.config}, {args.steps} steps of batch {batch} per rank, device {args.device}")
    print("| ranks | threads per rank | training wall (s) | graphs/s | speed-up |")
    print("|---|---|---|---|---|")
    base = None
    for ranks in args.ranks:
        threads = max(1, args.threads // ranks)
        with tempfile.TemporaryDirectory() as out:
            argv = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(ranks)]
            argv += ["-m", "molgan", "train", "--config", args.config, "--out", out]
            argv += ["--steps", str(args.steps), "--device", args.device]
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(done.stderr[-3000:])
            with (Path(out) / "log.csv").open() as handle:
                seconds = float(list(csv.DictReader(handle))[-1]["seconds"])
        rate = args.steps * batch * ranks / seconds
        base = base or rate
        print(f"| {ranks} | {threads} | {seconds:.1f} | {rate:,.0f} | {rate / base:.2f} |")


if __name__ == "__main__":
    main()
