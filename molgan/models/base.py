"""The interfaces every model family's networks share.

A :class:`GraphGenerator` turns noise into the logits of dense graphs, so that sampling, the
graph critic, the structure penalty and REINFORCE work on any family's generator. A
:class:`GraphCritic` scores dense graphs (the relational-GCN discriminator; the latent family's
code critic scores codes instead and is internal to that family).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from molgan.graph import DenseGraph
from molgan.vocab import Vocabulary

__all__ = ["GraphGenerator", "GraphCritic", "standard_normal"]


@runtime_checkable
class GraphGenerator(Protocol):
    """Noise in, graph logits out: ``atoms [B, N, T]`` and symmetric ``bonds [B, N, N, Y]``."""

    vocab: Vocabulary
    """Gives ``N`` (``max_atoms``), ``T`` and ``Y``."""
    z_dim: int

    def sample_z(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        scale: float = 1.0,
    ) -> torch.Tensor:
        """Draw noise ``[B, z_dim]`` from the generator's prior (Gaussian parts times ``scale``)."""

    def __call__(self, z: torch.Tensor) -> DenseGraph:
        """Graph logits of noise ``z [B, z_dim]``."""


@runtime_checkable
class GraphCritic(Protocol):
    """A dense graph (one-hot, probabilities or samples) in, one score per graph ``[B, 1]`` out."""

    def __call__(self, graph: DenseGraph) -> torch.Tensor:
        """Score ``atoms [B, N, T]``, ``bonds [B, N, N, Y]``."""


def standard_normal(
    batch_size: int,
    z_dim: int,
    generator: torch.Generator | None,
    target: torch.device,
    scale: float = 1.0,
) -> torch.Tensor:
    """Standard-normal noise ``[B, z_dim]`` on ``target``, times ``scale`` (the truncation trick).

    It is drawn on ``generator``'s device, so seeded draws do not depend on where the model runs.
    """
    source = generator.device if generator is not None else target
    z = torch.randn(batch_size, z_dim, generator=generator, device=source)  # [B, Z]
    return (z * scale if scale != 1.0 else z).to(target)
