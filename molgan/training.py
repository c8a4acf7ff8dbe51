"""The training loop: the adversarial game between generator and discriminator.

``Trainer`` is the only place that knows the order of the calls in a step: sample real graphs,
generate fake ones, update the discriminator, every ``n_critic`` steps update the generator. The
step itself runs on tensors only (no RDKit, no ``.item()``): losses are accumulated on the device
and read, and checked for NaN/inf, once every ``log_every`` steps. RDKit runs only in the
periodic evaluation of a sample.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import logging
import math
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from molgan.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from molgan.config import Config
from molgan.graph import DenseGraph, MolGraph, graphs_to_smiles
from molgan.losses import (
    entropy_regularizer,
    get_gan_loss,
    gradient_penalty,
    mode_seeking_loss,
    structure_penalty,
)
from molgan.models import Discriminator, Generator
from molgan.reinforce import RewardLearner
from molgan.sampling import generate_graphs, sample_dense_graph, softmax_graph
from molgan.vocab import Vocabulary

__all__ = [
    "Trainer",
    "NonFiniteLossError",
    "resolve_device",
    "max_valence",
    "max_net_charge",
]

logger = logging.getLogger(__name__)

_LOG_FIELDS = ("step", "loss_d", "loss_g", "reward", "validity", "uniqueness", "eval_reward")


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the message names the first step where it happened."""


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


def max_valence(graphs: MolGraph, vocab: Vocabulary) -> torch.Tensor:
    """The largest valence (sum of bond orders) of each atom class in a dataset, ``[T]``.

    Data-derived caps for ``losses.structure_penalty``: for QM9 they are C 4, C- 3, N 3, N- 2,
    N+ 4, O 2, O- 1, F 1; padding gets 0.
    """
    orders = torch.tensor(vocab.bond_orders)[graphs.bonds.long()]  # [M, N, N]
    valence = orders.sum(-1).flatten()  # [M * N]
    classes = graphs.atoms.long().flatten()  # [M * N]
    caps = torch.zeros(vocab.n_atom_classes).scatter_reduce(0, classes, valence, reduce="amax")
    caps[0] = 0.0
    return caps


def max_net_charge(graphs: MolGraph, vocab: Vocabulary) -> float:
    """The largest ``|net formal charge|`` of a molecule in a dataset (0 for QM9)."""
    charges = torch.tensor(vocab.atom_charges)[graphs.atoms.long()]  # [M, N]
    return float(charges.sum(-1).abs().max()) if len(charges) else 0.0


