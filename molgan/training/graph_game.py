"""The graph-space game of every family: the relational-GCN critic and the graph terms of G.

:class:`GraphGame` owns what scores *graphs*: the discriminator (De Cao & Kipf 2018, Sec. 3.2)
with its optimiser and adversarial loss, and the terms a generator's loss gets from its decoded
graphs: MolGAN's RL term (:class:`~molgan.reinforce.RewardLearner`), MSGAN's mode-seeking term and
molgan's structure penalty. The MolGAN family's generator is scored by it directly; the latent
family's ``decoder(G(noise))`` is scored by it in graph-space fine-tuning. Nothing here does I/O.
"""

from __future__ import annotations

from typing import Any

import torch

from molgan.config import Config
from molgan.distributed import optimizer_step
from molgan.graph import DenseGraph, MolGraph
from molgan.losses import (
    entropy_regularizer,
    get_gan_loss,
    gradient_penalty,
    mode_seeking_loss,
    structure_penalty,
)
from molgan.models import GraphCritic
from molgan.reinforce import RewardLearner
from molgan.rewards import RewardScorer
from molgan.sampling import softmax_graph
from molgan.training.acceleration import compiled
from molgan.vocab import Vocabulary

__all__ = ["GraphGame", "real_batch", "max_valence", "max_net_charge"]


def real_batch(graphs: MolGraph, batch_size: int, rng: torch.Generator, vocab: Vocabulary):
    """A batch of ``batch_size`` training graphs drawn with replacement, one-hot.

    Args:
        graphs: The training set on the device, ``atoms [M, N]`` and ``bonds [M, N, N]``.
        batch_size: ``B``.
        rng: Seeded source of the indices, on the device of ``graphs``.
        vocab: The vocabulary of ``graphs``.

    Returns:
        A :class:`DenseGraph`, ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]``.
    """
    idx = torch.randint(len(graphs.atoms), (batch_size,), generator=rng, device=rng.device)
    return MolGraph(graphs.atoms[idx], graphs.bonds[idx]).one_hot(vocab)


def max_valence(graphs: MolGraph, vocab: Vocabulary) -> torch.Tensor:
    """The largest valence (sum of bond orders) of each atom class in a dataset, ``[T]``.

    Data-derived caps for ``losses.structure_penalty``: for QM9 they are C 4, C- 3, N 3, N- 2,
    N+ 4, O 2, O- 1, F 1; padding gets 0.
    """
    device = graphs.bonds.device
    orders = torch.tensor(vocab.bond_orders, device=device)[graphs.bonds.long()]  # [M, N, N]
    valence = orders.sum(-1).flatten()  # [M * N]
    classes = graphs.atoms.long().flatten()  # [M * N]
    caps = torch.zeros(vocab.n_atom_classes, device=device)
    caps = caps.scatter_reduce(0, classes, valence, reduce="amax")
    caps[0] = 0.0
    return caps


def max_net_charge(graphs: MolGraph, vocab: Vocabulary) -> float:
    """The largest ``|net formal charge|`` of a molecule in a dataset (0 for QM9)."""
    charges = torch.tensor(vocab.atom_charges, device=graphs.atoms.device)[graphs.atoms.long()]
    return float(charges.sum(-1).abs().max()) if len(charges) else 0.0


