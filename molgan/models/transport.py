"""Discriminator optimal transport for the latent family: the critic moves G's noise.

A WGAN critic trained against G estimates the Kantorovich potential between the data and G's
distribution, so it knows where each of G's samples should go. Discriminator optimal transport
(DOT; Tanaka, NeurIPS 2019) moves a sample to

    ``argmin_z  ||z - z_0|| - D(G(z)) / K``

in G's input space (the paper's latent-space DOT), where ``K`` is the Lipschitz constant of
``D o G`` (:func:`lipschitz_estimate`): the noise moves while the critic's gain pays for the
distance, and stops where the slope falls under ``K``. :class:`CriticTransport` does this with the
latent family's G and latent critic, a number of Adam steps on every draw at once. Moving the
noise rather than the codes keeps the codes in G's range, which is where the decoder was tuned to
decode (``docs/results.md``: the codes themselves, moved alone, left G's range and decoded less
often validly). It runs at sampling time (and, when asked, for a latent GAN's graph terms); the
decoded graph is the decoder's plain argmax of ``G(z)``, so what it gives is a strict number,
not a correction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["CriticTransport", "configured_transport", "lipschitz_estimate"]


class CriticTransport:
    """Move noise ``[B, z_dim (+ conditions)]`` so that G's codes climb the latent critic.

    Args:
        critic: The latent critic; it reads codes, then any one-hot conditions.
        steps: Adam steps on the noise (0: the noise is returned as it is).
        lipschitz: ``K``, the Lipschitz constant of ``D o G``; smaller moves farther.
        lr: Adam's step size.

    Called with the generator whose noise it moves (a :class:`~molgan.models.LatentGenerator`:
    ``z_dim``, ``codes(noise)`` and ``conditions_of(noise)``) and the noise. Conditions, the
    one-hots after the first ``z_dim`` entries, stay as they are. Every draw moves on its own:
    the objective is a sum over draws and Adam acts entry by entry, so where a draw ends does
    not depend on the batch it is moved in.

    Examples:
        >>> class Identity(nn.Module):  # a G whose codes are its noise, without conditions
        ...     z_dim = 4
        ...     def codes(self, noise):
        ...         return noise[:, :4]
        ...     def conditions_of(self, noise):
        ...         return noise[:, 4:]
        >>> critic = nn.Linear(4, 1, bias=False)
        >>> noise = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
        >>> CriticTransport(critic, steps=0, lipschitz=0.1)(Identity(), noise) is noise
        True
        >>> moved = CriticTransport(critic, steps=20, lipschitz=0.1)(Identity(), noise)
        >>> bool((critic(moved) > critic(noise)).all())
        True
    """

    def __init__(
        self,
        critic: nn.Module,
        steps: int,
        lipschitz: float,
        lr: float = 0.05,
    ) -> None:
        if steps < 0 or lipschitz <= 0 or lr <= 0:
            raise ValueError(
                f"transport: need steps >= 0, lipschitz > 0 and lr > 0, got {steps}, "
                f"{lipschitz}, {lr}"
            )
        self.critic = critic
        self.steps, self.lipschitz, self.lr = steps, lipschitz, lr

    @property
    def settings(self) -> dict[str, float]:
        """``{"steps", "lipschitz", "lr"}``, as a sample record keeps them."""
        return {"steps": self.steps, "lipschitz": self.lipschitz, "lr": self.lr}

    def __call__(self, generator: nn.Module, noise: torch.Tensor) -> torch.Tensor:
        """``generator``'s noise, moved (no gradient), conditions unchanged."""
        if self.steps == 0:
            return noise
        start = noise[:, : generator.z_dim].detach()
        conditions = generator.conditions_of(noise).detach()  # [B, C], C = 0 without conditions
        moved = start.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([moved], lr=self.lr, betas=(0.0, 0.9))
        with torch.enable_grad():
            for _ in range(self.steps):
                score = self._score(generator, moved, conditions)  # [B]
                # sqrt(|d|^2 + eps): the distance, differentiable where a draw has not moved
                distance = ((moved - start).square().sum(-1) + 1e-12).sqrt()  # [B]
                loss = (distance - score / self.lipschitz).sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward(inputs=[moved])  # G's and the critic's weights get no gradient
                optimizer.step()
        return torch.cat([moved.detach(), conditions], dim=1)

    def _score(
        self, generator: nn.Module, noise: torch.Tensor, conditions: torch.Tensor
    ) -> torch.Tensor:
        """``D(G(noise, conditions))``, ``[B]``; the critic reads the codes, then the conditions."""
        codes = generator.codes(torch.cat([noise, conditions], dim=1))
        return self.critic(torch.cat([codes, conditions], dim=1))[:, 0]


def configured_transport(model: Any, critic: nn.Module) -> CriticTransport | None:
    """The transport a ``[model]`` config asks for, moving with ``critic``; ``None`` at 0 steps."""
    if not model.transport_steps:
        return None
    return CriticTransport(
        critic, model.transport_steps, model.transport_lipschitz, model.transport_lr
    )


def lipschitz_estimate(
    score: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor
) -> float:
    """DOT's ``K_eff``: the largest ``|f(a) - f(b)| / ||a - b||`` over pairs of ``points``.

    ``score`` maps ``[2M, ...]`` to ``[2M]`` or ``[2M, 1]`` (``D o G`` on noise); the points are
    paired first half against second half. Tanaka (2019) takes ``K_eff`` as such a maximum over
    pairs of samples.

    Examples:
        >>> score = lambda x: x @ torch.tensor([3.0, 4.0])
        >>> points = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
        >>> lipschitz_estimate(score, points)  # pairs (0, 2): 25 / 5; (1, 3): 4 / 1
        5.0
    """
    half = len(points) // 2
    if half == 0:
        raise ValueError("lipschitz_estimate: need at least two points")
    with torch.no_grad():
        scores = score(points).reshape(len(points))
        rise = (scores[:half] - scores[half : 2 * half]).abs()
        run = (points[:half] - points[half : 2 * half]).flatten(1).norm(dim=-1).clamp_min(1e-12)
    return float((rise / run).max())
