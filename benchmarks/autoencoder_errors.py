"""Where a latent-family autoencoder fails to reconstruct (docs/results.md): errors per molecule.

Encodes and decodes (no code noise, argmax) the first ``-n`` training graphs of a latent-family
run and prints: exact reconstruction, per-slot atom accuracy, per-pair bond accuracy over pairs
with a bond in either graph, strict validity of the decoded graphs, the distribution of wrong
elements per molecule, and exact reconstruction by heavy-atom count.

Usage: python benchmarks/autoencoder_errors.py runs/moses-latent [-n 2000]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import torch

from molgan.checkpoint import load_checkpoint
from molgan.graph import MolGraph, graphs_to_smiles
from molgan.model import load_training_graphs
from molgan.models import GraphEncoder, build_generator
from molgan.sampling import logits_to_graph


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a latent-family checkpoint or training folder")
    parser.add_argument("-n", type=int, default=2000, help="training graphs to reconstruct")
    args = parser.parse_args()
    checkpoint = load_checkpoint(args.run)
    config, vocab = checkpoint.config, checkpoint.vocab
    encoder = GraphEncoder.from_config(config.model, vocab).eval()
    encoder.load_state_dict(checkpoint.weights["encoder"])
    generator = build_generator(config.model, vocab).eval()
    generator.load_state_dict(checkpoint.weights["generator"])
    _, graphs = load_training_graphs(config, progress=False)
    target = MolGraph(graphs.atoms[: args.n].long(), graphs.bonds[: args.n].long())
    decoded = logits_to_graph(generator.decoder(encoder(target.one_hot(vocab))))
    atom_ok = decoded.atoms == target.atoms  # [M, N]
    bond_ok = decoded.bonds == target.bonds  # [M, N, N]
    wrong = (~atom_ok).sum(-1) + torch.triu(~bond_ok, diagonal=1).flatten(1).sum(-1)  # [M]
    bonded = (decoded.bonds > 0) | (target.bonds > 0)
    size = (target.atoms > 0).sum(-1)
    valid = [s is not None for s in graphs_to_smiles(MolGraph(decoded.atoms, decoded.bonds), vocab)]
    print(f"{args.run}: {args.n} training graphs, N = {vocab.max_atoms}, step {checkpoint.step}")
    print(f"exact reconstruction  {(wrong == 0).float().mean():.4f}")
    print(f"atom slots correct    {atom_ok.float().mean():.4f}")
    print(f"bonded pairs correct  {bond_ok[bonded].float().mean():.4f}")
    print(f"decoded strictly valid {sum(valid) / len(valid):.4f}")
    counts = Counter(min(int(w), 10) for w in wrong)
    print(
        "wrong elements per molecule (10 = 10 or more): "
        + ", ".join(f"{k}: {counts[k] / args.n:.3f}" for k in sorted(counts))
    )
    for n_atoms in sorted(set(size.tolist())):
        rows = size == n_atoms
        print(
            f"  {n_atoms} heavy atoms: {int(rows.sum())} graphs, exact "
            f"{(wrong[rows] == 0).float().mean():.3f}, mean wrong {wrong[rows].float().mean():.1f}"
        )


if __name__ == "__main__":
    main()
