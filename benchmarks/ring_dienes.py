"""How many samples hold a half-made aromatic ring, and what completing them would give.

For each SMILES file (one molecule per line, empty lines for invalid draws) or CSV with a
``smiles`` column (``data/qm9.csv.gz``: none of QM9's 133,885 molecules has one), counts the valid
molecules with a ring diene (``molgan.aromatic.ring_dienes``: a non-aromatic five- or six-membered
ring with two double bonds of its own) and those :func:`molgan.aromatic.aromatized` completes.
With ``--write DIR``, writes each file with those molecules completed (``DIR/<name>``), for
``molgan evaluate`` to say what the completion is worth in FCD. That file is a correction of the
samples, a diagnostic only: the refiner learns the completion in training
(``[train] valence_target_aromatize``) and the headline numbers come from its strict samples.

Usage: python benchmarks/ring_dienes.py FILE.smi [FILE.smi ...] [--write DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rdkit import Chem

from molgan.aromatic import aromatized, ring_dienes
from molgan.chem import parse_smiles, quiet_rdkit
from molgan.io import read_smiles


def count_and_complete(path: Path) -> tuple[dict[str, int], list[str]]:
    """Counts for one file, and its lines with every completable ring diene completed."""
    counts = {"valid": 0, "ring_diene": 0, "completed": 0}
    lines = []
    with quiet_rdkit():
        for smiles in read_smiles(path):
            mol = parse_smiles(smiles) if smiles else None
            if mol is None:
                lines.append(smiles)
                continue
            counts["valid"] += 1
            done = None
            if ring_dienes(mol):
                counts["ring_diene"] += 1
                done = aromatized(mol)
                counts["completed"] += done is not None
            lines.append(Chem.MolToSmiles(done) if done is not None else smiles)
    return counts, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--write", type=Path, help="folder for the completed copies")
    args = parser.parse_args()
    print(f"{'file':<50} {'valid':>7} {'ring diene':>11} {'completed':>10}")
    for path in args.files:
        counts, lines = count_and_complete(path)
        valid = max(counts["valid"], 1)
        print(
            f"{str(path):<50} {counts['valid']:>7} {counts['ring_diene'] / valid:>11.2%} "
            f"{counts['completed'] / valid:>10.2%}"
        )
        if args.write:
            args.write.mkdir(parents=True, exist_ok=True)
            (args.write / path.name).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
