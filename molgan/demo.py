"""``molgan demo``: the README's main job, end to end on the bundled QM9 data.

Sample the shipped model (or a short run trained from scratch), evaluate the samples with the
strict metrics, and write the samples, a metrics table and a molecule-grid picture.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from molgan.config import Config
from molgan.data import QM9_SPLITS
from molgan.io import atomic_write_text, read_smiles
from molgan.metrics import evaluate
from molgan.model import MolGAN

if TYPE_CHECKING:
    import PIL.Image

__all__ = ["run_demo", "molecule_grid", "draw_grid"]


def run_demo(out_dir: str | os.PathLike, n: int = 5000, train_steps: int = 0) -> dict:
    """Run the demo and return the metrics.

    Args:
        out_dir: Where ``samples.smi``, ``metrics.json``, ``metrics.md`` and ``molecules.png`` go.
        n: Samples to draw and evaluate (every sample counts, invalid ones as empty lines).
        train_steps: If positive, first train a run of this many steps from scratch on the QM9
            train split (into ``out_dir/train``) and sample that instead of the shipped model.
    """
    out_dir = Path(out_dir)
    if train_steps > 0:
        config = Config().replace(
            train={"steps": train_steps, "eval_every": train_steps, "structure_weight": 1.0}
        )
        model = MolGAN.train(config, out_dir / "train")
        source = f"a {train_steps}-step run trained from scratch"
    else:
        model = MolGAN.load()
        source = "the shipped model checkpoints/qm9"
    samples_path = out_dir / "samples.smi"
    model.write_samples(n, samples_path, seed=0, keep_invalid=True)
    samples = read_smiles(samples_path)
    metrics = evaluate(
        samples,
        train=read_smiles(QM9_SPLITS["train"]),
        reference=read_smiles(QM9_SPLITS["test"]),
    )
    title = f"{n} samples of {source} (seed 0) vs QM9 train (novelty) and test (FCD etc.)"
    table = _markdown_table(metrics, title)
    print(table)
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    atomic_write_text(out_dir / "metrics.md", table + "\n")
    draw_grid([s for s in dict.fromkeys(samples) if s][:24], out_dir / "molecules.png")
    print(f"wrote {samples_path}, {out_dir / 'metrics.md'}, {out_dir / 'molecules.png'}")
    return metrics


def molecule_grid(
    smiles: Sequence[str], legends: Sequence[str] | None = None, per_row: int = 6
) -> PIL.Image.Image:
    """A grid picture of molecules (a PIL image; notebooks show it inline).

    Args:
        smiles: Valid SMILES to draw.
        legends: A caption per molecule (default: its SMILES).
        per_row: Molecules per row.
    """
    from rdkit import Chem
    from rdkit.Chem import Draw  # imported here: it needs libXrender, absent on some servers

    mols = [Chem.MolFromSmiles(s) for s in smiles]
    captions = list(legends) if legends is not None else list(smiles)
    return Draw.MolsToGridImage(mols, molsPerRow=per_row, subImgSize=(200, 160), legends=captions)


def draw_grid(smiles: Sequence[str], path: str | os.PathLike, per_row: int = 6) -> None:
    """Draw molecules in a grid PNG, labelled with their SMILES."""
    molecule_grid(smiles, per_row=per_row).save(str(path))


def _markdown_table(metrics: dict, title: str) -> str:
    lines = [f"**{title}**", "", "| metric | value |", "|---|---|"]
    for key, value in metrics.items():
        text = "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else value
        lines.append(f"| {key} | {text} |")
    return "\n".join(lines)
