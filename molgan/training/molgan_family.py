"""The MolGAN family's training step: an MLP generator against the relational-GCN discriminator.

One step is one discriminator update, plus a generator update every ``n_critic`` steps (De Cao &
Kipf 2018). The step runs on tensors only (no RDKit, no ``.item()``) and returns its losses as
device tensors; the loop (:class:`molgan.training.Trainer`) reads them once per log row.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from molgan.checkpoint import load_checkpoint
from molgan.config import Config, ModelConfig
from molgan.distributed import optimizer_step
from molgan.graph import DenseGraph, MolGraph
from molgan.models import Discriminator, Generator
from molgan.rewards import RewardScorer
from molgan.sampling import sample_dense_graph
from molgan.training.acceleration import autocast, compiled
from molgan.training.graph_game import GraphGame, real_batch
from molgan.vocab import Vocabulary

__all__ = ["MolGANFamily"]


class MolGANFamily:
    """MolGAN's networks, optimisers and step.

    Args:
        config: The run's configuration.
        vocab: The graph vocabulary.
        graphs: The training set on ``device`` (``atoms [M, N]``, ``bonds [M, N, N]``).
        device: Where the networks live.
        rng: The run's seeded generator (batches, noise, Gumbel draws, GP weights).
    """

    losses = ("loss_d", "loss_g")
    """The names of the losses :meth:`train_step` returns, in log order."""
    metrics: tuple[str, ...] = ()
    """The names of the metrics :meth:`evaluate` returns."""

    def __init__(
        self,
        config: Config,
        vocab: Vocabulary,
        graphs: MolGraph,
        device: torch.device,
        rng: torch.Generator,
    ) -> None:
        cfg = config.train
        self.config, self.vocab, self.graphs, self.device, self.rng = (
            config,
            vocab,
            graphs,
            device,
            rng,
        )
        self.pre_steps = 0  # no stage before [train] steps
        self.init_weights: dict[str, dict] | None = None  # what init_from loaded, for the loop
        self.transport = None  # no latent critic to move MolGAN's draws with
        with torch.random.fork_rng(devices=[]):  # seeded weights, global RNG left untouched
            torch.manual_seed(cfg.seed)
            self.generator = Generator.from_config(config.model, vocab).to(device)
            discriminator = Discriminator.from_config(config.model, vocab).to(device)
            self.game = GraphGame(
                config,
                vocab,
                graphs,
                device,
                rng,
                discriminator,
                rl_start=int(config.reward.warmup * cfg.steps),
            )
        if cfg.init_from:
            self._init_from(cfg.init_from)
        self.opt_g = torch.optim.Adam(
            self.generator.parameters(), lr=cfg.lr_generator, betas=cfg.betas
        )
        self.game.build_optimizer()
        self._logits = compiled(self.generator, cfg.compile)  # G's forward in the step

    @property
    def discriminator(self) -> Discriminator:
        """The relational-GCN critic."""
        return self.game.discriminator

    @property
    def scorer(self) -> RewardScorer | None:
        """What scores ``[reward] terms`` (the reward learner's; ``None`` without terms)."""
        return self.game.scorer

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        """One discriminator update, plus a generator update every ``n_critic`` steps."""
        cfg = self.config.train
        with autocast(self.config.train.amp, self.device):
            real = real_batch(self.graphs, cfg.batch_size, self.rng, self.vocab)
            z_fake, _, fake = self._generate()
            fake = DenseGraph(fake.atoms.detach(), fake.bonds.detach())
            loss_d = self.game.discriminator_loss(real, fake)
        self.game.update_discriminator(loss_d)
        losses = {"loss_d": loss_d}
        self.game.observe(fake, z_fake)
        if (step + 1) % cfg.n_critic == 0:
            with autocast(self.config.train.amp, self.device):
                z, logits, fake = self._generate()
                loss_g = self.game.adversarial_loss(fake)
                loss_g = self.game.generator_terms(loss_g, z, logits, fake, self.generator, step)
            optimizer_step(loss_g, self.opt_g, cfg.clip_grad)
            losses["loss_g"] = loss_g
        return losses

    def evaluate(self) -> dict[str, float]:
        """No family-specific metrics: the loop's sample metrics say it all."""
        return {}

    def state(self) -> tuple[dict[str, dict], dict[str, dict], dict[str, Any]]:
        """Weights, optimiser states and JSON extras to checkpoint (the loop adds G's weights)."""
        weights, optimizers, extra = self.game.state()
        optimizers["generator"] = self.opt_g.state_dict()
        return weights, optimizers, extra

    def load_state(
        self, weights: dict[str, dict], optimizers: dict[str, dict], extra: dict[str, Any]
    ) -> None:
        """Restore :meth:`state` (the generator's weights are loaded by the loop)."""
        self.opt_g.load_state_dict(optimizers["generator"])
        self.game.load_state(weights, optimizers, extra)

    def close(self) -> None:
        """Stop the reward workers."""
        self.game.close()

    def _generate(self) -> tuple[torch.Tensor, DenseGraph, DenseGraph]:
        """Noise ``[B, Z]``, the generator's logits, and their Gumbel-softmax sample."""
        cfg = self.config.train
        z = self.generator.sample_z(cfg.batch_size, self.rng)  # [B, Z]
        logits = self._logits(z)
        return z, logits, sample_dense_graph(logits, cfg.tau, cfg.hard, self.rng)

    def _init_from(self, path: str) -> None:
        checkpoint = load_checkpoint(path, map_location=self.device)
        # The sampling settings may differ; every layer size must match.
        theirs = _layers_only(checkpoint.config.model)
        ours = _layers_only(self.config.model)
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
        self.init_weights = checkpoint.weights
        self.generator.load_state_dict(checkpoint.weights["generator"])
        self.discriminator.load_state_dict(checkpoint.weights["discriminator"])


def _layers_only(model: ModelConfig) -> ModelConfig:
    """``model`` with its sampling settings reset, so that two configs compare by layers."""
    return dataclasses.replace(model, temperature=0.0, min_p=0.0, noise_scale=1.0)
