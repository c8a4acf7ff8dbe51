"""What a latent model's draws aimed at aromatic molecules become.

Encodes the training set with the checkpoint's encoder, draws ``-n`` samples the way
``molgan sample`` does (same seed, same transport and refiner), and splits the draws by whether
the nearest training code (Euclidean) belongs to a molecule with an aromatic ring. For each group
it prints the share of draws that decode to an aromatic molecule, a ring diene
(``molgan.aromatic.ring_dienes``), another molecule with a five- or six-membered ring (with a
double bond in one, or without), one without such a ring, or nothing valid; and how often the
draw decodes to its nearest training molecule. Draws go through the checkpoint's transport and
refiner, as its samples do. ``--files`` prints the same shares for SMILES files (QM9's
reference, a model's samples). Used in docs/results.md ("Half-made aromatic rings").

Usage: python benchmarks/aromatic_aim.py CHECKPOINT [-n 5000] [--seed 0] [--examples 20]
       [--files FILE.smi ...]
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from pathlib import Path

import torch
from latent_ablation import training_codes
from rdkit import Chem

from molgan.aromatic import RING_SIZES, has_aromatic_ring, ring_dienes
from molgan.checkpoint import load_checkpoint
from molgan.chem import parse_smiles, quiet_rdkit, strict_smiles
from molgan.graph import MolGraph, graphs_to_mols
from molgan.io import read_smiles
from molgan.model import MolGAN

KINDS = (
    "aromatic",
    "ring diene",
    "5/6 ring with a double bond",
    "5/6 ring, saturated",
    "no 5/6 ring",
    "invalid",
)


def kind(mol: Chem.Mol | None) -> str:
    """Which of :data:`KINDS` a strictly valid molecule (or ``None``) is."""
    if mol is None:
        return "invalid"
    if has_aromatic_ring(mol):
        return "aromatic"
    if ring_dienes(mol):
        return "ring diene"
    rings = [r for r in mol.GetRingInfo().BondRings() if len(r) in RING_SIZES]
    if not rings:
        return "no 5/6 ring"
    double = Chem.BondType.DOUBLE
    if any(mol.GetBondWithIdx(b).GetBondType() == double for r in rings for b in r):
        return "5/6 ring with a double bond"
    return "5/6 ring, saturated"


def draws_by_aim(checkpoint: Path, n: int, seed: int) -> tuple[list, list[Chem.Mol | None]]:
    """``n`` draws as (valid molecule or ``None``, nearest training index, code distance), and
    the training molecules."""
    loaded = load_checkpoint(checkpoint)
    vocab = loaded.vocab
    model = MolGAN.load(checkpoint)
    codes, graphs = training_codes(loaded)  # [M, Z]
    with quiet_rdkit():
        train_mols = graphs_to_mols(MolGraph(graphs.atoms.long(), graphs.bonds.long()), vocab)
    generator = model.generator.eval()
    rng = torch.Generator().manual_seed(seed)
    draws = []
    with torch.no_grad():
        for sampled, noise in model.sample_draws(n, rng, batch_size=1000):
            distance, nearest = torch.cdist(generator.codes(noise), codes).min(1)
            with quiet_rdkit():
                mols = graphs_to_mols(sampled, vocab)
            for mol, j, d in zip(mols, nearest.tolist(), distance.tolist(), strict=True):
                draws.append((mol if strict_smiles(mol) else None, j, d))
    return draws, train_mols


def report(draws: list, train_mols: list[Chem.Mol | None], examples: int, seed: int) -> None:
    """Print the shares of :data:`KINDS` by aim, and some aromatic aims that missed."""
    aromatic = [m is not None and has_aromatic_ring(m) for m in train_mols]
    print(f"training molecules with an aromatic ring: {sum(aromatic) / len(aromatic):.3f}")
    kinds = [kind(mol) for mol, _, _ in draws]  # one per draw
    for label, wanted in (("aromatic", True), ("not aromatic", False)):
        group = [k for k, draw in enumerate(draws) if aromatic[draw[1]] == wanted]
        counts = Counter(kinds[k] for k in group)
        same = sum(
            mol is not None and Chem.MolToSmiles(mol) == Chem.MolToSmiles(train_mols[j])
            for mol, j, _ in (draws[k] for k in group)
        )
        median = sorted(draws[k][2] for k in group)[len(group) // 2]
        print(
            f"nearest training molecule {label}: {len(group) / len(draws):.3f} of draws, "
            f"median distance {median:.2f}, equal to it {same / len(group):.3f}"
        )
        for name in KINDS:
            print(f"    {name:<28} {counts[name] / len(group):.3f}")
    missed = [
        (strict_smiles(mol), Chem.MolToSmiles(train_mols[j]), name)
        for (mol, j, _), name in zip(draws, kinds, strict=True)
        if aromatic[j] and name != "aromatic"
    ]
    for drawn, nearest, name in random.Random(seed).sample(missed, min(examples, len(missed))):
        print(f"    draw {drawn or '(invalid)':<24} nearest {nearest:<24} {name}")


def file_shares(path: Path) -> None:
    """Print the shares of :data:`KINDS` over the lines of a SMILES file."""
    with quiet_rdkit():
        counts = Counter(kind(parse_smiles(s) if s else None) for s in read_smiles(path))
    total = sum(counts.values())
    print(f"{path}: " + ", ".join(f"{name} {counts[name] / total:.3f}" for name in KINDS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=int, default=20, help="non-aromatic draws to show")
    parser.add_argument("--files", type=Path, nargs="*", default=[], help="SMILES files to split")
    args = parser.parse_args()
    draws, train_mols = draws_by_aim(args.checkpoint, args.n, args.seed)
    report(draws, train_mols, args.examples, args.seed)
    for path in args.files:
        file_shares(path)


if __name__ == "__main__":
    main()
