"""Cross-check molgan's MOSES metrics against an independent implementation (docs/benchmarks.md).

The independent one is the ``molecule-benchmarks`` package (Ole Petersen, MIT; it follows the
MOSES code), a development-only tool that molgan never imports. Install it beside molgan without
its pinned dependencies, which this stack cannot take:

    pip install --no-deps --target /tmp/mbdeps molecule-benchmarks==0.1.14 pandas \
        python-dateutil pytz tzdata psutil
    PYTHONPATH=/tmp/mbdeps python benchmarks/moses_crosscheck.py [--generated FILE] [-n 2000]

Both sides get the same strictly valid canonical SMILES (duplicates kept, as MOSES does) of
``--generated`` (default: ``n`` random molecules of MOSES's test set) against another random ``n``
of the test set (numpy ``default_rng(0)``), and the script prints each metric, both values and
their difference.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import fcd
import numpy as np

from molgan.chem import quiet_rdkit
from molgan.data import MOSES_SPLITS
from molgan.io import read_smiles
from molgan.metrics import _strict_canonical, evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=Path, default=None, help="SMILES file")
    parser.add_argument("-n", type=int, default=2000, help="molecules per set")
    args = parser.parse_args()
    from molecule_benchmarks import moses_metrics as mm  # the independent implementation

    test = read_smiles(MOSES_SPLITS["test"])
    order = np.random.default_rng(0).permutation(len(test))
    reference = [test[i] for i in order[: args.n]]
    if args.generated:
        generated = read_smiles(args.generated)[: args.n]
    else:
        generated = [test[i] for i in order[args.n : 2 * args.n]]
    ours = evaluate(generated, reference=reference, progress=False, n_jobs=1)
    with quiet_rdkit():
        gen = [s for s in _strict_canonical(generated) if s is not None]
        ref = [s for s in _strict_canonical(reference) if s is not None]
    gen_fps, ref_fps = (
        mm.fingerprints(gen, fp_type="morgan"),
        mm.fingerprints(ref, fp_type="morgan"),
    )
    theirs = {
        "filters": mm.fraction_passes_filters(gen, n_jobs=1),
        "intdiv1": mm.internal_diversity(gen, n_jobs=1, p=1),
        "intdiv2": mm.internal_diversity(gen, n_jobs=1, p=2),
        "snn": mm.average_agg_tanimoto(ref_fps, gen_fps, device="cpu"),
        "frag": mm.cos_similarity(mm.compute_fragments(ref, 1), mm.compute_fragments(gen, 1)),
        "scaf": mm.cos_similarity(mm.compute_scaffolds(ref, 1), mm.compute_scaffolds(gen, 1)),
        "fcd": fcd.get_fcd(gen, ref),
    }
    print(f"{len(gen)} valid generated vs {len(ref)} reference molecules")
    print("| metric | molgan | molecule-benchmarks | difference |\n|---|---|---|---|")
    for key, value in theirs.items():
        print(f"| {key} | {ours[key]:.6f} | {float(value):.6f} | {ours[key] - float(value):+.2e} |")


if __name__ == "__main__":
    main()
