"""Why a model's samples are invalid: over a valence, in pieces, or unreadable.

For each checkpoint, draws ``-n`` graphs with its own sampling settings (``molgan sample``'s draws:
same seed, same graphs) and counts, over all draws, the share that is strictly invalid because an
atom's bond orders exceed its largest valence (``Vocabulary.max_valences``, which counts charges; a
bond to a padding atom, of valence 0, counts here too), because RDKit sanitises it but it is not
one whole molecule (several pieces, or a dummy atom), or for another reason (RDKit cannot sanitise
it). It found that the refiner removes the over-valence draws and that what it leaves is
disconnected graphs (docs/results.md, "A second pass that reads the decoder's choices").

Usage: python benchmarks/invalid_kinds.py CHECKPOINT [CHECKPOINT ...] [-n 10000] [--seed 0]
"""

from __future__ import annotations

import argparse

from molgan.chem import quiet_rdkit, strict_smiles
from molgan.graph import graphs_to_mols
from molgan.model import MolGAN
from molgan.sampling import ValenceMask


def invalid_kinds(model: MolGAN, n: int, seed: int) -> dict[str, float]:
    """Shares of ``n`` draws that are valid, over a valence, in pieces, or otherwise invalid."""
    mask = ValenceMask(model.vocab)
    counts = {"valid": 0, "over_valence": 0, "fragments": 0, "other": 0}
    for graphs in model.sample_graphs(n, seed=seed):
        over = mask.over_valence(graphs).any(-1)  # [b]
        with quiet_rdkit():
            mols = graphs_to_mols(graphs, model.vocab)
        for mol, over_valence in zip(mols, over.tolist()):
            if strict_smiles(mol) is not None:
                counts["valid"] += 1
            elif over_valence:
                counts["over_valence"] += 1
            elif mol is not None:
                counts["fragments"] += 1
            else:
                counts["other"] += 1
    return {kind: count / n for kind, count in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("-n", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{'checkpoint':40s} {'valid':>8s} {'over':>8s} {'pieces':>8s} {'other':>8s}")
    for path in args.checkpoints:
        shares = invalid_kinds(MolGAN.load(path), args.n, args.seed)
        print(f"{path:40s}", *(f"{shares[k]:8.4f}" for k in shares))


if __name__ == "__main__":
    main()
