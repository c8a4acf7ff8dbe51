"""Safe, self-describing checkpoints: weights and optimiser state as safetensors, the rest as JSON.

A checkpoint is a directory::

    model.safetensors      generator.*, discriminator.*, reward.* weights (a weight average's
                           tensors equal to the generator's are stored once: state.json names them)
    optimizer.safetensors  Adam moments and RNG states (resume only)
    state.json             step, optimiser hyper-parameters, per-tensor layout, metrics
    config.json            the Config that built the models
    vocab.json             the Vocabulary

Nothing is pickled, so loading a checkpoint never runs code. The directory is written to a
temporary sibling and renamed into place, so a crash leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from molgan.config import Config, config_from_dict
from molgan.vocab import Vocabulary

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "export_checkpoint",
]

_FORMAT = "molgan-checkpoint"
_VERSION = 1
_AVERAGE = "generator_ema"  # the generator's weight average, what a model samples with


class CheckpointError(ValueError):
    """A checkpoint cannot be read or written (the message names the path and the problem)."""


@dataclass
class Checkpoint:
    """What a checkpoint directory holds, in memory.

    Attributes:
        config: The run's configuration.
        vocab: The vocabulary of the models.
        weights: Module name (``generator``, ``discriminator``, ``reward``) -> state dict.
        step: Training steps done.
        optimizers: Optimiser name -> ``torch.optim`` state dict (empty for inference-only).
        rng: RNG name -> state tensor (empty for inference-only).
        extra: JSON-ready metadata (e.g. metrics).
    """

    config: Config
    vocab: Vocabulary
    weights: dict[str, dict[str, torch.Tensor]]
    step: int = 0
    optimizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    rng: dict[str, torch.Tensor] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` to directory ``path`` atomically (temporary directory + rename).

    Raises:
        CheckpointError: If the disk is full, the folder read-only or another write fails; an
            earlier checkpoint at ``path`` is left as it was and nothing half-written remains.
    """
    path = Path(path)
    had_one = path.is_dir()
    try:
        _write_checkpoint(path, checkpoint)
    except OSError as err:
        kept = "the previous checkpoint there is intact" if had_one else "nothing was written"
        reason = err.strerror or str(err)
        raise CheckpointError(f"cannot write checkpoint {path}: {reason}; {kept}") from err
    return path


def _write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        on_cpu = {
            module: {name: tensor.detach().cpu().contiguous() for name, tensor in state.items()}
            for module, state in checkpoint.weights.items()
        }
        shared = _shared_with_generator(on_cpu)
        weights = {
            f"{module}.{name}": tensor
            for module, state in on_cpu.items()
            for name, tensor in state.items()
            if not (module == _AVERAGE and name in shared)
        }
        save_file(weights, str(tmp / "model.safetensors"))
        optim_tensors, optim_meta = _flatten_optimizers(checkpoint.optimizers)
        optim_tensors.update({f"rng.{k}": v.cpu().contiguous() for k, v in checkpoint.rng.items()})
        if optim_tensors:
            save_file(optim_tensors, str(tmp / "optimizer.safetensors"))
        state = {
            "format": _FORMAT,
            "version": _VERSION,
            "step": checkpoint.step,
            "optimizers": optim_meta,
            "extra": checkpoint.extra,
        }
        if shared:
            state["shared"] = {_AVERAGE: sorted(shared)}
        (tmp / "state.json").write_text(json.dumps(state, indent=2))
        (tmp / "config.json").write_text(json.dumps(checkpoint.config.to_dict(), indent=2))
        (tmp / "vocab.json").write_text(json.dumps(checkpoint.vocab.to_dict(), indent=2))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp creates 0700; a checkpoint should be shareable
        for file in tmp.iterdir():
            file.chmod(0o666 & ~umask)
        _replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> Checkpoint:
    """Read a checkpoint directory written by :func:`save_checkpoint`.

    ``path`` may also be a training output folder holding a ``checkpoint/`` directory.

    Raises:
        CheckpointError: If a file is missing, corrupt, or of another format.
    """
    path = Path(path)
    if (path / "checkpoint" / "state.json").is_file():
        path = path / "checkpoint"
    if path.is_file():
        raise CheckpointError(
            f"{path}: is a file; a molgan checkpoint is a folder of safetensors and JSON files "
            "(written by molgan train or export), and molgan never unpickles .pt or .pkl files"
        )
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such checkpoint directory")
    for name in ("state.json", "config.json", "vocab.json", "model.safetensors"):
        if not (path / name).is_file():
            raise CheckpointError(f"{path}: missing {name}")
    try:
        state = json.loads((path / "state.json").read_text())
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise CheckpointError(f"{path}: state.json is not a molgan checkpoint")
        config = config_from_dict(json.loads((path / "config.json").read_text()))
        vocab = Vocabulary.from_dict(json.loads((path / "vocab.json").read_text()))
        flat = load_file(str(path / "model.safetensors"), device=str(map_location))
        optim_file = path / "optimizer.safetensors"
        optim_flat = load_file(str(optim_file)) if optim_file.is_file() else {}
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, SafetensorError) as err:
        raise CheckpointError(f"{path}: unreadable checkpoint ({err})") from None
    weights: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in flat.items():
        module, _, name = key.partition(".")
        weights.setdefault(module, {})[name] = tensor
    _restore_shared(path, weights, state.get("shared", {}))
    _check_generator(path, config, vocab, weights)
    try:
        rng = {k[4:]: v for k, v in optim_flat.items() if k.startswith("rng.")}
        optimizers = _unflatten_optimizers(optim_flat, state.get("optimizers", {}))
        step, extra = int(state["step"]), state["extra"]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(f"{path}: malformed state.json or optimizer state ({err})") from None
    return Checkpoint(config, vocab, weights, step, optimizers, rng, extra)


