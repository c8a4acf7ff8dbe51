"""Feedback: rewards that choose the latent critic's real codes (FBGAN, Gupta & Zou 2019).

FBGAN steers a GAN towards a property without any gradient estimator: every few steps the
generator's samples are scored, and the best of them take the place of real examples that the
discriminator sees, so that the GAN learns to sample what scored well. In a latent model the
examples are codes, and a code decodes deterministically, so the code of a well-scored sample is
exactly a code from which the decoder makes that molecule. :class:`FeedbackMemory` keeps the
codes of the best-scoring distinct molecules drawn so far (one code per canonical SMILES), and
:meth:`FeedbackMemory.real_codes` puts them in place of as many of the training codes
(``[reward] estimator = "feedback"``).
"""

from __future__ import annotations

from typing import Any

import torch

from molgan.rewards import Objective, RewardScorer

__all__ = ["FeedbackMemory"]


class FeedbackMemory:
    """The codes of the ``size`` best distinct molecules drawn so far, with their rewards.

    Args:
        objective: What a molecule is scored by (invalid samples score 0 and are never kept).
        size: How many molecules' codes are kept.
        n_jobs: RDKit worker processes.

    Examples:
        >>> memory = FeedbackMemory(Objective(("validity",)), size=2, n_jobs=1)
        >>> memory.add(torch.eye(3), ["CCO", None, "CCO"])
        >>> memory.smiles, memory.codes.tolist()  # one code per molecule, the first drawn
        (['CCO'], [[1.0, 0.0, 0.0]])
    """

    def __init__(self, objective: Objective, size: int, n_jobs: int) -> None:
        self.size = size
        self.scorer = RewardScorer(objective, n_jobs=n_jobs)
        self.codes: torch.Tensor | None = None  # [K, Z], best first
        self.rewards = torch.zeros(0)  # [K]
        self.smiles: list[str] = []

    def __len__(self) -> int:
        return len(self.smiles)

    def add(self, codes: torch.Tensor, smiles: list[str | None]) -> None:
        """Score the molecules that ``codes [B, Z]`` decode to, and keep the best ``size``.

        A molecule already kept keeps its code; ties keep the earlier one.
        """
        rewards = torch.as_tensor(self.scorer.score(smiles, generated=False), dtype=torch.float32)
        seen = set(self.smiles)
        new = []
        for i, s in enumerate(smiles):
            if s is not None and s not in seen and rewards[i] > 0:
                seen.add(s)
                new.append(i)
        if not new:
            return
        rows = torch.tensor(new)
        fresh = codes[rows].detach().float().cpu()
        codes = fresh if self.codes is None else torch.cat([self.codes, fresh])
        scores = torch.cat([self.rewards, rewards[rows]])
        names = self.smiles + [smiles[i] for i in new]
        best = torch.sort(scores, descending=True, stable=True).indices[: self.size]
        self.codes, self.rewards = codes[best], scores[best]
        self.smiles = [names[i] for i in best.tolist()]

    def real_codes(self, data_codes: torch.Tensor) -> torch.Tensor:
        """The critic's real codes ``[M, Z]``: the kept codes in place of as many training codes.

        Once ``M`` codes are kept, the training codes ``data_codes [M, Z]`` are gone altogether
        (as in FBGAN), and the best ``M`` kept codes stand in their place.
        """
        if self.codes is None:
            return data_codes
        kept = self.codes[: len(data_codes)].to(data_codes.device, data_codes.dtype)
        return torch.cat([kept, data_codes[len(kept) :]])

    def state(self) -> tuple[dict[str, torch.Tensor], list[str]]:
        """Checkpoint parts: the codes and rewards, and the molecules' SMILES."""
        codes = self.codes if self.codes is not None else torch.zeros(0)
        return {"codes": codes, "rewards": self.rewards}, list(self.smiles)

    def load_state(self, weights: dict[str, Any], smiles: list[str]) -> None:
        """Restore :meth:`state`."""
        self.smiles = list(smiles)
        self.rewards = weights["rewards"].float().cpu()
        self.codes = weights["codes"].float().cpu() if smiles else None

    def close(self) -> None:
        """Stop the RDKit workers."""
        self.scorer.close()
