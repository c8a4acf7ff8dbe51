"""How much of a model's FCD its aromatic share explains: FCD of samples mixed with QM9.

Splits a model's valid samples, and QM9 molecules outside the reference set, into those with an
aromatic ring and those without, and scores with ``molgan.metrics.evaluate`` (FCD against the
reference) 10,000-molecule mixes, each with the reference's own aromatic share:

- ``samples' non-aromatic + QM9's aromatic``: what the samples would score with perfect
  aromatic molecules;
- ``QM9's non-aromatic + samples' aromatic``: what their aromatic molecules cost on their own;
- ``samples, aromatic share set to QM9's``: their own molecules, drawn with replacement from the
  two groups, so only the share changes.

The mixes are diagnostics; no sample file is changed. Used in docs/results.md ("Half-made
aromatic rings").

Usage: python benchmarks/aromatic_share.py SAMPLES.smi [--reference runs/headline/qm9_random10k.smi]
       [--data data/qm9.csv.gz] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from rdkit import Chem

from molgan.aromatic import has_aromatic_ring
from molgan.chem import parse_smiles, quiet_rdkit
from molgan.io import read_smiles
from molgan.metrics import evaluate

SIZE = 10_000  # molecules per mix, as many as the bar's samples


def describe(smiles: list[str]) -> list[tuple[str, bool]]:
    """Canonical SMILES and whether it has an aromatic ring, for each valid entry (one parse)."""
    described = []
    with quiet_rdkit():
        for s in smiles:
            mol = parse_smiles(s) if s else None
            if mol is not None:
                described.append((Chem.MolToSmiles(mol), has_aromatic_ring(mol)))
    return described


def split_aromatic(described: list[tuple[str, bool]]) -> tuple[list[str], list[str]]:
    """SMILES split into (with an aromatic ring, without one), in order."""
    aromatic = [smiles for smiles, ring in described if ring]
    plain = [smiles for smiles, ring in described if not ring]
    return aromatic, plain


def mixes(
    samples: list[tuple[str, bool]],
    data: list[tuple[str, bool]],
    reference: list[tuple[str, bool]],
    seed: int,
) -> dict[str, list[str]]:
    """The three mixes of the module docstring, each of :data:`SIZE` molecules."""
    rng = random.Random(seed)
    share = sum(ring for _, ring in reference) / len(reference)
    n_aromatic = round(SIZE * share)
    kept = {smiles for smiles, _ in reference}
    outside = [entry for entry in data if entry[0] not in kept]
    data_aromatic, data_plain = split_aromatic(rng.sample(outside, 4 * SIZE))
    aromatic, plain = split_aromatic(samples)
    own = len(aromatic) / (len(aromatic) + len(plain))
    print(f"aromatic share: reference {share:.3f}, samples {own:.3f}")
    return {
        "samples' non-aromatic + QM9's aromatic": rng.sample(plain, SIZE - n_aromatic)
        + data_aromatic[:n_aromatic],
        "QM9's non-aromatic + samples' aromatic": data_plain[: SIZE - n_aromatic]
        + rng.choices(aromatic, k=n_aromatic),
        "samples, aromatic share set to QM9's": rng.choices(plain, k=SIZE - n_aromatic)
        + rng.choices(aromatic, k=n_aromatic),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", type=Path)
    parser.add_argument("--reference", type=Path, default=Path("runs/headline/qm9_random10k.smi"))
    parser.add_argument("--data", type=Path, default=Path("data/qm9.csv.gz"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    reference = describe(read_smiles(args.reference))
    rows = mixes(
        describe(read_smiles(args.samples)), describe(read_smiles(args.data)), reference, args.seed
    )
    for name, smiles in rows.items():
        metrics = evaluate(smiles, reference=[s for s, _ in reference], progress=False)
        print(f"{name:<45} FCD {metrics['fcd']:.3f}")


if __name__ == "__main__":
    main()
