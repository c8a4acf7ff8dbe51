"""The reinforcement term: RDKit rewards of generated graphs, turned into a generator loss.

RDKit cannot sit in a differentiable loss. MolGAN (De Cao & Kipf 2018, Sec. 3.3) therefore learns
a differentiable stand-in: a :class:`~molgan.models.RewardNetwork` regressed (MSE) onto the RDKit
rewards of real and generated batches, whose prediction the generator then climbs
(``[reward] estimator = "network"``). The alternative, ``"reinforce"``, needs no stand-in: the
generator samples every atom and bond from a categorical distribution, so the log-probability of
a sampled graph is exact, and the score-function gradient (Williams 1992) of its exact reward
raises the probability of the graphs that scored well. ``"code"`` (latent family) takes the code
as the action instead: codes drawn from a Gaussian around G's decode deterministically, exactly as
the model samples, and the same gradient raises the density of the draws that scored well.

:class:`RewardLearner` owns the scorer (:class:`~molgan.rewards.RewardScorer`) and, for
``"network"``, the network and its optimiser. Scoring is pipelined: the batches of step ``t`` are
decoded and scored by a background thread (the RDKit work itself in worker processes) while the
device runs step ``t + 1``; step ``t``'s rewards are used (network fit, or policy batch) when step
``t + 1`` observes its own batches.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from molgan.conditions import one_hot_values
from molgan.config import Config
from molgan.distributed import optimizer_step
from molgan.graph import DenseGraph, MolGraph, graphs_to_smiles
from molgan.losses import (
    balance_scale,
    code_log_prob,
    reinforce_loss,
    reward_loss,
    rl_generator_loss,
)
from molgan.models import RewardNetwork
from molgan.rewards import Objective, RewardScorer
from molgan.sampling import graph_log_prob
from molgan.vocab import Vocabulary

__all__ = ["RewardLearner"]


class RewardLearner:
    """The RDKit scorer, and what turns its rewards into a generator loss.

    With ``estimator = "network"``, the reward network and its optimiser: its real examples
    cycle through a fixed, seeded pool of ``config.reward.real_pool`` training molecules, in
    batches as large as the generated ones. With ``"reinforce"`` and ``"code"``, the last scored
    batch of generated graphs (latent codes, class ids, rewards, and for ``"code"`` the drawn
    codes); no real molecules are scored.

    Args:
        config: The run's configuration (``config.reward`` must name at least one term).
        vocab: The vocabulary of the graphs it scores.
        graphs: The training set (real examples, and the reference of ``"novelty"``).
        device: Where the reward network lives.
    """

    def __init__(
        self, config: Config, vocab: Vocabulary, graphs: MolGraph, device: torch.device
    ) -> None:
        cfg = config.reward
        self.config, self.vocab, self.device = cfg, vocab, device
        self.conditions = config.model.conditions  # what a conditioned generator is asked for
        self.objective = Objective(cfg.terms, cfg.combine, cfg.weights)
        train_smiles: set[str] = set()
        if "novelty" in cfg.terms or "structure_match" in cfg.terms:
            train_smiles = {s for s in graphs_to_smiles(graphs, vocab) if s is not None}
        self.scorer = RewardScorer(self.objective, train_smiles, cfg.n_jobs, cfg.window)
        self.reinforce = cfg.estimator in ("reinforce", "code")  # no reward network
        self.real_pool: MolGraph | None = None
        self._real_offset = 0
        self.network: RewardNetwork | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        if not self.reinforce:
            pool = torch.randperm(
                len(graphs.atoms), generator=torch.Generator().manual_seed(config.train.seed)
            )
            pool = pool[: cfg.real_pool] if cfg.real_pool > 0 else pool
            self.real_pool = MolGraph(graphs.atoms[pool].to(device), graphs.bonds[pool].to(device))
            self.network = RewardNetwork.from_config(config.model, vocab).to(device)
            self.optimizer = torch.optim.Adam(
                self.network.parameters(), lr=cfg.lr, betas=config.train.betas
            )
        self._executor: ThreadPoolExecutor | None = None
        # Queued for scoring: graphs (real first, then fake), their class ids, n_real, the fake
        # latent codes, the drawn codes ("code"), rewards.
        self._pending: (
            tuple[DenseGraph, MolGraph, int, torch.Tensor, torch.Tensor | None, Future] | None
        ) = None
        # "reinforce", "code": the last scored fake batch, (latent codes, class ids, rewards,
        # drawn codes or None).
        self._policy_batch: (
            tuple[torch.Tensor, MolGraph, torch.Tensor, torch.Tensor | None] | None
        ) = None
        self._fake_rewards: list[float] = []

    def observe(
        self,
        fake: DenseGraph,
        z: torch.Tensor,
        asked: torch.Tensor | None = None,
        action: torch.Tensor | None = None,
    ) -> None:
        """Queue a generated batch for scoring, and use the previous batch's rewards.

        For ``"network"``, as many real molecules are queued with it.

        Args:
            fake: The generated graphs the discriminator saw, ``atoms [B, N, T]`` and
                ``bonds [B, N, N, Y]`` (their argmax, the sampled class ids, is what gets scored).
            z: The latent codes ``[B, Z]`` that generated ``fake``.
            asked: A conditioned generator's one-hot conditions ``[B, C]`` (``"condition_match"``).
            action: ``"code"``: the codes ``[B, Z]`` drawn around G's codes of ``z``, which
                decoded to ``fake``.
        """
        if (action is None) == (self.config.estimator == "code"):
            raise ValueError('observe: the drawn codes are given exactly when estimator = "code"')
        if self._executor is None:
            self.scorer.start()  # fork the RDKit workers from this (the main) thread
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="molgan-reward")
        if self.reinforce:
            graphs, n_real = DenseGraph(fake.atoms.detach(), fake.bonds.detach()), 0
        else:
            real = self._next_real(len(fake.atoms))
            graphs = DenseGraph(
                torch.cat([real.atoms, fake.atoms]).detach(),
                torch.cat([real.bonds, fake.bonds]).detach(),
            )
            n_real = len(real.atoms)
        ids = MolGraph(graphs.atoms.argmax(-1), graphs.bonds.argmax(-1))
        # The thread copies ids to the host, so the training loop does not wait for the device.
        asked = asked.detach() if asked is not None else None
        future = self._executor.submit(self._score, ids, n_real, asked)
        self.flush()
        action = action.detach() if action is not None else None
        self._pending = (graphs, ids, n_real, z.detach(), action, future)

    def flush(self) -> None:
        """Use the queued batch's rewards, if any (waits for them).

        ``"network"`` fits the reward network on them; ``"reinforce"`` keeps the batch for the
        next generator loss.
        """
        if self._pending is None:
            return
        graphs, ids, n_real, z, action, future = self._pending
        self._pending = None
        rewards = future.result()
        if self.reinforce:
            fake_rewards = torch.as_tensor(rewards, dtype=torch.float32, device=self.device)
            self._policy_batch = (z, ids, fake_rewards, action)
        else:
            self._fit(graphs, n_real, rewards)
        self._fake_rewards.extend(rewards[n_real:].tolist())

    def generator_loss(
        self, gan_loss: torch.Tensor, fake: DenseGraph | None, generator: torch.nn.Module
    ) -> torch.Tensor:
        """``λ L_GAN + (1 - λ) α L_RL``.

        ``"network"``: ``L_RL = -E[R̂(fake)]`` and ``α = |L_GAN / L_RL|`` (MolGAN).
        ``"reinforce"``: ``L_RL`` is the REINFORCE loss of the last scored batch, its
        log-probabilities re-evaluated under ``generator`` (whose weights have moved at most
        one update since it was drawn), and ``α = reinforce_scale``; before any batch has been
        scored it is ``L_GAN`` alone. ``"code"``: the same, with the Gaussian log-densities of
        the drawn codes around ``generator.codes(z)``.
        """
        weight = self.config.gan_weight
        if self.reinforce:
            if self._policy_batch is None:
                return gan_loss
            z, ids, rewards, action = self._policy_batch
            if action is None:
                log_prob = graph_log_prob(generator(z), ids)
            else:
                log_prob = code_log_prob(action, generator.codes(z), self.config.code_noise)
            draws = self.config.code_draws  # above 1, each G code's draws share a baseline
            groups = len(rewards) // draws if draws > 1 else 1
            rl_loss = reinforce_loss(log_prob, rewards, groups)
            return weight * gan_loss + (1.0 - weight) * self.config.reinforce_scale * rl_loss
        rl_loss = rl_generator_loss(self.network(fake))
        return weight * gan_loss + (1.0 - weight) * balance_scale(gan_loss, rl_loss) * rl_loss

    def pop_mean_reward(self) -> float:
        """Mean reward of the generated samples fit since the last call (NaN if none)."""
        rewards, self._fake_rewards = self._fake_rewards, []
        return float(np.mean(rewards)) if rewards else math.nan

    def state(
        self,
    ) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any] | None, dict[str, Any]]:
        """Checkpoint parts: weights, the network's optimiser state, JSON-ready extras.

        The weights are the network's and the queued and policy batches; the optimiser state is
        None for ``"reinforce"``. The extras are the recent samples the uniqueness reward counts
        against and the rewards not yet logged.

        The queued batch is saved with its rewards (waited for, not used), and so is the policy
        batch, so a resumed run continues exactly as an uninterrupted one would.
        """
        weights = {"reward": self.network.state_dict()} if self.network is not None else {}
        if self._pending is not None:
            graphs, _, n_real, z, action, future = self._pending
            weights["reward_queue"] = {
                "atoms": graphs.atoms,
                "bonds": graphs.bonds,
                "z": z,
                "rewards": torch.as_tensor(future.result(), dtype=torch.float64),
                "n_real": torch.tensor(n_real),
                **({"action": action} if action is not None else {}),
            }
        if self._policy_batch is not None:
            z, ids, rewards, action = self._policy_batch
            weights["reward_policy"] = {
                "z": z,
                "atoms": ids.atoms,
                "bonds": ids.bonds,
                "rewards": rewards,
                **({"action": action} if action is not None else {}),
            }
        extra = {
            "recent_samples": list(self.scorer.recent),
            "unlogged": self._fake_rewards,
            "real_offset": self._real_offset,
        }
        optimizer = self.optimizer.state_dict() if self.optimizer is not None else None
        return weights, optimizer, extra

    def load_state(
        self,
        weights: dict[str, dict[str, torch.Tensor]],
        optimizer: dict[str, Any] | None,
        extra: dict[str, Any],
    ) -> None:
        """Restore what :meth:`state` returned."""
        if self.network is not None:
            self.network.load_state_dict(weights["reward"])
            self.optimizer.load_state_dict(optimizer)
        self.scorer.restore_recent(extra["recent_samples"])
        self._fake_rewards = list(extra["unlogged"])
        self._real_offset = extra["real_offset"]
        self._pending = None
        if "reward_queue" in weights:
            queue = weights["reward_queue"]
            future: Future = Future()
            future.set_result(queue["rewards"].numpy())
            graphs = DenseGraph(queue["atoms"].to(self.device), queue["bonds"].to(self.device))
            ids = MolGraph(graphs.atoms.argmax(-1), graphs.bonds.argmax(-1))
            z = queue["z"].to(self.device)
            action = queue["action"].to(self.device) if "action" in queue else None
            self._pending = (graphs, ids, int(queue["n_real"]), z, action, future)
        self._policy_batch = None
        if "reward_policy" in weights:
            policy = {k: v.to(self.device) for k, v in weights["reward_policy"].items()}
            ids = MolGraph(policy["atoms"], policy["bonds"])
            self._policy_batch = (policy["z"], ids, policy["rewards"], policy.get("action"))

    def close(self) -> None:
        """Stop the scoring thread and worker processes."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.scorer.close()

    # -- private -------------------------------------------------------------------------------

    def _next_real(self, n: int) -> DenseGraph:
        """The next ``n`` molecules of the real pool, wrapping around, one-hot."""
        size = len(self.real_pool.atoms)
        idx = (self._real_offset + torch.arange(n, device=self.device)) % size
        self._real_offset = (self._real_offset + n) % size
        return MolGraph(self.real_pool.atoms[idx], self.real_pool.bonds[idx]).one_hot(self.vocab)

    def _score(self, ids: MolGraph, n_real: int, asked: torch.Tensor | None = None) -> np.ndarray:
        smiles = graphs_to_smiles(MolGraph(ids.atoms.cpu(), ids.bonds.cpu()), self.vocab)
        if asked is not None:  # one-hot rows -> {condition: value}, here in the scoring thread
            asked = one_hot_values(asked.cpu().numpy(), self.conditions, self.vocab)
        real = self.scorer.score(smiles[:n_real], generated=False) if n_real else np.zeros(0)
        fake = self.scorer.score(smiles[n_real:], generated=True, asked=asked)
        return np.concatenate([real, fake])

    def _fit(self, graphs: DenseGraph, n_real: int, rewards: np.ndarray) -> None:
        target = torch.as_tensor(rewards, dtype=torch.float32, device=self.device)
        loss = reward_loss(self.network(graphs), target)
        optimizer_step(loss, self.optimizer)
