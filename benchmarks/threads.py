"""Training steps/s by torch thread count for each family at its shipped sizes (benchmarks.md).

Each (recipe, threads) row runs in a fresh process (torch fixes its inter-op pool at first use):
``--warmup`` steps, then ``--steps`` timed steps of the recipe's first stage on the first 2,000
molecules of its data. Recipes: ``qm9-molgan`` (the MolGAN family, batch 32, with its RL term
from step 0), ``qm9-latent`` (an autoencoder step, batch 256, N = 9) and ``moses-latent`` (an
autoencoder step, batch 128, N = 27). The result sets ``molgan.threads.default_threads``.

Usage: python benchmarks/threads.py [--threads 1 2] [--steps 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

RECIPES = ("qm9-molgan", "qm9-latent", "moses-latent")

_CHILD = """
import json, sys, time, torch
from molgan.config import load_config
from molgan.model import load_training_graphs
from molgan.training import Trainer
recipe, threads, warmup, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.set_num_interop_threads(1)
config = load_config(f"configs/{recipe}.toml")
config = config.replace(data={"limit": 2000}, train={"init_from": ""})
if config.reward.terms:
    config = config.replace(reward={"warmup": 0.0})
vocab, graphs = load_training_graphs(config, progress=False)
trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
for _ in range(warmup):
    trainer.train_step()
start = time.perf_counter()
for _ in range(steps):
    trainer.train_step()
print(json.dumps({"steps_per_s": steps / (time.perf_counter() - start)}))
trainer.module.close()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    print("| recipe | " + " | ".join(f"{t} thread(s), steps/s" for t in args.threads) + " |")
    print("|---" * (len(args.threads) + 1) + "|")
    for recipe in RECIPES:
        cells = []
        for threads in args.threads:
            argv = [sys.executable, "-c", _CHILD, recipe, str(threads)]
            argv += [str(args.warmup), str(args.steps)]
            out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
            cells.append(f"{json.loads(out.splitlines()[-1])['steps_per_s']:.2f}")
        print(f"| {recipe} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
