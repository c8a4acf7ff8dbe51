"""Codec throughput: decode + strict check + canonical SMILES of QM9 graphs vs RDKit's round trip.

Both sides run single-process on the same molecules in the same run:
- molgan: ``graphs_to_mols`` (batches of 1,024 graphs) then ``strict_smiles`` on every result;
- RDKit:  ``Chem.MolFromSmiles`` then ``Chem.MolToSmiles`` on the QM9 SMILES of those molecules.

Usage: python benchmarks/codec.py [--n 20000] [--repeats 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date

from rdkit import Chem, rdBase

from molgan.chem import strict_smiles
from molgan.data import QM9_PATH, featurize
from molgan.graph import MolGraph, graphs_to_mols
from molgan.io import read_smiles
from molgan.vocab import Vocabulary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="QM9 molecules (first n rows)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timings")
    parser.add_argument("--json", default=None, help="write the numbers here")
    args = parser.parse_args()

    vocab = Vocabulary.qm9()
    smiles = read_smiles(QM9_PATH)[: args.n]
    feats = featurize(smiles, vocab, progress=False)
    graphs = feats.graphs

    def molgan_round_trip() -> list[str | None]:
        out: list[str | None] = []
        for start in range(0, len(smiles), 1024):
            batch = MolGraph(graphs.atoms[start : start + 1024], graphs.bonds[start : start + 1024])
            out.extend(strict_smiles(m) for m in graphs_to_mols(batch, vocab))
        return out

    def rdkit_round_trip() -> list[str]:
        return [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in smiles]

    ours, theirs = _best(molgan_round_trip, args.repeats), _best(rdkit_round_trip, args.repeats)
    agree = sum(a == b for a, b in zip(molgan_round_trip(), rdkit_round_trip()))
    result = {
        "date": date.today().isoformat(),
        "machine": platform.processor() or platform.machine(),
        "rdkit": rdBase.rdkitVersion,
        "molecules": len(smiles),
        "molgan_mol_per_s": len(smiles) / ours,
        "rdkit_mol_per_s": len(smiles) / theirs,
        "ratio": theirs / ours,
        "identical_smiles": agree,
    }
    print(f"molgan decode+strict+canonical: {result['molgan_mol_per_s']:,.0f} mol/s")
    print(f"rdkit MolFromSmiles+MolToSmiles: {result['rdkit_mol_per_s']:,.0f} mol/s")
    print(f"ratio molgan / rdkit: {result['ratio']:.2f}  ({agree}/{len(smiles)} identical SMILES)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


if __name__ == "__main__":
    main()
