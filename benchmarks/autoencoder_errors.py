"""Where a latent-family autoencoder fails to reconstruct (docs/results.md): errors per molecule.

Encodes and decodes (no code noise, argmax) the first ``-n`` training graphs of a latent-family
run and prints: exact reconstruction, per-slot atom accuracy, per-pair bond accuracy over pairs
with a bond in either graph, strict validity of the decoded graphs, the distribution of wrong
elements per molecule, and exact reconstruction by heavy-atom count. ``--data`` reconstructs
another file's molecules instead (a held-out split), in the checkpoint's vocabulary and order.

Then the space between codes, where a latent GAN's samples land: strict validity of the decoded
midpoints of random pairs of these codes, of the codes plus Gaussian noise of each ``--sigma``,
and of draws from a Gaussian fitted to the codes (full covariance). Codes are normalised as the
encoder's are. ``--by NAME`` (a condition of :mod:`molgan.conditions`, e.g. ``aromatic_ring``)
adds the points a quarter and half of the way between two codes of the same class, per class:
their strict validity and the share of the valid ones that keep the class.

Usage: python benchmarks/autoencoder_errors.py runs/moses-latent [-n 2000] [--data test.csv.gz]
       [--by aromatic_ring]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import torch
from latent_ablation import checkpoint_encoder, file_graphs

from molgan.checkpoint import load_checkpoint
from molgan.chem import quiet_rdkit
from molgan.conditions import CONDITIONS, label_molecules
from molgan.graph import MolGraph, graphs_to_mols, graphs_to_smiles
from molgan.model import load_training_graphs
from molgan.models import GraphEncoder, build_generator
from molgan.models.autoencoder import fit_code_gaussian
from molgan.sampling import logits_to_graph
from molgan.vocab import Vocabulary


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a latent-family checkpoint or training folder")
    parser.add_argument("-n", type=int, default=2000, help="graphs to reconstruct (the first N)")
    parser.add_argument("--data", type=Path, help="reconstruct this file's molecules instead")
    parser.add_argument(
        "--sigma", type=float, nargs="*", default=[0.1, 0.3, 0.5], help="code noise to decode"
    )
    parser.add_argument("--by", choices=sorted(CONDITIONS), help="also interpolate within classes")
    args = parser.parse_args()
    checkpoint = load_checkpoint(args.run)
    config, vocab = checkpoint.config, checkpoint.vocab
    encoder = checkpoint_encoder(checkpoint)
    generator = build_generator(config.model, vocab).eval()
    generator.load_state_dict(checkpoint.weights["generator"])
    if args.data is None:
        _, graphs = load_training_graphs(config, progress=False)
    else:
        graphs = file_graphs(checkpoint, args.data)
    target = MolGraph(graphs.atoms[: args.n].long(), graphs.bonds[: args.n].long())
    codes = encoder(target.one_hot(vocab))  # [M, Z]
    decoded = logits_to_graph(generator.decoder(codes))
    atom_ok = decoded.atoms == target.atoms  # [M, N]
    bond_ok = decoded.bonds == target.bonds  # [M, N, N]
    wrong = (~atom_ok).sum(-1) + torch.triu(~bond_ok, diagonal=1).flatten(1).sum(-1)  # [M]
    bonded = (decoded.bonds > 0) | (target.bonds > 0)
    size = (target.atoms > 0).sum(-1)
    valid = [s is not None for s in graphs_to_smiles(MolGraph(decoded.atoms, decoded.bonds), vocab)]
    source = args.data or "training"
    print(
        f"{args.run}: {len(target.atoms)} {source} graphs, N = {vocab.max_atoms}, "
        f"step {checkpoint.step}"
    )
    print(f"exact reconstruction  {(wrong == 0).float().mean():.4f}")
    print(f"atom slots correct    {atom_ok.float().mean():.4f}")
    print(f"bonded pairs correct  {bond_ok[bonded].float().mean():.4f}")
    print(f"decoded strictly valid {sum(valid) / len(valid):.4f}")
    counts = Counter(min(int(w), 10) for w in wrong)
    print(
        "wrong elements per molecule (10 = 10 or more): "
        + ", ".join(f"{k}: {counts[k] / len(wrong):.3f}" for k in sorted(counts))
    )
    for n_atoms in sorted(set(size.tolist())):
        rows = size == n_atoms
        print(
            f"  {n_atoms} heavy atoms: {int(rows.sum())} graphs, exact "
            f"{(wrong[rows] == 0).float().mean():.3f}, mean wrong {wrong[rows].float().mean():.1f}"
        )
    between_codes(generator.decoder, encoder, codes, vocab, args.sigma)
    if args.by:
        with quiet_rdkit():
            mols = graphs_to_mols(target, vocab)
        labels = torch.as_tensor(label_molecules(mols, [args.by])[:, 0])  # [M]
        within_classes(generator.decoder, encoder, codes, labels, args.by, vocab)


def between_codes(
    decoder: torch.nn.Module,
    encoder: GraphEncoder,
    codes: torch.Tensor,
    vocab: Vocabulary,
    sigmas: list[float],
) -> None:
    """Print the strict validity of decoded midpoints, noisy codes and Gaussian draws."""
    rng = torch.Generator().manual_seed(0)
    m = len(codes)
    pairs = torch.randint(m, (2, m), generator=rng)
    probes = {"midpoints of random pairs": encoder.place((codes[pairs[0]] + codes[pairs[1]]) / 2)}
    for sigma in sigmas:
        probes[f"codes + noise sigma {sigma}"] = codes + sigma * torch.randn(
            codes.shape, generator=rng
        )
    torch.manual_seed(0)
    probes["Gaussian fitted to the codes"] = encoder.place(fit_code_gaussian(codes).sample((m,)))
    if encoder.variational:
        probes["the VAE prior N(0, I)"] = torch.randn(codes.shape, generator=rng)
    for name, batch in probes.items():
        graph = logits_to_graph(decoder(batch))
        smiles = graphs_to_smiles(MolGraph(graph.atoms, graph.bonds), vocab)
        valid = [s for s in smiles if s is not None]
        print(
            f"{name:32s} strictly valid {len(valid) / m:.4f}, "
            f"unique among valid {len(set(valid)) / max(1, len(valid)):.4f}"
        )


def within_classes(
    decoder: torch.nn.Module,
    encoder: GraphEncoder,
    codes: torch.Tensor,
    labels: torch.Tensor,
    name: str,
    vocab: Vocabulary,
) -> None:
    """Print validity and class kept of points between two codes of the same class of ``name``."""
    rng = torch.Generator().manual_seed(1)
    offset = CONDITIONS[name].offset
    for index in labels.unique().tolist():
        members = torch.nonzero(labels == index)[:, 0]
        pairs = members[torch.randint(len(members), (2, len(members)), generator=rng)]
        for t in (0.25, 0.5):
            between = encoder.place((1 - t) * codes[pairs[0]] + t * codes[pairs[1]])
            graph = logits_to_graph(decoder(between))
            with quiet_rdkit():
                mols = graphs_to_mols(MolGraph(graph.atoms, graph.bonds), vocab)
            smiles = graphs_to_smiles(MolGraph(graph.atoms, graph.bonds), vocab)
            valid = [mol for mol, s in zip(mols, smiles, strict=True) if s is not None]
            kept = torch.as_tensor(label_molecules(valid, [name])[:, 0] == index)
            print(
                f"{name}={index + offset}: {len(members)} codes, {t:.2f} of the way to another: "
                f"strictly valid {len(valid) / len(members):.4f}, "
                f"class kept among valid {kept.float().mean():.4f}"
            )


if __name__ == "__main__":
    main()
