"""MolGAN's reinforcement term: a reward network fit to RDKit rewards, and the RL generator loss.

RDKit cannot sit in a differentiable loss, so MolGAN (De Cao & Kipf 2018, Sec. 3.3) learns a
differentiable stand-in: a :class:`~molgan.models.RewardNetwork` regressed (MSE) onto the RDKit
rewards of real and generated batches, whose prediction the generator then climbs.
:class:`RewardLearner` owns that network, its optimiser and a :class:`~molgan.rewards.RewardScorer`.
Scoring is pipelined: the batches of step ``t`` are decoded and scored by a background thread (the
RDKit work itself in worker processes) while the device runs step ``t + 1``, and the network is
fit on step ``t``'s rewards when step ``t + 1`` observes its own batches.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from molgan.config import Config
from molgan.graph import DenseGraph, MolGraph, graphs_to_smiles
from molgan.losses import balance_scale, reward_loss, rl_generator_loss
from molgan.models import RewardNetwork
from molgan.rewards import Objective, RewardScorer
from molgan.vocab import Vocabulary

__all__ = ["RewardLearner"]


class RewardLearner:
    """The reward network, its optimiser, and the RDKit scorer that gives it targets.

    The real examples cycle through a fixed, seeded pool of ``config.reward.real_pool``
    training molecules, in batches as large as the generated ones.

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
        self.objective = Objective(cfg.terms, cfg.combine, cfg.weights)
        train_smiles: set[str] = set()
        if "novelty" in cfg.terms:
            train_smiles = {s for s in graphs_to_smiles(graphs, vocab) if s is not None}
        self.scorer = RewardScorer(self.objective, train_smiles, cfg.n_jobs, cfg.window)
        pool = torch.randperm(
            len(graphs.atoms), generator=torch.Generator().manual_seed(config.train.seed)
        )
        pool = pool[: cfg.real_pool] if cfg.real_pool > 0 else pool
        self.real_pool = MolGraph(graphs.atoms[pool].to(device), graphs.bonds[pool].to(device))
        self._real_offset = 0
        self.network = RewardNetwork.from_config(config.model, vocab).to(device)
        self.optimizer = torch.optim.Adam(
            self.network.parameters(), lr=cfg.lr, betas=config.train.betas
        )
        self._executor: ThreadPoolExecutor | None = None
        self._pending: tuple[DenseGraph, int, Future] | None = None
        self._fake_rewards: list[float] = []

    def observe(self, fake: DenseGraph) -> None:
        """Queue generated graphs (and as many real ones) for scoring; fit on the previous batch.

        Args:
            fake: The generated graphs the discriminator saw, ``atoms [B, N, T]`` and
                ``bonds [B, N, N, Y]`` (their argmax is what gets scored).
        """
        if self._executor is None:
            self.scorer.start()  # fork the RDKit workers from this (the main) thread
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="molgan-reward")
        real = self._next_real(len(fake.atoms))
        graphs = DenseGraph(
            torch.cat([real.atoms, fake.atoms]).detach(),
            torch.cat([real.bonds, fake.bonds]).detach(),
        )
        ids = MolGraph(graphs.atoms.argmax(-1), graphs.bonds.argmax(-1))
        # The thread copies ids to the host, so the training loop does not wait for the device.
        future = self._executor.submit(self._score, ids, len(real.atoms))
        self.flush()
        self._pending = (graphs, len(real.atoms), future)

    def flush(self) -> None:
        """Fit the reward network on the queued batch, if any (waits for its rewards)."""
        if self._pending is not None:
            graphs, n_real, future = self._pending
            self._pending = None
            self._fit(graphs, n_real, future.result())

    def generator_loss(self, gan_loss: torch.Tensor, fake: DenseGraph) -> torch.Tensor:
        """``λ L_GAN + (1 - λ) α L_RL`` with ``L_RL = -E[R(fake)]`` and ``α = |L_GAN / L_RL|``."""
        rl_loss = rl_generator_loss(self.network(fake))
        weight = self.config.gan_weight
        return weight * gan_loss + (1.0 - weight) * balance_scale(gan_loss, rl_loss) * rl_loss

    def pop_mean_reward(self) -> float:
        """Mean reward of the generated samples fit since the last call (NaN if none)."""
        rewards, self._fake_rewards = self._fake_rewards, []
        return float(np.mean(rewards)) if rewards else math.nan

    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any], dict[str, Any]]:
        """Checkpoint parts: weights (network, queued batch), optimiser state, JSON-ready extras.

        The extras are the recent samples the uniqueness reward counts against and the rewards
        not yet logged.

        The queued batch is saved with its rewards (waited for, not fit), so a resumed run fits
        exactly what an uninterrupted one would.
        """
        weights = {"reward": self.network.state_dict()}
        if self._pending is not None:
            graphs, n_real, future = self._pending
            weights["reward_queue"] = {
                "atoms": graphs.atoms,
                "bonds": graphs.bonds,
                "rewards": torch.as_tensor(future.result(), dtype=torch.float64),
                "n_real": torch.tensor(n_real),
            }
        extra = {
            "recent_samples": list(self.scorer.recent),
            "unlogged": self._fake_rewards,
            "real_offset": self._real_offset,
        }
        return weights, self.optimizer.state_dict(), extra

    def load_state(
        self,
        weights: dict[str, dict[str, torch.Tensor]],
        optimizer: dict[str, Any],
        extra: dict[str, Any],
    ) -> None:
        """Restore what :meth:`state` returned."""
        self.network.load_state_dict(weights["reward"])
        self.optimizer.load_state_dict(optimizer)
        self.scorer.recent.clear()
        self.scorer.recent.extend(extra["recent_samples"])
        self._fake_rewards = list(extra["unlogged"])
        self._real_offset = extra["real_offset"]
        self._pending = None
        if "reward_queue" in weights:
            queue = weights["reward_queue"]
            future: Future = Future()
            future.set_result(queue["rewards"].numpy())
            graphs = DenseGraph(queue["atoms"].to(self.device), queue["bonds"].to(self.device))
            self._pending = (graphs, int(queue["n_real"]), future)

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

    def _score(self, ids: MolGraph, n_real: int) -> np.ndarray:
        smiles = graphs_to_smiles(MolGraph(ids.atoms.cpu(), ids.bonds.cpu()), self.vocab)
        real = self.scorer.score(smiles[:n_real], generated=False)
        fake = self.scorer.score(smiles[n_real:], generated=True)
        return np.concatenate([real, fake])

    def _fit(self, graphs: DenseGraph, n_real: int, rewards: np.ndarray) -> None:
        target = torch.as_tensor(rewards, dtype=torch.float32, device=self.device)
        loss = reward_loss(self.network(graphs), target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self._fake_rewards.extend(rewards[n_real:].tolist())
