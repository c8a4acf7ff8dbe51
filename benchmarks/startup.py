"""Start-up time of the command line against ``import torch`` (docs/benchmarks.md).

Runs each command ``--repeats`` times in fresh interpreters, alternating them so that a busy
machine slows both alike, and prints the median wall time of each. The goal of the scale issue:
``molgan --help`` and ``molgan --version`` take at most half as long as ``import torch``.

Usage: python benchmarks/startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "molgan --version": [sys.executable, "-m", "molgan", "--version"],
    "molgan --help": [sys.executable, "-m", "molgan", "--help"],
    "python -c 'import molgan'": [sys.executable, "-c", "import molgan"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, argv in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    torch_s = statistics.median(times["python -c 'import torch'"])
    print("| command | median wall time (s) | vs import torch |\n|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| `{name}` | {median:.3f} | {median / torch_s:.2f} |")


if __name__ == "__main__":
    main()
