"""Time every input command on every file of the hostile corpus, as a user would run them.

Each command runs in a fresh ``python -m molgan`` process (start-up included) on each file of
``tests/data/hostile``; the table gives the wall time, the exit code and the last line molgan
printed to stderr. The hardening issue asks that no hostile file take more than a few seconds.
``evaluate`` uses ``tests/data/tiny.smi`` as its training and reference set, so that its time
is the input's, not QM9's.

Usage: python benchmarks/hostile.py [--commands evaluate "data stats" filter score]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "hostile"
TINY = ROOT / "tests" / "data" / "tiny.smi"

COMMANDS = {
    "evaluate": lambda f, out: ["evaluate", f, "--train", str(TINY), "--test", str(TINY)],
    "data stats": lambda f, out: ["data", "stats", f, "--vocab", "data"],
    "filter": lambda f, out: ["filter", f, "-o", str(out / "kept.smi")],
    "score": lambda f, out: ["score", f, "--rewards", "qed"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", nargs="+", default=list(COMMANDS), choices=list(COMMANDS))
    args = parser.parse_args()
    files = sorted(p for p in CORPUS.iterdir() if p.name not in ("make.py", "README.md"))
    print("| file | command | exit | seconds | last line on stderr |\n|---|---|---|---|---|")
    slowest = (0.0, "")
    for path in files:
        for name in args.commands:
            with tempfile.TemporaryDirectory() as out:
                argv = [sys.executable, "-m", "molgan", *COMMANDS[name](str(path), Path(out))]
                start = time.perf_counter()
                done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
                seconds = time.perf_counter() - start
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            last = lines[-1].replace(str(CORPUS) + "/", "").replace("|", "\\|") if lines else ""
            if "\r" in last or "it/s" in last or "step/s" in last:
                last = "(progress bar)"
            print(f"| `{path.name}` | {name} | {done.returncode} | {seconds:.1f} | {last[:110]} |")
            slowest = max(slowest, (seconds, f"{name} {path.name}"))
    print(f"\nslowest: {slowest[1]} in {slowest[0]:.1f} s")


if __name__ == "__main__":
    main()
