"""The training loop, shared by every model family: schedule, EMA, evaluation, logs, checkpoints.

A family module (:data:`molgan.training.FAMILIES`, keyed by ``[model] kind``) owns its networks,
optimisers and step, and does no I/O. :class:`Trainer` owns everything around the step: the
seeded RNG, the loss accumulators (read, and checked for NaN/inf, once every ``log_every`` steps,
so the step never syncs with the host), the weight average of the generator, the periodic strict
evaluation of a sample (RDKit runs only there), ``best/``, ``log.csv`` and the checkpoints.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import fcntl
import json
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import torch

from molgan.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from molgan.conditions import one_hot_values
from molgan.config import Config
from molgan.distributed import World
from molgan.graph import MolGraph, graphs_to_smiles
from molgan.progress import ProgressBar
from molgan.reinforce import RewardLearner
from molgan.rewards import RewardScorer
from molgan.sampling import generate_graphs
from molgan.training.acceleration import mark_step
from molgan.vocab import Vocabulary

__all__ = [
    "Trainer",
    "FamilyModule",
    "NonFiniteLossError",
    "RunFolderBusyError",
    "resolve_device",
]

logger = logging.getLogger(__name__)

_LOG_FIELDS = (
    "step",
    "loss_d",
    "loss_g",
    "reward",
    "validity",
    "uniqueness",
    "eval_reward",
    "seconds",
)


class FamilyModule(Protocol):
    """What the loop needs from a model family: its networks, its step and its state.

    ``generator`` has MolGAN's generator interface (``sample_z(n, rng)`` and
    ``forward(noise) -> DenseGraph`` of logits), so sampling and evaluation are the same for
    every family. ``pre_steps`` counts the steps of the family's stages that come before
    ``[train] steps`` (0 for MolGAN, the autoencoder's for the latent family).
    """

    losses: tuple[str, ...]
    metrics: tuple[str, ...]
    generator: torch.nn.Module
    pre_steps: int
    init_weights: dict[str, dict] | None
    transport: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None
    """What moves the generator's noise when the model samples (the latent family's ``[model]
    transport_steps``); ``None``: the draws as they are."""
    scorer: RewardScorer | None
    """What scores ``[reward] terms`` (an evaluation's ``eval_reward``); ``None`` without terms."""

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        """Run step ``step``; return its losses (device tensors) by name."""

    def evaluate(self) -> dict[str, float]:
        """Family-specific metrics for an evaluation row."""

    def state(self) -> tuple[dict[str, dict], dict[str, dict], dict[str, Any]]:
        """Weights (all but the generator's own, which the loop adds), optimisers, extras."""

    def load_state(
        self, weights: dict[str, dict], optimizers: dict[str, dict], extra: dict[str, Any]
    ) -> None:
        """Restore :meth:`state`."""

    def close(self) -> None:
        """Release workers."""


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the message names the first step where it happened."""


class RunFolderBusyError(ValueError):
    """Another process is training into the same output folder."""


def resolve_device(device: str | None = None) -> torch.device:
    """``"cuda"`` when available and not overridden, else ``"cpu"``.

    Examples:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA GPU is available")
    return torch.device(device)


class Trainer:
    """Train one model family: the loop around its step.

    Args:
        config: The run's configuration (``config.train`` drives the loop, ``config.model.kind``
            picks the family).
        vocab: The vocabulary of ``graphs``.
        graphs: The training set as dense ids (``atoms [M, N]``, ``bonds [M, N, N]``).
        device: ``"cpu"``, ``"cuda"`` or ``None`` for automatic.
        out_dir: Where logs, the loss plot and ``checkpoint/`` go (``None``: nowhere).
        progress: Show a tqdm bar with live validity and uniqueness.
        family: Builds the family module from ``(config, vocab, graphs, device, rng)``; default:
            ``FAMILIES[config.model.kind]``.
        world: This process's rank under ``torchrun`` (:mod:`molgan.distributed`): the trainer
            keeps every ``world.size``-th graph from ``world.rank`` on, seeds its draws with
            ``world.rank_seed(seed)``, and only rank 0 evaluates, prints and writes files.
            Default: one process.
    """

    def __init__(
        self,
        config: Config,
        vocab: Vocabulary,
        graphs: MolGraph,
        *,
        device: str | torch.device | None = None,
        out_dir: str | os.PathLike | None = None,
        progress: bool = True,
        family: Callable[..., FamilyModule] | None = None,
        world: World | None = None,
    ) -> None:
        self.world = world or World()
        if self.world.distributed:
            part = self.world.shard(len(graphs.atoms))
            graphs = MolGraph(graphs.atoms[part], graphs.bonds[part])
        if len(graphs.atoms) == 0:
            raise ValueError("no training molecules")
        cfg = config.train
        if cfg.keep_best not in ("", "valid_unique", "eval_reward"):
            raise ValueError(
                f"keep_best must be '', 'valid_unique' or 'eval_reward', not {cfg.keep_best!r}"
            )
        if cfg.keep_best == "eval_reward" and not config.reward.terms:
            raise ValueError("keep_best = 'eval_reward' needs [reward] terms")
        self.config, self.vocab = config, vocab
        self.progress = progress and self.world.is_main
        self.device = resolve_device(device) if not isinstance(device, torch.device) else device
        # Where rank 0 writes; the other ranks know the folder but never write to it.
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self._writes = self.out_dir is not None and self.world.is_main
        self.rng = torch.Generator(device=self.device).manual_seed(self.world.rank_seed(cfg.seed))
        if family is None:
            from molgan.training import FAMILIES

            family = FAMILIES[config.model.kind]
        device_graphs = MolGraph(graphs.atoms.to(self.device), graphs.bonds.to(self.device))
        self.module = family(config, vocab, device_graphs, self.device, self.rng)
        self.generator = self.module.generator
        # What samples, evaluations and saved models use: the weight average, or G itself.
        self.sampler = copy.deepcopy(self.generator) if cfg.ema else self.generator
        self.sampler.requires_grad_(not cfg.ema)
        if cfg.ema and self.module.init_weights is not None:
            weights = self.module.init_weights
            self.sampler.load_state_dict(weights.get("generator_ema", weights["generator"]))
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {"value": None, "step": 0}  # JSON-safe: no -inf
        self.seconds = 0.0  # training wall time, carried across resumes
        self._reset_accumulators()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, graphs: MolGraph, **kwargs: Any) -> Trainer:
        """Rebuild a trainer from a checkpoint and continue exactly where it stopped."""
        checkpoint = load_checkpoint(path)
        trainer = cls(checkpoint.config, checkpoint.vocab, graphs, **kwargs)
        trainer.load_state(checkpoint)
        return trainer

    @property
    def discriminator(self) -> torch.nn.Module | None:
        """The family's relational-GCN critic (``None`` where it has none)."""
        return self.module.game.discriminator

    @property
    def rewards(self) -> RewardLearner | None:
        """The RL term's reward learner (``None`` without ``[reward] terms``)."""
        return self.module.game.rewards

    @property
    def total_steps(self) -> int:
        """Steps of the whole run: earlier stages plus ``[train] steps``.

        The earlier stages are the family's (the latent family's autoencoder); ``[train] steps``
        is read from the current config, so ``--steps`` may extend a resumed run.
        """
        return self.module.pre_steps + self.config.train.steps

    # -- the step ------------------------------------------------------------------------------

    def train_step(self) -> None:
        """Run the family's step, accumulate its losses, update the weight average.

        The weight average starts from the generator as the family's earlier stages left it (the
        latent family's trained decoder): averaged from the initial weights instead, a decoder
        that no later step moves keeps ``ema ** updates`` of its random start.
        """
        mark_step(self.config.train.compile, self.device)
        if self.config.train.ema and self.module.pre_steps and self.step == self.module.pre_steps:
            self.sampler.load_state_dict(self.generator.state_dict())
        losses = self.module.train_step(self.step)
        for name, loss in losses.items():
            self._track(name, loss)
        if self.config.train.ema and "loss_g" in losses:
            self._update_ema()
        self.step += 1

    def fit(self, steps: int | None = None) -> list[dict[str, Any]]:
        """Train until ``steps`` (default :attr:`total_steps`) total steps are done.

        Logs every ``log_every`` steps, evaluates every ``eval_every``, checkpoints every
        ``checkpoint_every`` and at the end, and plots the history into ``out_dir``.

        Raises:
            NonFiniteLossError: If a loss became NaN/inf (checked at every log row).
        """
        total = steps if steps is not None else self.total_steps
        with _RunLock(self.out_dir) if self._writes else contextlib.nullcontext():
            self._run(total)
        if self._writes:
            self.plot(self.out_dir / "training.png")
        return self.history

    def _run(self, total: int) -> None:
        """The loop proper: steps, log rows, evaluations, checkpoints."""
        bar = ProgressBar(
            total=total, initial=self.step, desc="training", unit="step", disable=not self.progress
        )
        started = time.perf_counter() - self.seconds
        cfg = self.config.train
        # Steps that set a stage up: the run's first (compiling; on a resume, the latent family
        # encodes every training code) and the first after the family's earlier stages.
        set_up = {self.step, self.module.pre_steps}
        try:
            while self.step < total:
                sets_up = self.step in set_up
                self.train_step()
                self.seconds = time.perf_counter() - started
                if sets_up:  # minutes of one-off work left out of the bar's rate and ETA
                    bar.unpause()
                bar.update(1)
                last = self.step == total
                if self.step % cfg.log_every == 0 or last:
                    row = self._log_row()
                    evaluated = self.step % cfg.eval_every == 0 or last
                    if evaluated and self.world.is_main:
                        row.update(self.evaluate_sample(cfg.eval_samples))
                    self._record(row)
                    if evaluated:
                        self._keep_if_best(row)  # after recording, so best/ holds its own row
                    bar.set_postfix({k: _short(v) for k, v in row.items() if k != "step"})
                if self.out_dir is not None and (self.step % cfg.checkpoint_every == 0 or last):
                    self._check_finite()  # a diverged state never replaces the last good one
                    self.save(self.out_dir / "checkpoint")
        finally:
            bar.close()
            self.module.close()

    # -- evaluation, state, outputs ------------------------------------------------------------

    def evaluate_sample(self, n: int) -> dict[str, float]:
        """Strict validity and uniqueness of ``n`` samples (a fixed seed, so rows compare).

        The family may add its own metrics (the latent family: reconstruction).
        """
        rng = torch.Generator(device=self.device).manual_seed(12345)
        smiles: list[str | None] = []
        asked: list[dict[str, int]] | None = [] if self.config.model.conditions else None
        model = self.config.model
        draws = generate_graphs(
            self.sampler,
            n,
            rng,
            model.temperature,
            min_p=model.min_p,
            noise_scale=model.noise_scale,
            transport=self.module.transport,
        )
        for graphs, z in draws:
            smiles.extend(graphs_to_smiles(graphs, self.vocab))
            if asked is not None:  # the classes each sample was drawn with
                one_hot = self.sampler.conditions_of(z).cpu().numpy()
                asked.extend(one_hot_values(one_hot, model.conditions, self.vocab))
        valid = [s for s in smiles if s is not None]
        row = {
            "validity": len(valid) / n,
            "uniqueness": len(set(valid)) / len(valid) if valid else 0.0,
        }
        if self.module.scorer is not None:  # the objective on this sample (uniqueness within it)
            scores = self.module.scorer.score(smiles, generated=False, asked=asked)
            row["eval_reward"] = float(scores.mean())
        row.update(self.module.evaluate())
        return row

    def checkpoint(self) -> Checkpoint:
        """Everything needed to resume exactly: weights, optimisers, RNG states, step, history."""
        rng = {"trainer": self.rng.get_state(), "torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        # Under torchrun every rank has its own draws: all of them go into the checkpoint.
        for rank, states in enumerate(self.world.gather(rng)[1:], start=1):
            rng.update({f"{name}.rank{rank}": state.cpu() for name, state in states.items()})
        module_weights, optimizers, module_extra = self.module.state()
        weights = {"generator": self.generator.state_dict(), **module_weights}
        if self.config.train.ema:
            weights["generator_ema"] = self.sampler.state_dict()
        extra: dict[str, Any] = {
            "family": self.config.model.kind,
            "history": self.history,
            "best": self.best,
            "seconds": self.seconds,
            "world_size": self.world.size,
            # so a resumed run logs the same averages as an uninterrupted one
            "since_last_log": {
                "sums": {name: float(total) for name, total in self._loss_sums.items()},
                "counts": dict(self._loss_counts),
            },
            **module_extra,
        }
        return Checkpoint(
            config=self.config,
            vocab=self.vocab,
            weights=weights,
            step=self.step,
            optimizers=optimizers,
            rng=rng,
            extra=extra,
        )

    def load_state(self, checkpoint: Checkpoint) -> None:
        """Restore a :meth:`checkpoint` (same config and vocabulary)."""
        if checkpoint.vocab != self.vocab:
            raise ValueError("checkpoint vocabulary differs from the trainer's")
        saved_size = int(checkpoint.extra.get("world_size", 1))
        if saved_size != self.world.size:
            raise ValueError(
                f"the checkpoint was written by a run on {saved_size} process(es), this one has "
                f"{self.world.size}: resume it with torchrun --nproc_per_node {saved_size} (or "
                "start a new run from it with [train] init_from)"
            )
        weights = checkpoint.weights
        self.generator.load_state_dict(weights["generator"])
        if self.config.train.ema:
            self.sampler.load_state_dict(weights.get("generator_ema", weights["generator"]))
        self.module.load_state(weights, checkpoint.optimizers, checkpoint.extra)
        suffix = f".rank{self.world.rank}" if self.world.rank else ""
        rng = {
            name: checkpoint.rng[name + suffix]
            for name in ("trainer", "torch", "cuda")
            if name + suffix in checkpoint.rng
        }
        self.rng.set_state(rng["trainer"])
        torch.set_rng_state(rng["torch"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        self.step = checkpoint.step
        self.history = list(checkpoint.extra.get("history", []))
        self.best = dict(checkpoint.extra.get("best", self.best))
        self.seconds = float(checkpoint.extra.get("seconds", 0.0))
        self._reset_accumulators()
        since = checkpoint.extra.get("since_last_log", {})
        for name, total in since.get("sums", {}).items():
            self._loss_sums[name] = torch.full((), total, device=self.device)
        self._loss_counts.update(since.get("counts", {}))

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`checkpoint` atomically to directory ``path`` (on rank 0).

        Under ``torchrun`` every rank calls this: the checkpoint gathers every rank's draws.
        """
        checkpoint = self.checkpoint()
        return save_checkpoint(path, checkpoint) if self.world.is_main else Path(path)

    def plot(self, path: str | os.PathLike) -> None:
        """Plot losses and validity/uniqueness against the step into a PNG."""
        if not self.history:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.5))
        steps = [row["step"] for row in self.history]
        for key in self.module.losses:
            ax_loss.plot(steps, [row.get(key, math.nan) for row in self.history], label=key)
        ax_loss.set(xlabel="step", title="losses")
        ax_loss.legend()
        evaluated = [row for row in self.history if "validity" in row]
        for key in ("validity", "uniqueness"):
            ax_metric.plot(
                [r["step"] for r in evaluated], [r[key] for r in evaluated], "o-", label=key
            )
        ax_metric.set(xlabel="step", ylim=(0, 1.02), title="strict sample metrics")
        ax_metric.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    # -- private -------------------------------------------------------------------------------

    @torch.no_grad()
    def _update_ema(self) -> None:
        """``ema <- decay * ema + (1 - decay) * weights``, on the device, no host sync."""
        averaged = list(self.sampler.parameters())
        torch._foreach_lerp_(
            averaged, list(self.generator.parameters()), 1.0 - self.config.train.ema
        )

    def _keep_if_best(self, row: dict[str, Any]) -> None:
        """Save ``out_dir/best`` when this evaluation beats every earlier one.

        Early stopping without stopping: GAN training can collapse late (MolGAN stopped early).
        """
        key = self.config.train.keep_best
        if not key or self.out_dir is None:
            return
        best = None
        if self.world.is_main:  # only rank 0 evaluates; it tells the others
            value = row["validity"] * row["uniqueness"] if key == "valid_unique" else row[key]
            if self.best["value"] is None or value > self.best["value"]:
                best = {"value": value, "step": self.step}
        best = self.world.broadcast(best)
        if best is not None:
            self.best = best
            self.save(self.out_dir / "best")

    def _reset_accumulators(self) -> None:
        self._loss_sums: dict[str, torch.Tensor] = {}
        self._loss_counts: dict[str, int] = {}
        self._first_bad_step = torch.full((), -1, dtype=torch.long, device=self.device)

    def _track(self, name: str, loss: torch.Tensor) -> None:
        """Accumulate a loss and remember the first non-finite step, without a host sync."""
        loss = loss.detach().float()
        if name not in self._loss_sums:
            self._loss_sums[name] = torch.zeros((), device=self.device)
        self._loss_sums[name].add_(loss)
        self._loss_counts[name] = self._loss_counts.get(name, 0) + 1
        bad = ~torch.isfinite(loss) & (self._first_bad_step < 0)
        self._first_bad_step.copy_(torch.where(bad, self.step + 1, self._first_bad_step))

    def _check_finite(self) -> None:
        """Raise :class:`NonFiniteLossError` if a loss went NaN or infinite since the last check."""
        bad = [step for step in self.world.gather(int(self._first_bad_step)) if step >= 0]
        if not bad:
            return
        first_bad = min(bad)
        advice = (
            f"a loss became NaN or infinite at step {first_bad}; lower the learning rates "
            "([train] lr_generator and lr_discriminator, [autoencoder] lr) or raise [train] "
            "gp_weight"
        )
        saved = self.out_dir / "checkpoint" if self.out_dir is not None else None
        if saved is not None and (saved / "state.json").is_file():
            step = json.loads((saved / "state.json").read_text()).get("step", "?")
            advice += f"; the last good checkpoint (step {step}) is {saved}: start from it with "
            advice += "[train] init_from, or --resume it"
        else:
            advice += "; no checkpoint was written before it, so start again"
        raise NonFiniteLossError(advice)

    def _log_row(self) -> dict[str, Any]:
        self._check_finite()
        row: dict[str, Any] = {"step": self.step, "seconds": round(self.seconds, 3)}
        for name in self.module.losses:  # a loss with no update since the last row is left out
            if self._loss_counts.get(name):  # (the mean over the ranks under torchrun)
                total = self.world.mean(self._loss_sums[name])
                row[name] = float(total) / self._loss_counts[name]
        if self.rewards is not None:
            row["reward"] = self.rewards.pop_mean_reward()
        self._reset_accumulators()
        return row

    @property
    def _log_fields(self) -> tuple[str, ...]:
        extra = [k for k in (*self.module.losses, *self.module.metrics) if k not in _LOG_FIELDS]
        return (*_LOG_FIELDS, *extra)

    def _record(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        if not self._writes:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        log = self.out_dir / "log.csv"
        new = not log.exists()
        with log.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self._log_fields)
            if new:
                writer.writeheader()
            writer.writerow({k: row.get(k, "") for k in self._log_fields})


def _short(value: float) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


class _RunLock:
    """An exclusive lock on a run folder while a run writes to it.

    Two ``molgan train`` processes started on the same ``--out`` (without ``torchrun``, which
    makes them ranks of one run) would interleave their logs and overwrite each other's
    checkpoints; the second one stops at once instead. The lock is ``fcntl.flock`` on
    ``OUT/.lock``, released by the kernel when the process ends, however it ends.
    """

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / ".lock"
        self._handle: Any = None

    def __enter__(self) -> _RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            handle.close()
            raise RunFolderBusyError(
                f"{self.path.parent} is in use by another molgan train (pid {owner}); "
                "choose another --out, or launch several processes with torchrun"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()  # closing the file releases the lock
