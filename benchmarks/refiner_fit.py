"""How well a latent model's refiner fits its valence target, pass by pass, on G's draws.

The refiner learns the valence mask's repairs of the decoder's graphs (with pieces joined) as a
training target; at sampling time nothing but the network acts. This script draws ``-n`` of G's
codes as the checkpoint samples them (through its transport), decodes them, and prints, for the
decoder's argmax graph, for the target, and for the output of each of ``--passes`` refiner passes:
the share that is strictly valid, the share equal to the target, and the atom pairs per graph
whose bond differs from the target's. With ``--noise S ...`` it also prints the median distance
from G's codes to the nearest training code beside that of training codes plus noise ``S`` (put
back on the code shell; the code a noisy one started from counts): how far from the data G's
draws lie, in units of the code noise the reconstruction term trains at (``[autoencoder]
latent_noise``, ``[train] reconstruction_noise``). ``--held-out FILE`` adds the codes of FILE's
first ``-n`` molecules, which are not training codes: where unseen molecules of the data lie.
Used in docs/results.md ("Where the refiner's passes take it").

Usage: python benchmarks/refiner_fit.py checkpoints/moses [-n 1000] [--passes 16]
       [--noise 0.1 0.3 0.5 0.7] [--held-out data/moses/test.csv.gz] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from decoder_frontier import Frontier

from molgan.chem import quiet_rdkit, strict_smiles
from molgan.graph import MolGraph, graphs_to_mols
from molgan.sampling import ValenceMask, logits_to_graph


def strict_validity(graphs: MolGraph, frontier: Frontier) -> float:
    """The share of ``graphs`` that are strictly valid molecules."""
    with quiet_rdkit():
        mols = graphs_to_mols(graphs, frontier.vocab)
    return sum(strict_smiles(mol) is not None for mol in mols) / len(mols)


def fit_rows(frontier: Frontier, n: int, passes: int) -> list[tuple[str, float, float, float]]:
    """(what, validity, share equal to the target, differing pairs per graph) for each stage."""
    generator = frontier.generator
    if generator.refiner is None:
        raise SystemExit("this checkpoint has no refiner")
    codes = frontier.g_codes(n)
    with torch.no_grad():
        decoded = generator.decoder(codes)
        target = ValenceMask(frontier.vocab, join_pieces=True).decode(decoded)
        generator.refiner.passes = passes
        outputs = generator.refiner.every_pass(decoded, codes)

    def row(what: str, graphs: MolGraph) -> tuple[str, float, float, float]:
        same_bonds = (graphs.bonds == target.bonds).flatten(1)
        exact = (same_bonds.all(1) & (graphs.atoms == target.atoms).all(1)).float().mean()
        wrong = (~same_bonds).sum(1).float().mean() / 2  # each pair appears twice
        return what, strict_validity(graphs, frontier), exact.item(), wrong.item()

    rows = [row("decoder (argmax)", logits_to_graph(decoded)), row("target", target)]
    rows += [row(f"refiner pass {i + 1}", logits_to_graph(out)) for i, out in enumerate(outputs)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=16)
    parser.add_argument("--noise", type=float, nargs="*", default=[])
    parser.add_argument("--held-out", type=Path, help="molecules outside the training set")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    frontier = Frontier(args.checkpoint, args.seed)
    frontier.rng.manual_seed(args.seed)
    print(f"{args.checkpoint}: {args.n} of G's draws (seed {args.seed}), as it samples them")
    print(f"{'':24s} {'valid':>8s} {'= target':>9s} {'pairs off':>10s}")
    for what, valid, exact, wrong in fit_rows(frontier, args.n, args.passes):
        print(f"{what:24s} {valid:8.3f} {exact:9.3f} {wrong:10.2f}")
    if args.noise or args.held_out:
        frontier.rng.manual_seed(args.seed)
        print(f"\nmedian distance to the nearest of {len(frontier.codes)} training codes")
        distance = frontier.code_distance(frontier.g_codes(args.n))
        print(f"{'G (through the transport)':32s} {distance:.2f}")
        for sigma in args.noise:
            distance = frontier.code_distance(frontier.noisy(args.n, sigma))
            print(f"{f'training codes + noise {sigma}':32s} {distance:.2f}")
        if args.held_out:
            distance = frontier.code_distance(frontier.encoded(args.held_out, args.n))
            print(f"{f'{args.held_out.name}, first {args.n}':32s} {distance:.2f}")


if __name__ == "__main__":
    main()