def _shared_with_generator(weights: dict[str, dict[str, torch.Tensor]]) -> list[str]:
    """The weight average's tensors (on the CPU) that equal the generator's, to be stored once.

    The latent family's decoder is fixed after its autoencoder stage, so its average is the
    decoder itself: storing it twice would cost a four-layer MOSES model its 20 MB budget.
    """
    average, generator = weights.get(_AVERAGE, {}), weights.get("generator", {})
    return [
        name
        for name, tensor in average.items()
        if name in generator
        and generator[name].dtype == tensor.dtype
        and torch.equal(generator[name], tensor)  # False for another shape
    ]


def _restore_shared(path: Path, weights: dict[str, dict[str, torch.Tensor]], shared: Any) -> None:
    """Put back the weight average's tensors that ``state.json`` says equal the generator's."""
    names = shared.get(_AVERAGE, []) if isinstance(shared, dict) else None
    generator = weights.get("generator", {})
    if not isinstance(names, list) or any(
        not isinstance(name, str) or name not in generator for name in names
    ):
        raise CheckpointError(f"{path}: state.json names shared weights the generator lacks")
    for name in names:
        weights.setdefault(_AVERAGE, {})[name] = generator[name].clone()


def _check_generator(
    path: Path, config: Config, vocab: Vocabulary, weights: dict[str, dict[str, torch.Tensor]]
) -> None:
    """Refuse generator weights whose names or shapes do not fit the checkpoint's own files.

    Catches an edited ``vocab.json`` or ``config.json``, or files mixed from two runs.
    """
    from molgan.models import build_generator

    with torch.random.fork_rng(devices=[]):  # building a network must not move the global RNG
        expected = {
            k: v.shape for k, v in build_generator(config.model, vocab).state_dict().items()
        }
    for name in ("generator", "generator_ema"):
        if name not in weights:
            if name == "generator":
                raise CheckpointError(f"{path}: holds no generator weights")
            continue
        got = {k: v.shape for k, v in weights[name].items()}
        wrong = sorted(k for k in expected.keys() & got.keys() if got[k] != expected[k])
        missing, unexpected = (
            sorted(expected.keys() - got.keys()),
            sorted(got.keys() - expected.keys()),
        )
        if wrong or missing or unexpected:
            example = (
                f"{wrong[0]} is {tuple(got[wrong[0]])}, expected {tuple(expected[wrong[0]])}"
                if wrong
                else f"missing {missing[:3]}, unexpected {unexpected[:3]}"
            )
            raise CheckpointError(
                f"{path}: its {name} weights do not fit its config.json and vocab.json ({example})"
            )


