"""Which canonical atom order does the graph autoencoder reconstruct better? (docs/benchmarks.md)

For each order of ``molgan.order`` (``smiles``: canonical SMILES order, a depth-first walk;
``bfs``: breadth-first from the same root), train the same reduced autoencoder (the latent
family's first stage) on the first ``--molecules`` training molecules for ``--steps`` steps, then
report exact reconstruction of the QM9 validation split (held out) and of the training molecules.

Usage: OMP_NUM_THREADS=2 python benchmarks/atom_order.py [--steps 1500] [--molecules 20000]
"""

from __future__ import annotations

import argparse
import time

import torch

from molgan.config import Config
from molgan.data import QM9_SPLITS, MoleculeDataset
from molgan.graph import MolGraph
from molgan.model import load_training_graphs
from molgan.training import Trainer
from molgan.training.latent_family import reconstruction_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--molecules", type=int, default=20_000)
    parser.add_argument("--orders", nargs="+", default=["smiles", "bfs"])
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    print("| order | train reconstruction | valid-split reconstruction | seconds |")
    print("|---|---|---|---|")
    for order in args.orders:
        config = Config().replace(
            data={"atom_order": order, "limit": args.molecules},
            model={
                "kind": "latent",
                "latent_dim": 64,
                "ae_dim": 64,
                "ae_layers": 2,
                "ae_heads": 4,
            },
            autoencoder={"steps": args.steps, "batch_size": 128, "lr": 1e-3},
            train={"steps": 1, "eval_every": args.steps, "eval_samples": 10},
        )
        vocab, graphs = load_training_graphs(config, progress=False)
        trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
        start = time.perf_counter()
        trainer.fit(steps=args.steps)
        seconds = time.perf_counter() - start
        held_out = MoleculeDataset(QM9_SPLITS["valid"], vocab, atom_order=order, progress=False)
        family = trainer.module
        valid = reconstruction_rate(family.encoder, family.decoder, held_out.graphs)
        first = MolGraph(graphs.atoms[:5000], graphs.bonds[:5000])
        train = reconstruction_rate(family.encoder, family.decoder, first)
        print(f"| {order} | {train:.4f} | {valid:.4f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
