"""Streaming sampling on all cores: molecules/s, peak memory, and RDKit's own round trip.

For each ``--jobs`` value, runs ``molgan sample -n N --keep-invalid --jobs J`` in a fresh process
and records its wall time, the wall time of the same command with ``-n 1`` (start-up: imports,
loading the model, starting the workers), and the peak memory of its whole process tree (the
sampler and its decoding workers: the sum of their proportional set sizes, so pages the forked
workers share are counted once, polled every 0.1 s from /proc). Molecules/s are over the wall
time minus start-up. Then, in this process, times RDKit's
own SMILES round trip (``MolFromSmiles`` + ``MolToSmiles``) of the same molecules on one core:
the scale issue asks for a per-core throughput of at least 0.7 of it. The outputs of every
``--jobs`` value are compared byte for byte (the output must not depend on it).

Usage: python benchmarks/sample_stream.py [--model qm9-molgan] [-n 1000000] [--jobs 1 2]
       [--device cuda]
Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rdkit import Chem, RDLogger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qm9-molgan")
    parser.add_argument("-n", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rdkit-sample", type=int, default=100_000, help="molecules timed")
    parser.add_argument("--device", default="cpu", help="where the generator runs")
    args = parser.parse_args()
    print(f"model {args.model} on {args.device}, n = {args.n:,}")
    print(
        "| jobs | wall (s) | start-up (s) | mol/s | mol/s per job | peak PSS, all processes (MiB) |"
    )
    print("|---|---|---|---|---|---|")
    digests, rates = set(), {}
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in args.jobs:
            out = Path(tmp) / f"s{jobs}.smi"

            def command(n: int, out: Path = out, jobs: int = jobs) -> list[str]:
                argv = [sys.executable, "-m", "molgan", "sample", "--checkpoint", args.model]
                argv += ["--device", args.device, "-n", str(n), "-o", str(out)]
                return [*argv, "--keep-invalid", "--jobs", str(jobs)]

            startup, _ = _run_polling_memory(command(1))
            seconds, peak = _run_polling_memory(command(args.n))
            digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
            rates[jobs] = args.n / (seconds - startup)
            print(
                f"| {jobs} | {seconds:.1f} | {startup:.1f} | {rates[jobs]:,.0f} | "
                f"{rates[jobs] / jobs:,.0f} | {peak / 2**20:,.0f} |",
                flush=True,
            )
        valid = [s for s in out.read_text().splitlines() if s][: args.rdkit_sample]
    print(f"\noutputs identical for every --jobs: {len(digests) == 1}")
    RDLogger.DisableLog("rdApp.*")
    start = time.perf_counter()
    for smiles in valid:
        Chem.MolToSmiles(Chem.MolFromSmiles(smiles))
    rdkit_rate = len(valid) / (time.perf_counter() - start)
    print(
        f"RDKit round trip of {len(valid):,} of the same molecules, one core: {rdkit_rate:,.0f}/s"
    )
    for jobs, rate in rates.items():
        print(
            f"jobs {jobs}: per-job throughput / RDKit round trip = {rate / jobs / rdkit_rate:.2f}"
        )


def _run_polling_memory(argv: list[str]) -> tuple[float, int]:
    """Run ``argv``; return its wall time and the peak summed PSS of its process tree (bytes)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(_pss(pid) for pid in _tree(proc.pid)))
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(proc.stderr.read().decode()[-2000:])
    return seconds, peak


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return pids


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    main()
