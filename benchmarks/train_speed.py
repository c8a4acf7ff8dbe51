"""Training throughput of both model families, eager against compiled, at several batch sizes.

Rows (molecules/s = batch x steps / s):
- ``molgan``: MolGAN's step at MolGAN's sizes (generator MLP 128-256-512, R-GCN 128-64), WGAN-GP
  with the structure penalty: one critic update on ``batch`` real and ``batch`` generated graphs,
  plus a generator update every 5 steps.
- ``latent AE``: the latent family's autoencoder step (``configs/qm9-latent.toml``'s sizes, or
  ``configs/moses-latent.toml``'s with ``--moses``): ``batch`` molecules encoded and decoded.
- ``latent GAN``: its latent GAN step (LatentGAN's WGAN-GP on ``batch`` codes, G every 5 steps);
  molecules/s counts latents.
- ``RDKit-in-step`` (eager, first batch): the MolGAN step plus a strict RDKit validity check of
  each step's fake batch, as a plain MolGAN port does.
- ``RL (QED)`` (eager): molgan's RL step (``[reward] terms = ["qed", "uniqueness"]``, no warm-up),
  RDKit scoring the previous fake batch in worker processes.

Each family row runs in each of ``--modes``: ``eager`` or a ``[train] compile`` mode; ``warm-up
s`` is the time of the first 10 steps, which includes the compilation. On a GPU, ``host syncs``
counts the operations that made the host wait for the GPU during 10 more steps (CUDA's sync
debug mode; an RL step syncs by design, to hand its batch to RDKit).

Usage: python benchmarks/train_speed.py [--device cpu|cuda] [--batches 32 1024] [--seconds 20]
       [--modes eager default reduce-overhead] [--amp] [--moses] [--no-rl] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from collections.abc import Callable
from datetime import date

import torch

from molgan.chem import quiet_rdkit, strict_smiles
from molgan.config import Config, load_config
from molgan.data import QM9_SPLITS, MoleculeDataset
from molgan.graph import MolGraph, graphs_to_mols
from molgan.model import load_training_graphs
from molgan.sampling import logits_to_graph
from molgan.training import Trainer, resolve_device
from molgan.vocab import Vocabulary

_WARMUP_STEPS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 1024])
    parser.add_argument("--seconds", type=float, default=20.0, help="timed budget per row")
    parser.add_argument(
        "--modes", nargs="+", default=["eager", "default"], help="eager or [train] compile modes"
    )
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast (GPU only)")
    parser.add_argument("--moses", action="store_true", help="latent rows at MOSES's sizes")
    parser.add_argument("--no-rl", action="store_true", help="skip the RDKit and RL rows")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    device = resolve_device(args.device)
    qm9 = MoleculeDataset(QM9_SPLITS["train"], progress=False)
    latent_config = load_config(
        "configs/moses-latent.toml" if args.moses else "configs/qm9-latent.toml"
    ).replace(data={"limit": 20000} if args.moses else {})
    latent_vocab, latent_graphs = load_training_graphs(latent_config, progress=False)
    families = {
        "molgan": (Config(), qm9.vocab, qm9.graphs),
        "latent AE": (latent_config, latent_vocab, latent_graphs),
        "latent GAN": (latent_config, latent_vocab, latent_graphs),
    }
    rows = []
    for name, (config, vocab, graphs) in families.items():
        for batch in args.batches:
            for mode in args.modes:
                run = _configure(config, name, batch, "" if mode == "eager" else mode, args.amp)
                rows.append(_measure(name, run, vocab, graphs, device, args.seconds))
                _print(rows[-1])
    if not args.no_rl:
        rl = {"terms": ("qed", "uniqueness"), "warmup": 0.0}
        run = _configure(Config(), "molgan", args.batches[0], "", args.amp)
        rows.append(
            _measure("RDKit-in-step", run, qm9.vocab, qm9.graphs, device, args.seconds, True)
        )
        _print(rows[-1])
        for batch in args.batches:
            run = _configure(Config(), "molgan", batch, "", args.amp).replace(reward=rl)
            rows.append(_measure("RL (QED)", run, qm9.vocab, qm9.graphs, device, args.seconds))
            _print(rows[-1])
    info = {
        "date": date.today().isoformat(),
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "amp": args.amp,
        "rows": rows,
    }
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(info, handle, indent=2)


def _configure(config: Config, name: str, batch: int, mode: str, amp: bool) -> Config:
    """``config`` set up to time ``name``'s step at ``batch`` (no evaluations, no files)."""
    train = {
        "batch_size": batch,
        "compile": mode,
        "amp": amp,
        "log_every": 10**9,
        "eval_every": 10**9,
        "init_from": "",
        "ema": 0.0,
    }
    if name == "molgan":
        return config.replace(train={**train, "structure_weight": 1.0})
    # The autoencoder stage never ends for "latent AE"; "latent GAN" starts in the GAN stage.
    steps = 10**9 if name == "latent AE" else 0
    return config.replace(train=train, autoencoder={"steps": steps, "batch_size": batch})


def _measure(
    name: str,
    config: Config,
    vocab: Vocabulary,
    graphs: MolGraph,
    device: torch.device,
    seconds: float,
    rdkit_in_step: bool = False,
) -> dict:
    trainer = Trainer(config, vocab, graphs, device=device, progress=False)
    batch = config.train.batch_size
    step = _rdkit_in_step(trainer, batch, vocab) if rdkit_in_step else trainer.train_step
    warmup = warm_up(step, device)  # compiles, when compiling
    syncs = _host_syncs(step) if device.type == "cuda" else None
    rate = steps_per_second(step, device, seconds)
    trainer.module.close()
    return {
        "mode": name,
        "compile": config.train.compile or "eager",
        "batch": batch,
        "steps_per_s": rate,
        "mol_per_s": rate * batch,
        "warmup_s": warmup,
        "host_syncs": syncs,
    }


def _host_syncs(step: Callable[[], None], steps: int = 10) -> int:
    """How many times ``steps`` calls of ``step`` made the host wait for the GPU."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for _ in range(steps):
                step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(warning.message) for warning in caught)


def _rdkit_in_step(trainer: Trainer, batch: int, vocab: Vocabulary) -> Callable[[], None]:
    """The trainer's step plus what a port does: decode and check each fake batch with RDKit."""

    def step() -> None:
        trainer.train_step()
        with torch.no_grad(), quiet_rdkit():
            logits = trainer.generator(trainer.generator.sample_z(batch, trainer.rng))
            [strict_smiles(mol) for mol in graphs_to_mols(logits_to_graph(logits), vocab)]

    return step


def _print(row: dict) -> None:
    print(
        f"{row['mode']:<14} {row['compile']:<16} batch {row['batch']:>5}: "
        f"{row['steps_per_s']:8.2f} steps/s {row['mol_per_s']:11.0f} mol/s "
        f"(warm-up {row['warmup_s']:.1f} s"
        + (f", {row['host_syncs']} host syncs)" if row["host_syncs"] is not None else ")"),
        flush=True,
    )


def warm_up(step: Callable[[], None], device: torch.device) -> float:
    """Run ``step`` 10 times (compilation, caches, lazy starts); return the seconds it took."""
    start = time.perf_counter()
    for _ in range(_WARMUP_STEPS):
        step()
    _sync(device)
    return time.perf_counter() - start


def steps_per_second(step: Callable[[], None], device: torch.device, seconds: float) -> float:
    """``step``'s rate over blocks of 10 calls, until at least ``seconds`` have passed."""
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            step()
        steps += 10
        _sync(device)
    return steps / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    main()
