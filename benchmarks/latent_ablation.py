"""The latent family's ablation on QM9 (docs/results.md): what each part adds, over seeds.

Rows:
- each checkpoint given with ``--row LABEL=CKPT[,CKPT...]`` (one per training seed): ``molgan
  sample -n N --seed 0 --keep-invalid``, then ``molgan evaluate``;
- ``--autoencoder CKPT`` adds the autoencoder alone, without a GAN: the decoded noisy codes of N
  random training molecules (noise of the autoencoder's training scale, ``latent_noise``), and
  the decoded draws of a Gaussian fitted to all training codes (full covariance), for three
  seeds each; their SMILES files are written here and evaluated by the same ``molgan evaluate``.

With ``--train``, the script first trains the latent rows itself for seeds 0, 1, 2 (configs
``qm9-latent.toml`` and the fine-tuning configs it names), from the autoencoder checkpoint
``--autoencoder``: "latent GAN" (the GAN stage alone), and each fine-tuning config started from
that seed's latent GAN. Their wall times go into the table.

Sample files and reports already in ``OUT`` are reused (delete them to redo a row). Every
evaluation uses novelty against all of QM9 and FCD against 10,000 random QM9 molecules
(numpy ``default_rng(0)``, written to ``OUT/qm9_random10k.smi``); two disjoint such sets score
FCD 0.07. Prints a markdown table of means and standard deviations over seeds.

Usage: python benchmarks/latent_ablation.py --autoencoder runs/qm9-latent-ae --train
       [--finetune "graph critic=configs/qm9-latent-graph.toml"] [--row LABEL=CKPT,...]
       [-n 10000] [--out runs/ablation]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import torch
from objectives import _label, _run
from rdkit import Chem

from molgan.checkpoint import Checkpoint, load_checkpoint
from molgan.config import load_config
from molgan.data import QM9_PATH, MoleculeDataset
from molgan.graph import MolGraph, graphs_to_smiles
from molgan.io import read_smiles
from molgan.model import MolGAN, load_training_graphs
from molgan.models import GraphEncoder, build_generator
from molgan.models.autoencoder import fit_code_gaussian, place_codes
from molgan.sampling import DenseGraph, logits_to_graph
from molgan.training.latent_family import encode_graphs

COLUMNS = (
    "validity",
    "uniqueness",
    "novelty",
    "fcd",
    "intdiv1",
    "kl_score",
    "w1_qed",
    "w1_sa",
    "w1_logp",
    "train_seconds",
)
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SEEDS = (0, 1, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", action="append", default=[], help="LABEL=CKPT[,CKPT...]")
    parser.add_argument("--autoencoder", type=Path, default=None)
    parser.add_argument("--train", action="store_true", help="train the latent rows first")
    parser.add_argument("--finetune", action="append", default=[], help="LABEL=CONFIG")
    parser.add_argument("--gan-steps", type=int, default=None, help="override [train] steps")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument(
        "--no-eval", action="store_true", help="only train (e.g. one seed per process)"
    )
    parser.add_argument("--ae-seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("runs/ablation"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    reference = write_reference(args.out / "qm9_random10k.smi")
    files: dict[str, list[Path]] = {}
    seconds: dict[str, list[float]] = {}
    if args.autoencoder is not None and not args.no_eval:
        files.update(autoencoder_rows(args.autoencoder, args.n, args.out, args.ae_seeds))
    if args.train:
        trained, seconds = train_rows(
            args.autoencoder, args.finetune, args.gan_steps, args.out, args.seeds
        )
        if args.no_eval:
            return
        args.row = [f"{label}={','.join(paths)}" for label, paths in trained.items()] + args.row
    for spec in args.row:
        label, paths = spec.split("=", 1)
        files[label] = []
        for checkpoint in paths.split(","):
            path = args.out / f"{_label(checkpoint)}.smi"
            if path.exists():  # written by an earlier call of this script: draws are seeded
                files[label].append(path)
                continue
            _run(
                ["sample", "--checkpoint", checkpoint, "-n", str(args.n), "--keep-invalid"]
                + ["-o", str(path)]
            )
            files[label].append(path)
    rows = {}
    for label, paths in files.items():
        rows[label] = []
        for path in paths:
            report = path.with_suffix(".json")
            if report.exists() and report.stat().st_mtime >= path.stat().st_mtime:
                rows[label].append(json.loads(report.read_text()))
                continue
            _run(
                ["evaluate", str(path), "--train", str(QM9_PATH), "--test", str(reference)]
                + ["--json", str(report)]
            )
            rows[label].append(json.loads(report.read_text()))
    for label, times in seconds.items():
        for report, time_s in zip(rows[label], times, strict=True):
            report["train_seconds"] = time_s
    table = markdown(rows, args.n)
    print(table)
    (args.out / "table.md").write_text(table + "\n")
    histogram = heavy_atom_histogram(
        {"QM9 (10,000 random)": reference} | {label: paths[0] for label, paths in files.items()}
    )
    print(histogram)
    (args.out / "heavy_atoms.md").write_text(histogram + "\n")
    (args.out / "table.json").write_text(json.dumps(rows, indent=2) + "\n")


def train_rows(
    autoencoder: Path, finetune: list[str], gan_steps: int | None, out: Path, seeds: list[int]
) -> tuple[dict[str, list[str]], dict[str, list[float]]]:
    """Train the latent GAN per seed from ``autoencoder``, then each fine-tuning config on it.

    A run folder that already holds a finished checkpoint is reused, not retrained.
    """
    base = load_config(CONFIGS / "qm9-latent.toml")
    trained: dict[str, list[str]] = {"latent GAN": []}
    seconds: dict[str, list[float]] = {"latent GAN": []}
    for seed in seeds:
        run = out / f"latent-gan-s{seed}"
        train = {"init_from": str(autoencoder), "seed": seed}
        if gan_steps:
            train["steps"] = gan_steps
        config = base.replace(autoencoder={"steps": 0}, train=train)
        seconds["latent GAN"].append(_train(config, run))
        trained["latent GAN"].append(str(run))
        for spec in finetune:
            label, path = spec.split("=", 1)
            tuned = load_config(path).replace(train={"init_from": str(run), "seed": seed})
            tuned_run = out / f"{Path(path).stem}-s{seed}"
            spent = _train(tuned, tuned_run)
            trained.setdefault(label, []).append(str(tuned_run))
            seconds.setdefault(label, []).append(seconds["latent GAN"][-1] + spent)
    return trained, seconds


def _train(config, run: Path) -> float:
    """Train (or reuse a finished run in ``run``) and return its training wall time."""
    if not (run / "checkpoint").is_dir():
        MolGAN.train(config, run, device="cpu", progress=False)
    elif load_checkpoint(run).step < config.train.steps:
        raise SystemExit(f"{run}: an unfinished run; resume it with molgan train --resume")
    return float(load_checkpoint(run).extra.get("seconds", float("nan")))


def write_reference(path: Path, n: int = 10_000) -> Path:
    """10,000 random QM9 molecules (seed 0), the FCD reference of the quality bar."""
    smiles = read_smiles(QM9_PATH)
    rows = np.random.default_rng(0).choice(len(smiles), n, replace=False)
    path.write_text("".join(f"{smiles[i]}\n" for i in sorted(rows.tolist())))
    return path


@torch.no_grad()
def autoencoder_rows(
    checkpoint_path: Path, n: int, out: Path, seeds: list[int]
) -> dict[str, list[Path]]:
    """Decode noisy training codes, and draws of a Gaussian fitted to the codes, per seed."""
    labels = {
        "noisy": "autoencoder, noisy training codes",
        "gaussian": "autoencoder, Gaussian prior",
    }
    done = {
        label: [out / f"{kind}-codes-s{seed}.smi" for seed in seeds]
        for kind, label in labels.items()
    }
    if all(path.exists() for paths in done.values() for path in paths):
        return done
    checkpoint = load_checkpoint(checkpoint_path)
    config, vocab = checkpoint.config, checkpoint.vocab
    model = config.model
    generator = build_generator(model, vocab)
    generator.load_state_dict(checkpoint.weights["generator"])
    decoder = generator.decoder.eval()
    codes, _ = training_codes(checkpoint)  # [M, Z]
    gaussian = fit_code_gaussian(codes)
    rows: dict[str, list[Path]] = {label: [] for label in labels.values()}
    for seed in seeds:
        rng = torch.Generator().manual_seed(seed)
        picked = codes[torch.randint(len(codes), (n,), generator=rng)]
        noisy = picked + config.autoencoder.latent_noise * torch.randn(picked.shape, generator=rng)
        torch.manual_seed(seed)
        drawn = place_codes(gaussian.sample((n,)), model.variational)
        for kind, batch in (("noisy", noisy), ("gaussian", drawn)):
            label = labels[kind]
            path = out / f"{kind}-codes-s{seed}.smi"
            smiles = decode(decoder, batch, vocab)
            path.write_text("".join(f"{s or ''}\n" for s in smiles))
            rows[label].append(path)
    return rows


def checkpoint_encoder(checkpoint: Checkpoint) -> GraphEncoder:
    """A latent checkpoint's encoder, in eval mode."""
    encoder = GraphEncoder.from_config(checkpoint.config.model, checkpoint.vocab).eval()
    encoder.load_state_dict(checkpoint.weights["encoder"])
    return encoder


