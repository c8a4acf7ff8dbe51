"""Featurising cost of a SMILES file (docs/benchmarks.md): wall time and peak memory.

Derives the vocabulary from the file (``[data] vocabulary = "data"``), then builds the
``MoleculeDataset`` cache in worker processes (all cores) and reports the wall time of each stage,
the molecules kept and skipped, the cache size on disk, and the peak resident memory of this
process and of the largest worker (``getrusage``). The cache goes to a temporary folder unless
``--root`` says otherwise, so a run always featurises from scratch.

Usage: python benchmarks/featurize.py [data/moses/train.csv.gz] [--order bfs] [--limit N]
       [--max-atoms 27] [--root DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from molgan.data import MoleculeDataset, derive_vocabulary
from molgan.io import read_smiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, nargs="?", default=Path("data/moses/train.csv.gz"))
    parser.add_argument("--order", default="bfs", help="atom order (default bfs)")
    parser.add_argument("--limit", type=int, default=None, help="first N rows only")
    parser.add_argument("--max-atoms", type=int, default=27, help="N of the vocabulary")
    parser.add_argument("--root", type=Path, default=None, help="cache root (default: temporary)")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="molgan-featurize-"))
    start = time.perf_counter()
    smiles = read_smiles(args.source)[: args.limit]
    read_s = time.perf_counter() - start
    vocab = derive_vocabulary(smiles, args.max_atoms)
    vocab_s = time.perf_counter() - start - read_s
    del smiles
    dataset = MoleculeDataset(
        args.source, vocab, root=root, atom_order=args.order, limit=args.limit, progress=True
    )
    total_s = time.perf_counter() - start
    size = sum(p.stat().st_size for p in Path(dataset.processed_dir).iterdir())
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{date.today()}, {platform.node()}, {os.cpu_count()} cores, {args.source}")
    print(f"rows {len(dataset) + sum(dataset.skipped.values())}, kept {len(dataset)}")
    print(f"skipped {dataset.skipped}, vocabulary {[a.label for a in vocab.atom_types]}")
    print(f"read {read_s:.1f} s, vocabulary {vocab_s:.1f} s, total {total_s:.1f} s")
    print(f"featurising {len(dataset) / (total_s - read_s - vocab_s):.0f} mol/s")
    print(f"cache {size / 2**20:.0f} MiB in {dataset.processed_dir}")
    print(f"peak RSS: main process {own:.0f} MiB, largest worker {workers:.0f} MiB")


if __name__ == "__main__":
    main()
