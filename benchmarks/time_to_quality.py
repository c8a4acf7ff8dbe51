"""Time to quality of the latent family on QM9, in one process: the whole chain, then its samples.

The latent issue asks for the wall time until a model is at least 99 % strictly valid and 95 %
unique (10,000 samples), with the autoencoder included, and for the sampling throughput of the
latent family against the MolGAN family in the same run. On the 2-core CPU the chain was timed
stage by stage (``docs/benchmarks.md``, "Time to quality"); this script runs the same chain on
one device, so that a lent GPU measures it in one call:

1. the autoencoder of ``configs/qm9-latent.toml`` (its GAN stage cut to one step), unless
   ``--autoencoder`` names a trained one to reuse;
2. ``configs/qm9-latent-ttq-gan.toml``: a fresh latent GAN on that autoencoder;
3. ``configs/qm9-latent-ttq-refiner.toml``, then ``configs/qm9-latent-ttq-deep.toml``: the
   refiner, each stage's ``init_from`` pointed at the stage before it;
4. the export at the shipped sampling settings (5 transport steps, K 0.3, 8 refiner passes),
   ``--samples`` samples at ``--seed``, their strict validity and uniqueness (``molgan.metrics``);
5. sampling throughput, in molecules a second end to end (generator on the device, RDKit
   decoding on one core), of that export and of the MolGAN family's ``--molgan`` model.

Every stage's wall time includes featurising its data and its own evaluations, as a user's run
would. It prints and writes (``--json``) the stages' seconds, the criterion and the rates; the
sample file (``--keep-invalid`` lines) lands in ``OUT/samples.smi`` for ``molgan evaluate``.
``--smoke`` runs every stage for a few steps on 3,000 molecules: a changed code path fails in
seconds, before a lent device's minutes go to it.

Usage: python benchmarks/time_to_quality.py --out runs/ttq-gpu --device cuda [--json FILE]
           [--autoencoder CHECKPOINT] [--samples 10000] [--seed 0] [--molgan qm9-molgan]
           [--smoke]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from molgan.checkpoint import export_checkpoint
from molgan.config import Config, load_config
from molgan.metrics import uniqueness, validity
from molgan.model import MolGAN
from molgan.training import resolve_device

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
STAGES = ("qm9-latent-ttq-gan", "qm9-latent-ttq-refiner", "qm9-latent-ttq-deep")
"""The stages after the autoencoder, in order; each starts from the one before it."""
SAMPLING = {"transport_steps": 5, "transport_lipschitz": 0.3, "refiner_passes": 8}
"""The shipped model's sampling settings (``checkpoints/qm9/config.json``)."""
CRITERION = {"validity": 0.99, "uniqueness": 0.95}
_SMOKE = {"data": {"limit": 3000}, "train": {"eval_every": 10**6, "eval_samples": 50}}
_SMOKE_STEPS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="a folder for the stages' runs")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--autoencoder", default=None, help="reuse this checkpoint's autoencoder")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--molgan", default="qm9-molgan", help="the MolGAN family's model")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="a few steps on 3,000 molecules")
    args = parser.parse_args()
    device = str(resolve_device(args.device))
    stages: dict[str, float] = {}  # seconds per stage, filled as they finish
    report: dict[str, object] = {"device": device, "stages": stages}
    source = args.autoencoder
    if source is None:
        config = _stage_config("qm9-latent", args.smoke).replace(train={"steps": 1})
        source = str(_train("autoencoder", config, args.out / "autoencoder", device, stages))
        _write(report, args.json)  # so far: a time limit that stops a later stage keeps these
    for name in STAGES:
        config = _stage_config(name, args.smoke).replace(train={"init_from": source})
        source = str(_train(name, config, args.out / name, device, stages))
        _write(report, args.json)
    report["train_s"] = sum(stages.values())
    model_dir = export_checkpoint(source, args.out / "model", sampling=SAMPLING)
    n = 500 if args.smoke else args.samples
    latent = MolGAN.load(model_dir, device=device)
    samples, report["latent_molecules_per_s"] = _timed_sample(latent, n, args.seed)
    (args.out / "samples.smi").write_text("".join(f"{s}\n" for s in samples))
    report.update(validity=validity(samples), uniqueness=uniqueness(samples), samples=n)
    # uniqueness is None when no sample is valid
    report["meets_criterion"] = all((report[key] or 0.0) >= bar for key, bar in CRITERION.items())
    molgan = MolGAN.load(args.molgan, device=device)
    report["molgan_molecules_per_s"] = _timed_sample(molgan, n, args.seed)[1]
    print(json.dumps(report, indent=2), flush=True)
    _write(report, args.json)


def _stage_config(name: str, smoke: bool) -> Config:
    """``configs/NAME.toml``; with ``smoke``, a few steps of each stage on 3,000 molecules."""
    config = load_config(CONFIGS / f"{name}.toml")
    if not smoke:
        return config
    ae_steps = _SMOKE_STEPS if config.autoencoder.steps else 0
    return config.replace(
        data=_SMOKE["data"],
        autoencoder={"steps": ae_steps, "batch_size": 32},
        train={**_SMOKE["train"], "steps": _SMOKE_STEPS, "batch_size": 32},
    )


def _train(name: str, config: Config, out: Path, device: str, stages: dict[str, float]) -> Path:
    """Train one stage into ``out``, record its wall time, and return its checkpoint."""
    start = time.perf_counter()
    MolGAN.train(config, out, device=device, progress=False)  # ends writing a checkpoint
    stages[name] = time.perf_counter() - start
    print(f"{name}: {stages[name]:.1f} s", flush=True)
    return out / "checkpoint"


def _timed_sample(model: MolGAN, n: int, seed: int) -> tuple[list[str], float]:
    """``n`` samples (invalid ones as ``""``) and the molecules a second it took to draw them."""
    model.sample(8, seed=seed)  # warm up: the first call pays for kernels and lazy imports
    start = time.perf_counter()
    samples = model.sample(n, seed=seed, keep_invalid=True)
    return samples, n / (time.perf_counter() - start)


def _write(report: dict[str, object], path: Path | None) -> None:
    if path is not None:
        path.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