def file_graphs(checkpoint: Checkpoint, path: Path) -> MolGraph:
    """The graphs of ``path``'s molecules, featurised as the checkpoint's training molecules were:
    its vocabulary (not one derived from the file, whose class ids could differ), atom order and
    transforms."""
    data = checkpoint.config.data
    return MoleculeDataset(
        path,
        checkpoint.vocab,
        progress=False,
        atom_order=data.atom_order,
        transforms=data.transforms,
    ).graphs


def training_codes(checkpoint: Checkpoint) -> tuple[torch.Tensor, MolGraph]:
    """A latent checkpoint's encoder codes ``[M, Z]`` of its training molecules (no noise), and
    those molecules' graphs."""
    _, graphs = load_training_graphs(checkpoint.config, progress=False)
    with torch.no_grad():
        return encode_graphs(checkpoint_encoder(checkpoint), graphs), graphs


@torch.no_grad()
def decode(
    decoder: Callable[[torch.Tensor], DenseGraph], codes: torch.Tensor, vocab
) -> list[str | None]:
    """Argmax-decode codes ``[n, Z]`` into strict canonical SMILES (``None``: invalid).

    Without gradient: a refiner's passes over a few thousand codes would otherwise keep an
    autograd graph of many gigabytes.
    """
    smiles: list[str | None] = []
    for start in range(0, len(codes), 2048):
        graph = logits_to_graph(decoder(codes[start : start + 2048]))
        smiles.extend(graphs_to_smiles(MolGraph(graph.atoms, graph.bonds), vocab))
    return smiles