def export_checkpoint(
    source: str | os.PathLike,
    target: str | os.PathLike,
    modules: tuple[str, ...] | None = None,
    sampling: dict[str, float] | None = None,
) -> Path:
    """Copy a training checkpoint without optimiser and RNG state: a model to ship or fine-tune.

    Keeps the weights of ``modules``, by default those of the family's networks: the generator
    to sample (with its weight average if the run kept one), and the critics (and the latent
    family's encoder) so that ``train.init_from`` can fine-tune it; a MolGAN checkpoint exports
    ``generator`` and ``discriminator``. Also keeps the config, vocabulary, step and history;
    ``sampling`` may change the ``[model]`` sampling settings of the copy
    (:data:`SAMPLING_SETTINGS`).

    Raises:
        CheckpointError: If ``source`` is unreadable or lacks one of ``modules``.
    """
    checkpoint = load_checkpoint(source)
    if modules is None:
        required, optional = _EXPORTED[checkpoint.config.model.kind]
        modules = required + tuple(m for m in optional if m in checkpoint.weights)
    if "generator_ema" in checkpoint.weights and "generator" in modules:
        modules = (*modules, "generator_ema")  # the average is what a model samples from
    missing = [m for m in modules if m not in checkpoint.weights]
    if missing:
        raise CheckpointError(f"{source}: no {', '.join(missing)} weights to export")
    history = checkpoint.extra.get("history", [])
    config = checkpoint.config
    if sampling:
        unknown = set(sampling) - SAMPLING_SETTINGS
        if unknown:
            raise ValueError(f"not sampling settings: {sorted(unknown)}")
        config = config.replace(model=sampling)
    exported = Checkpoint(
        config,
        checkpoint.vocab,
        {m: checkpoint.weights[m] for m in modules},
        step=checkpoint.step,
        extra={"history": history},
    )
    return save_checkpoint(target, exported)


SAMPLING_SETTINGS = frozenset(
    {
        "temperature",
        "min_p",
        "refiner_passes",
        "noise_scale",
        "transport_steps",
        "transport_lipschitz",
        "transport_lr",
    }
)
"""The ``[model]`` fields that change how a trained model samples, not what was trained."""

_EXPORTED = {
    "molgan": (("generator", "discriminator"), ()),
    "latent": (("generator", "encoder", "latent_critic"), ("discriminator",)),
}
"""The networks :func:`export_checkpoint` keeps by family: (required, kept if present). The
reward network is not shipped: a fine-tuning run refits it."""


def _flatten_optimizers(
    optimizers: dict[str, dict[str, Any]],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split optimiser state dicts into tensors (safetensors) and plain values (JSON)."""
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {}
    for name, state_dict in optimizers.items():
        scalars: dict[str, dict[str, Any]] = {}
        for param_id, param_state in state_dict["state"].items():
            for key, value in param_state.items():
                if torch.is_tensor(value):
                    tensors[f"{name}.{param_id}.{key}"] = value.detach().cpu().contiguous()
                else:
                    scalars.setdefault(str(param_id), {})[key] = value
        meta[name] = {"param_groups": state_dict["param_groups"], "scalars": scalars}
    return tensors, meta


def _unflatten_optimizers(
    tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    optimizers: dict[str, dict[str, Any]] = {}
    for name, info in meta.items():
        state: dict[int, dict[str, Any]] = {}
        for key, tensor in tensors.items():
            if key.startswith(f"{name}."):
                _, param_id, field_name = key.split(".", 2)
                state.setdefault(int(param_id), {})[field_name] = tensor
        for param_id, scalars in info.get("scalars", {}).items():
            state.setdefault(int(param_id), {}).update(scalars)
        optimizers[name] = {"state": state, "param_groups": info["param_groups"]}
    return optimizers


def _replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing ``target`` is swapped out, then deleted."""
    if not target.exists():
        os.replace(new, target)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
