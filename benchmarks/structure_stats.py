"""What kinds of structure samples hold, beside a reference set (docs/results.md, "Aromatic rings").

For each SMILES file (one molecule a line; empty or invalid lines are skipped, as a strict
evaluation skips them), over its valid molecules: the share of molecules with an aromatic ring,
the share of aromatic atoms and of each bond type, ring counts and sizes, triple bonds, charged
molecules and heavy-atom counts. The first file is the reference; a row is marked ``*`` where a
later file differs from it by more than a quarter (relative) and more than 0.01.

FCD and the KL score condense these differences into one number each; this table says which
structures are missing. It found that the latent GAN made almost no aromatic rings.

Usage: python benchmarks/structure_stats.py REFERENCE.smi SAMPLES.smi [MORE.smi ...]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from rdkit import Chem

from molgan.chem import parse_smiles, quiet_rdkit
from molgan.io import read_smiles


def structure_stats(smiles: list[str]) -> dict[str, float]:
    """Per-molecule means of structure indicators over the valid molecules of ``smiles``."""
    totals: Counter[str] = Counter()
    n = 0
    with quiet_rdkit():
        for text in smiles:
            mol = parse_smiles(text) if text else None
            if mol is None:
                continue
            n += 1
            atoms, bonds = mol.GetNumAtoms(), max(1, mol.GetNumBonds())
            rings = mol.GetRingInfo()
            aromatic = sum(a.GetIsAromatic() for a in mol.GetAtoms())
            totals["molecules with an aromatic ring"] += aromatic > 0
            totals["aromatic atoms (share)"] += aromatic / atoms
            for bond in mol.GetBonds():
                totals[f"{str(bond.GetBondType()).lower()} bonds (share)"] += 1 / bonds
            totals["molecules with a triple bond"] += any(
                b.GetBondType() == Chem.BondType.TRIPLE for b in mol.GetBonds()
            )
            totals["charged molecules"] += any(a.GetFormalCharge() for a in mol.GetAtoms())
            totals[f"rings: {_capped(rings.NumRings(), 3)}"] += 1
            for ring in rings.AtomRings():
                totals[f"{_capped(len(ring), 7)}-rings per molecule"] += 1
            totals[f"heavy atoms: {atoms}"] += 1
    return {key: value / max(1, n) for key, value in totals.items()} | {"valid molecules": n}


def _capped(value: int, cap: int) -> str:
    """``"3"``, or ``"7+"`` for every value from ``cap`` on."""
    return f"{cap}+" if value >= cap else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+", help="the reference first, then samples")
    args = parser.parse_args()
    stats = [structure_stats(read_smiles(path)) for path in args.files]
    reference = stats[0]
    keys = sorted(set().union(*stats) - {"valid molecules"})
    names = [path.name[:22] for path in args.files]
    print(f"{'':34s}" + "".join(f"{name:>24s}" for name in names))
    print(f"{'valid molecules':34s}" + "".join(f"{s['valid molecules']:>24d}" for s in stats))
    for key in keys:
        cells = []
        for row in stats:
            value, ref = row.get(key, 0.0), reference.get(key, 0.0)
            off = abs(value - ref) > max(0.01, 0.25 * ref)
            cells.append(f"{value:>23.3f}{'*' if off else ' '}")
        print(f"{key:34s}" + "".join(cells))


if __name__ == "__main__":
    main()