def heavy_atom_histogram(files: dict[str, Path]) -> str:
    """Percent of each file's valid molecules with 1 ... N heavy atoms (first seed of a row)."""
    counts = {}
    for label, path in files.items():
        valid = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        sizes = [Chem.MolFromSmiles(smiles).GetNumHeavyAtoms() for smiles in valid]
        counts[label] = (np.bincount(sizes, minlength=10)[1:] / max(1, len(sizes))).tolist()
    width = max(len(row) for row in counts.values())
    lines = [
        "Heavy atoms per valid molecule, % (first seed of each row):",
        "",
        "| row | " + " | ".join(str(k) for k in range(1, width + 1)) + " |",
        "|---" * (width + 1) + "|",
    ]
    for label, fractions in counts.items():
        lines.append(f"| {label} | " + " | ".join(f"{100 * f:.1f}" for f in fractions) + " |")
    return "\n".join(lines)


def markdown(rows: dict[str, list[dict]], n: int) -> str:
    """Mean ± standard deviation over seeds of each column."""
    lines = [
        f"{date.today()}: {n} samples per seed; novelty vs all of QM9; FCD vs 10,000 random "
        "QM9 molecules; mean ± sd over seeds.",
        "",
        "| row | seeds | " + " | ".join(COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 2) + "|",
    ]
    for label, reports in rows.items():
        cells = []
        for key in COLUMNS:
            values = [r[key] for r in reports if r.get(key) is not None]
            values = [v for v in values if not math.isnan(v)]  # e.g. a time not recorded
            if not values:
                cells.append("n/a")
            elif len(values) == 1:
                cells.append(f"{values[0]:.3f}")
            else:
                cells.append(f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}")
        lines.append(f"| {label} | {len(reports)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