class Trainer:
    """Train a MolGAN generator against a relational-GCN discriminator.

    Args:
        config: The run's configuration (``config.train`` drives the loop).
        vocab: The vocabulary of ``graphs``.
        graphs: The training set as dense ids (``atoms [M, N]``, ``bonds [M, N, N]``).
        device: ``"cpu"``, ``"cuda"`` or ``None`` for automatic.
        out_dir: Where logs, the loss plot and ``checkpoint/`` go (``None``: nowhere).
        progress: Show a tqdm bar with live validity and uniqueness.
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
    ) -> None:
        if len(graphs.atoms) == 0:
            raise ValueError("no training molecules")
        self.config, self.vocab, self.progress = config, vocab, progress
        self.device = resolve_device(device) if not isinstance(device, torch.device) else device
        self.out_dir = Path(out_dir) if out_dir is not None else None
        cfg = config.train
        self.gan_loss = get_gan_loss(cfg.loss)
        with torch.random.fork_rng(devices=[]):  # seeded weights, global RNG left untouched
            torch.manual_seed(cfg.seed)
            self.generator = Generator.from_config(config.model, vocab).to(self.device)
            # What samples, evaluations and saved models use: the weight average, or G itself.
            self.sampler = copy.deepcopy(self.generator) if cfg.ema else self.generator
            self.sampler.requires_grad_(not cfg.ema)
            self.discriminator = Discriminator.from_config(config.model, vocab).to(self.device)
            self.rewards = (
                RewardLearner(config, vocab, graphs, self.device) if config.reward.terms else None
            )
        if cfg.init_from:
            self._init_from(cfg.init_from)
        self.opt_g = torch.optim.Adam(
            self.generator.parameters(), lr=cfg.lr_generator, betas=cfg.betas
        )
        self.opt_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=cfg.lr_discriminator, betas=cfg.betas
        )
        self.rng = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.atoms = graphs.atoms.to(self.device)  # [M, N] int8
        self.bonds = graphs.bonds.to(self.device)  # [M, N, N] int8
        self.bond_orders = torch.tensor(vocab.bond_orders, device=self.device)  # [Y]
        self.max_valence = max_valence(graphs, vocab).to(self.device)  # [T]
        self.atom_charges = torch.tensor(
            vocab.atom_charges, dtype=torch.float32, device=self.device
        )
        self.max_net_charge = max_net_charge(graphs, vocab)
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {"value": None, "step": 0}  # JSON-safe: no -inf
        if cfg.keep_best not in ("", "valid_unique", "eval_reward"):
            raise ValueError(
                f"keep_best must be '', 'valid_unique' or 'eval_reward', not {cfg.keep_best!r}"
            )
        if cfg.keep_best == "eval_reward" and not config.reward.terms:
            raise ValueError("keep_best = 'eval_reward' needs [reward] terms")
        self._reset_accumulators()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, graphs: MolGraph, **kwargs: Any) -> Trainer:
        """Rebuild a trainer from a checkpoint and continue exactly where it stopped."""
        checkpoint = load_checkpoint(path)
        trainer = cls(checkpoint.config, checkpoint.vocab, graphs, **kwargs)
        trainer.load_state(checkpoint)
        return trainer

    # -- the step ------------------------------------------------------------------------------

    def train_step(self) -> None:
        """One discriminator update, plus a generator update every ``n_critic`` steps."""
        cfg = self.config.train
        with self._autocast():
            real = self._real_batch()
            z_fake, _, fake = self._generate()
            fake = DenseGraph(fake.atoms.detach(), fake.bonds.detach())
            real_scores = self.discriminator(real)  # [B, 1]
            fake_scores = self.discriminator(fake)  # [B, 1]
            loss_d = self.gan_loss.discriminator(real_scores, fake_scores)
            if self.gan_loss.uses_gradient_penalty:
                loss_d = loss_d + cfg.gp_weight * gradient_penalty(
                    self.discriminator, real, fake, self.rng
                )
            if cfg.entropy_weight:
                scores = torch.cat([real_scores, fake_scores])
                loss_d = loss_d - cfg.entropy_weight * entropy_regularizer(scores)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        self._track(loss_d, self._loss_d_sum)
        self._d_updates += 1
        if self.rewards is not None:
            self.rewards.observe(fake, z_fake)

        if (self.step + 1) % cfg.n_critic == 0:
            with self._autocast():
                z, logits, fake = self._generate()
                loss_g = self.gan_loss.generator(self.discriminator(fake))
                if self.rewards is not None and self.step >= self._rl_start:
                    loss_g = self.rewards.generator_loss(loss_g, fake, self.generator)
                if cfg.diversity_weight:
                    loss_g = loss_g + cfg.diversity_weight * mode_seeking_loss(
                        softmax_graph(logits), z
                    )
                if cfg.structure_weight:
                    penalty = structure_penalty(
                        fake,
                        self.max_valence,
                        self.bond_orders,
                        self.atom_charges,
                        self.max_net_charge,
                    )
                    loss_g = loss_g + cfg.structure_weight * penalty.mean()
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            if cfg.clip_grad:
                torch.nn.utils.clip_grad_norm_(self.generator.parameters(), cfg.clip_grad)
            self.opt_g.step()
            if cfg.ema:
                self._update_ema()
            self._track(loss_g, self._loss_g_sum)
            self._g_updates += 1
        self.step += 1

    def fit(self, steps: int | None = None) -> list[dict[str, Any]]:
        """Train until ``steps`` (default ``config.train.steps``) total steps are done.

        Logs every ``log_every`` steps, evaluates every ``eval_every``, checkpoints every
        ``checkpoint_every`` and at the end, and plots the history into ``out_dir``.

        Raises:
            NonFiniteLossError: If a loss became NaN/inf (checked at every log row).
        """
        cfg = self.config.train
        total = steps if steps is not None else cfg.steps
        bar = tqdm(
            total=total, initial=self.step, desc="training", unit="step", disable=not self.progress
        )
        try:
            while self.step < total:
                self.train_step()
                bar.update(1)
                last = self.step == total
                if self.step % cfg.log_every == 0 or last:
                    row = self._log_row()
                    evaluated = self.step % cfg.eval_every == 0 or last
                    if evaluated:
                        row.update(self.evaluate_sample(cfg.eval_samples))
                    self._record(row)
                    if evaluated:
                        self._keep_if_best(row)  # after recording, so best/ holds its own row
                    bar.set_postfix({k: _short(v) for k, v in row.items() if k != "step"})
                if self.out_dir is not None and (self.step % cfg.checkpoint_every == 0 or last):
                    self.save(self.out_dir / "checkpoint")
        finally:
            bar.close()
            if self.rewards is not None:
                self.rewards.close()
        if self.out_dir is not None:
            self.plot(self.out_dir / "training.png")
        return self.history

    # -- evaluation, state, outputs ------------------------------------------------------------

    def evaluate_sample(self, n: int) -> dict[str, float]:
        """Strict validity and uniqueness of ``n`` samples (a fixed seed, so rows compare)."""
        rng = torch.Generator(device=self.device).manual_seed(12345)
        smiles: list[str | None] = []
        model = self.config.model
        for graphs in generate_graphs(self.sampler, n, rng, model.temperature, min_p=model.min_p):
            smiles.extend(graphs_to_smiles(graphs, self.vocab))
        valid = [s for s in smiles if s is not None]
        row = {
            "validity": len(valid) / n,
            "uniqueness": len(set(valid)) / len(valid) if valid else 0.0,
        }
        if self.rewards is not None:  # the objective on this sample (uniqueness within it)
            row["eval_reward"] = float(self.rewards.scorer.score(smiles, generated=False).mean())
        return row

    def checkpoint(self) -> Checkpoint:
        """Everything needed to resume exactly: weights, optimisers, RNG states, step, history."""
        rng = {"trainer": self.rng.get_state(), "torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        weights = {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
        }
        if self.config.train.ema:
            weights["generator_ema"] = self.sampler.state_dict()
        optimizers = {
            "generator": self.opt_g.state_dict(),
            "discriminator": self.opt_d.state_dict(),
        }
        extra: dict[str, Any] = {
            "history": self.history,
            "best": self.best,
            "since_last_log": {  # so a resumed run logs the same averages as an uninterrupted one
                "loss_d_sum": float(self._loss_d_sum),
                "loss_g_sum": float(self._loss_g_sum),
                "d_updates": self._d_updates,
                "g_updates": self._g_updates,
            },
        }
        if self.rewards is not None:
            reward_weights, reward_optimizer, reward_extra = self.rewards.state()
            weights.update(reward_weights)
            if reward_optimizer is not None:
                optimizers["reward"] = reward_optimizer
            extra["rewards"] = reward_extra
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
        self._load_generators(checkpoint.weights)
        self.discriminator.load_state_dict(checkpoint.weights["discriminator"])
        self.opt_g.load_state_dict(checkpoint.optimizers["generator"])
        self.opt_d.load_state_dict(checkpoint.optimizers["discriminator"])
        if self.rewards is not None:
            self.rewards.load_state(
                checkpoint.weights,
                checkpoint.optimizers.get("reward"),
                checkpoint.extra["rewards"],
            )
        self.rng.set_state(checkpoint.rng["trainer"])
        torch.set_rng_state(checkpoint.rng["torch"])
        if "cuda" in checkpoint.rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(checkpoint.rng["cuda"], self.device)
        self.step = checkpoint.step
        self.history = list(checkpoint.extra.get("history", []))
        self.best = dict(checkpoint.extra.get("best", self.best))
        self._reset_accumulators()
        since = checkpoint.extra.get("since_last_log")
        if since:
            self._loss_d_sum.fill_(since["loss_d_sum"])
            self._loss_g_sum.fill_(since["loss_g_sum"])
            self._d_updates, self._g_updates = since["d_updates"], since["g_updates"]

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`checkpoint` atomically to directory ``path``."""
        return save_checkpoint(path, self.checkpoint())

    def plot(self, path: str | os.PathLike) -> None:
        """Plot losses and validity/uniqueness against the step into a PNG."""
        if not self.history:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.5))
        steps = [row["step"] for row in self.history]
        for key in ("loss_d", "loss_g"):
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

    def _load_generators(self, weights: dict[str, dict[str, torch.Tensor]]) -> None:
        """Load G, and its average if this run keeps one (a checkpoint without: a copy of G)."""
        self.generator.load_state_dict(weights["generator"])
        if self.config.train.ema:
            self.sampler.load_state_dict(weights.get("generator_ema", weights["generator"]))

    def _keep_if_best(self, row: dict[str, Any]) -> None:
        """Save ``out_dir/best`` when this evaluation beats every earlier one.

        Early stopping without stopping: GAN training can collapse late (MolGAN stopped early).
        """
        key = self.config.train.keep_best
        if not key or self.out_dir is None:
            return
        value = row["validity"] * row["uniqueness"] if key == "valid_unique" else row[key]
        if self.best["value"] is None or value > self.best["value"]:
            self.best = {"value": value, "step": self.step}
            self.save(self.out_dir / "best")

    def _init_from(self, path: str) -> None:
        checkpoint = load_checkpoint(path, map_location=self.device)
        # The sampling temperature may differ; every layer size must match.
        theirs = dataclasses.replace(checkpoint.config.model, temperature=0.0)
        ours = dataclasses.replace(self.config.model, temperature=0.0)
        if checkpoint.vocab != self.vocab or theirs != ours:
            raise ValueError(
                f"init_from {path}: its vocabulary or [model] layers differ from this run's; "
                "copy its [model] table into the config"
            )
        if "discriminator" not in checkpoint.weights:
            raise ValueError(
                f"init_from {path}: an inference-only checkpoint (generator weights only); "
                "fine-tuning needs the discriminator too, as `molgan train` saves it"
            )
        self._load_generators(checkpoint.weights)
        self.discriminator.load_state_dict(checkpoint.weights["discriminator"])

    @property
    def _rl_start(self) -> int:
        """The first step whose generator update includes the RL term."""
        return int(self.config.reward.warmup * self.config.train.steps)

    def _real_batch(self) -> DenseGraph:
        idx = torch.randint(
            len(self.atoms), (self.config.train.batch_size,), generator=self.rng, device=self.device
        )
        return MolGraph(self.atoms[idx], self.bonds[idx]).one_hot(self.vocab)

    def _generate(self) -> tuple[torch.Tensor, DenseGraph, DenseGraph]:
        """Latent codes ``[B, Z]``, the generator's logits, and their Gumbel-softmax sample."""
        cfg = self.config.train
        z = self.generator.sample_z(cfg.batch_size, self.rng)  # [B, Z]
        logits = self.generator(z)
        return z, logits, sample_dense_graph(logits, cfg.tau, cfg.hard, self.rng)

    def _autocast(self):
        if self.config.train.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def _reset_accumulators(self) -> None:
        zero = torch.zeros((), device=self.device)
        self._loss_d_sum, self._loss_g_sum = zero.clone(), zero.clone()
        self._d_updates = 0
        self._g_updates = 0
        self._first_bad_step = torch.full((), -1, dtype=torch.long, device=self.device)

    def _track(self, loss: torch.Tensor, total: torch.Tensor) -> None:
        """Accumulate a loss and remember the first non-finite step, without a host sync."""
        loss = loss.detach().float()
        total.add_(loss)
        bad = ~torch.isfinite(loss) & (self._first_bad_step < 0)
        self._first_bad_step.copy_(torch.where(bad, self.step + 1, self._first_bad_step))

    def _log_row(self) -> dict[str, Any]:
        first_bad = int(self._first_bad_step)
        if first_bad >= 0:
            raise NonFiniteLossError(
                f"a loss became NaN or infinite at step {first_bad}; lower the learning rates, "
                "or raise gp_weight / entropy_weight, and resume from the last checkpoint"
            )
        row = {
            "step": self.step,
            "loss_d": float(self._loss_d_sum) / max(self._d_updates, 1),
            "loss_g": float(self._loss_g_sum) / self._g_updates if self._g_updates else math.nan,
        }
        if self.rewards is not None:
            row["reward"] = self.rewards.pop_mean_reward()
        self._reset_accumulators()
        return row

    def _record(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        log = self.out_dir / "log.csv"
        new = not log.exists()
        with log.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=_LOG_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow({k: row.get(k, "") for k in _LOG_FIELDS})


def _short(value: float) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
