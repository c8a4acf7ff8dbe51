"""Discriminator optimal transport in the latent family's code space: the critic moves G's codes.

A WGAN critic trained to its optimum is the Kantorovich potential between the data and G's
distribution, so it knows where each of G's samples should go. Discriminator optimal transport
(DOT; Tanaka, NeurIPS 2019) moves a sample ``y`` to

    ``argmin_x  ||x - y|| - D(x) / K``

where ``K`` is the critic's Lipschitz constant (:func:`lipschitz_estimate`): the sample climbs
the critic while the climb pays more than the distance it costs, and stops where the slope falls
under ``K``. :class:`CriticTransport` does this for the latent family's codes with the latent
critic, a few Adam steps on every code at once, each code put back into the code space (the
shell of layer-normalised codes) after every step. It runs at sampling time only; G, the
decoder and the critic are unchanged, and the decoded graph is the decoder's plain argmax, so
what it gives is a strict number, not a correction.
"""

from __future__ import annotations

import torch
from torch import nn

from molgan.models.autoencoder import place_codes

__all__ = ["CriticTransport", "lipschitz_estimate"]


class CriticTransport:
    """Move codes ``[B, Z]`` towards the data along the latent critic (DOT in code space).

    Args:
        critic: The latent critic (:class:`molgan.models.LatentCritic`); it reads codes, then
            any one-hot conditions.
        steps: Adam steps on the codes (0: the codes are returned as they are).
        lipschitz: ``K``, the critic's Lipschitz constant; smaller moves codes farther.
        lr: Adam's step size.
        variational: The codes are a variational encoder's (not layer-normalised).

    Every code moves on its own: the objective is a sum over codes and Adam acts entry by
    entry, so a code's end point does not depend on the batch it is moved in.

    Examples:
        >>> from molgan.models.autoencoder import normalize_codes
        >>> critic = nn.Linear(4, 1, bias=False)
        >>> codes = normalize_codes(torch.randn(3, 4, generator=torch.Generator().manual_seed(0)))
        >>> CriticTransport(critic, steps=0, lipschitz=0.1)(codes) is codes
        True
        >>> moved = CriticTransport(critic, steps=20, lipschitz=0.1)(codes)
        >>> bool((critic(moved) > critic(codes)).all())  # up the critic ...
        True
        >>> torch.allclose(normalize_codes(moved), moved, atol=1e-5)  # ... and on the shell
        True
    """

    def __init__(
        self,
        critic: nn.Module,
        steps: int,
        lipschitz: float,
        lr: float = 0.05,
        variational: bool = False,
    ) -> None:
        if steps < 0 or lipschitz <= 0 or lr <= 0:
            raise ValueError(
                f"transport: need steps >= 0, lipschitz > 0 and lr > 0, got {steps}, "
                f"{lipschitz}, {lr}"
            )
        self.critic, self.steps, self.lipschitz = critic, steps, lipschitz
        self.lr, self.variational = lr, variational

    def __call__(self, codes: torch.Tensor, conditions: torch.Tensor | None = None) -> torch.Tensor:
        """The moved codes ``[B, Z]`` (no gradient); ``conditions [B, C]`` go to the critic."""
        if self.steps == 0:
            return codes
        start = codes.detach()
        moved = start.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([moved], lr=self.lr, betas=(0.0, 0.9))
        was_training = self.critic.training
        self.critic.eval()
        try:
            with torch.enable_grad():
                for _ in range(self.steps):
                    score = self.critic(_with(moved, conditions)).squeeze(-1)  # [B]
                    # sqrt(|d|^2 + eps): the distance, differentiable where a code has not moved
                    distance = ((moved - start).square().sum(-1) + 1e-12).sqrt()  # [B]
                    loss = (distance - score / self.lipschitz).sum()
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward(inputs=[moved])
                    optimizer.step()
                    with torch.no_grad():
                        moved.copy_(place_codes(moved, self.variational))
        finally:
            self.critic.train(was_training)
        return moved.detach()


def lipschitz_estimate(
    critic: nn.Module, codes: torch.Tensor, conditions: torch.Tensor | None = None
) -> float:
    """DOT's ``K_eff``: the largest ``|D(a) - D(b)| / ||a - b||`` over pairs of ``codes``.

    The codes are paired first half against second half (``[2M, Z]`` gives ``M`` pairs);
    Tanaka (2019) takes pairs of generated and real samples.

    Examples:
        >>> critic = nn.Linear(2, 1, bias=False)
        >>> _ = critic.weight.data.copy_(torch.tensor([[3.0, 4.0]]))
        >>> round(lipschitz_estimate(critic, torch.tensor([[0.0, 0.0], [3.0, 4.0]])), 3)
        5.0
    """
    half = len(codes) // 2
    if half == 0:
        raise ValueError("lipschitz_estimate: need at least two codes")
    with torch.no_grad():
        scores = critic(_with(codes, conditions)).squeeze(-1)  # [2M]
        rise = (scores[:half] - scores[half : 2 * half]).abs()
        run = (codes[:half] - codes[half : 2 * half]).norm(dim=-1).clamp_min(1e-12)
    return float((rise / run).max())


def _with(codes: torch.Tensor, conditions: torch.Tensor | None) -> torch.Tensor:
    """What the latent critic reads: codes, then any one-hot conditions."""
    return (
        codes
        if conditions is None or conditions.shape[1] == 0
        else torch.cat([codes, conditions.to(codes)], dim=1)
    )