class GraphGame:
    """The graph critic and the graph-space terms of a generator's loss.

    Args:
        config: The run's configuration (``[train]`` losses and weights, ``[reward]``).
        vocab: The graph vocabulary.
        graphs: The training set (data-derived valence caps; the reward learner's real pool).
        device: Where the networks live.
        rng: The run's seeded generator (gradient-penalty weights).
        discriminator: The relational-GCN critic, or ``None`` for a game without one.
        rl_start: The first step whose generator loss includes the RL term.
    """

    def __init__(
        self,
        config: Config,
        vocab: Vocabulary,
        graphs: MolGraph,
        device: torch.device,
        rng: torch.Generator,
        discriminator: GraphCritic | None,
        rl_start: int,
    ) -> None:
        cfg = config.train
        self.config, self.rng, self.rl_start = config, rng, rl_start
        self.gan_loss = get_gan_loss(cfg.loss)
        self.discriminator = discriminator
        # Its first-order scores (compiled with [train] compile); the gradient penalty's double
        # backward calls the eager network.
        self._score = compiled(discriminator, cfg.compile) if discriminator is not None else None
        if "condition_match" in config.reward.terms and (
            not config.model.conditions or config.reward.estimator != "reinforce"
        ):
            raise ValueError(
                '[reward] terms: "condition_match" needs [model] conditions and estimator = '
                '"reinforce" (a reward network would score real molecules, which were asked '
                "for nothing)"
            )
        # "feedback" needs no learner: its rewards choose real codes (the latent family's part).
        learns = config.reward.terms and config.reward.estimator != "feedback"
        self.rewards = RewardLearner(config, vocab, graphs, device) if learns else None
        self.bond_orders = torch.tensor(vocab.bond_orders, device=device)  # [Y]
        self.max_valence = max_valence(graphs, vocab).to(device)  # [T]
        self.atom_charges = torch.tensor(vocab.atom_charges, dtype=torch.float32, device=device)
        self.max_net_charge = max_net_charge(graphs, vocab)
        self.optimizer: torch.optim.Optimizer | None = None

    def build_optimizer(self) -> None:
        """Create the critic's Adam (after any ``init_from`` has loaded its weights)."""
        if self.discriminator is not None:
            cfg = self.config.train
            self.optimizer = torch.optim.Adam(
                self.discriminator.parameters(), lr=cfg.lr_discriminator, betas=cfg.betas
            )

    def discriminator_loss(self, real: DenseGraph, fake: DenseGraph) -> torch.Tensor:
        """The critic's loss on one-hot ``real`` and detached ``fake`` graphs (GP, entropy)."""
        cfg = self.config.train
        real_scores = self._score(real)  # [B, 1]
        fake_scores = self._score(fake)  # [B, 1]
        loss_d = self.gan_loss.discriminator(real_scores, fake_scores)
        if self.gan_loss.uses_gradient_penalty:
            loss_d = loss_d + cfg.gp_weight * gradient_penalty(
                self.discriminator, real, fake, self.rng
            )
        if cfg.entropy_weight:
            scores = torch.cat([real_scores, fake_scores])
            loss_d = loss_d - cfg.entropy_weight * entropy_regularizer(scores)
        return loss_d

    def update_discriminator(self, loss_d: torch.Tensor) -> None:
        """One Adam step of the critic on ``loss_d``."""
        optimizer_step(loss_d, self.optimizer)

    def observe(
        self,
        fake: DenseGraph,
        z: torch.Tensor,
        asked: torch.Tensor | None = None,
        action: torch.Tensor | None = None,
    ) -> None:
        """Queue a generated batch for RDKit scoring (no-op without ``[reward] terms``).

        ``asked``: a conditioned generator's one-hot conditions ``[B, C]`` per sample.
        ``action``: with ``[reward] estimator = "code"``, the drawn codes that decoded to ``fake``.
        """
        if self.rewards is not None:
            self.rewards.observe(fake, z, asked, action)

    @property
    def scorer(self) -> RewardScorer | None:
        """The reward learner's RDKit scorer (``None`` without one)."""
        return self.rewards.scorer if self.rewards is not None else None

    @property
    def reads_codes(self) -> bool:
        """Whether the RL term's policy is over latent codes (``[reward] estimator = "code"``).

        Its loss then reads no decoded graph: the family adds it with :meth:`reward_term`.
        """
        return self.rewards is not None and self.config.reward.estimator == "code"

    def reward_term(
        self, loss_g: torch.Tensor, fake: DenseGraph | None, generator: torch.nn.Module, step: int
    ) -> torch.Tensor:
        """``loss_g`` with the RL term mixed in from ``rl_start`` on.

        Before ``rl_start``, or without ``[reward] terms``, ``loss_g`` as it is.
        """
        if self.rewards is not None and step >= self.rl_start:
            return self.rewards.generator_loss(loss_g, fake, generator)
        return loss_g

    def adversarial_loss(self, fake: DenseGraph) -> torch.Tensor:
        """The generator's adversarial loss against the graph critic."""
        return self.gan_loss.generator(self._score(fake))

    def generator_terms(
        self,
        loss_g: torch.Tensor,
        z: torch.Tensor,
        logits: DenseGraph,
        fake: DenseGraph,
        generator: torch.nn.Module,
        step: int,
    ) -> torch.Tensor:
        """Add the RL term (from ``rl_start`` on), mode seeking and the structure penalty.

        The RL term only if its policy is over graphs: one over codes reads no decoded graph.

        Args:
            loss_g: The family's adversarial loss of the generator.
            z: The noise ``[B, Z]`` that made ``logits``.
            logits: The generator's graph logits.
            fake: Their Gumbel-softmax sample.
            generator: The generator (REINFORCE re-evaluates its log-probabilities).
            step: The loop's step.
        """
        cfg = self.config.train
        if not self.reads_codes:
            loss_g = self.reward_term(loss_g, fake, generator, step)
        if cfg.diversity_weight:
            loss_g = loss_g + cfg.diversity_weight * mode_seeking_loss(softmax_graph(logits), z)
        if cfg.structure_weight:
            penalty = structure_penalty(
                fake, self.max_valence, self.bond_orders, self.atom_charges, self.max_net_charge
            )
            loss_g = loss_g + cfg.structure_weight * penalty.mean()
        return loss_g

    def state(self) -> tuple[dict[str, dict], dict[str, dict], dict[str, Any]]:
        """The critic's and the reward learner's weights, optimiser states and extras."""
        weights: dict[str, dict] = {}
        optimizers: dict[str, dict] = {}
        extra: dict[str, Any] = {}
        if self.discriminator is not None:
            weights["discriminator"] = self.discriminator.state_dict()
            optimizers["discriminator"] = self.optimizer.state_dict()
        if self.rewards is not None:
            reward_weights, reward_optimizer, extra["rewards"] = self.rewards.state()
            weights.update(reward_weights)
            if reward_optimizer is not None:
                optimizers["reward"] = reward_optimizer
        return weights, optimizers, extra

    def load_state(
        self, weights: dict[str, dict], optimizers: dict[str, dict], extra: dict[str, Any]
    ) -> None:
        """Restore :meth:`state`."""
        if self.discriminator is not None:
            self.discriminator.load_state_dict(weights["discriminator"])
            self.optimizer.load_state_dict(optimizers["discriminator"])
        if self.rewards is not None:
            self.rewards.load_state(weights, optimizers.get("reward"), extra["rewards"])

    @property
    def uses_graphs(self) -> bool:
        """Whether the generator's loss reads decoded graphs at all."""
        cfg = self.config.train
        return bool(
            (self.rewards is not None and not self.reads_codes)
            or cfg.diversity_weight
            or cfg.structure_weight
            or (self.discriminator is not None and cfg.graph_weight)
        )

    def close(self) -> None:
        """Stop the reward workers."""
        if self.rewards is not None:
            self.rewards.close()
