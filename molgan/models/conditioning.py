"""The data's mix of condition classes (:mod:`molgan.conditions`), kept by a conditioned G."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from molgan.conditions import CONDITIONS, ConditionError

__all__ = ["ConditionPrior"]


class ConditionPrior(nn.Module):
    """The training data's joint distribution of condition classes, and draws of one-hots.

    The weights of every combination of classes (``prod(sizes)`` of them, in mixed radix) are a
    buffer, so they are saved with the generator and a loaded model samples the same mix.

    Args:
        names: The conditions, in the order of the one-hot blocks.
        sizes: Their numbers of classes.

    Examples:
        >>> prior = ConditionPrior(["aromatic_ring"], (2,))
        >>> prior.fit(torch.tensor([[1], [1], [1], [0]]))
        >>> prior.weights.tolist()
        [0.25, 0.75]
        >>> prior.draw(2, torch.Generator().manual_seed(0), fixed={"aromatic_ring": 0}).tolist()
        [[1.0, 0.0], [1.0, 0.0]]
    """

    def __init__(self, names: Sequence[str], sizes: Sequence[int]) -> None:
        super().__init__()
        self.names, self.sizes = tuple(names), tuple(sizes)
        self.dim = sum(self.sizes)
        combos = math.prod(self.sizes)
        self.register_buffer("weights", torch.full((combos,), 1.0 / combos))  # [K]
        strides = torch.tensor([math.prod(self.sizes[i + 1 :]) for i in range(len(self.sizes))])
        self.register_buffer("_strides", strides, persistent=False)  # [C], of the mixed radix
        index = torch.arange(combos)[:, None]  # [K, 1]
        classes = (index // strides) % torch.tensor(self.sizes)  # [K, C]
        self.register_buffer("_classes", classes, persistent=False)

    def fit(self, labels: torch.Tensor) -> None:
        """Set the weights to the frequencies of the class rows ``labels [M, C]``."""
        combo = (labels * self._strides.to(labels.device)).sum(1)  # [M]
        counts = torch.bincount(combo, minlength=len(self.weights)).to(self.weights)
        self.weights.copy_(counts / counts.sum())

    def one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        """Class indices ``[B, C]`` as concatenated one-hot blocks ``[B, sum(sizes)]``."""
        blocks = [
            nn.functional.one_hot(labels[:, i], size).float() for i, size in enumerate(self.sizes)
        ]
        return torch.cat(blocks, dim=1)

    def restricted(self, fixed: Mapping[str, int] | None = None) -> torch.Tensor:
        """The weights ``[K]`` of the combinations with the ``fixed`` classes (others 0).

        Raises:
            ConditionError: If no training molecule has the fixed classes.
        """
        weights = self.weights.clone()
        for name, index in (fixed or {}).items():
            weights = weights * (self._classes[:, self.names.index(name)] == index)
        if not weights.sum() > 0:
            wanted = ", ".join(f"{k}={v + CONDITIONS[k].offset}" for k, v in fixed.items())
            raise ConditionError(f"no training molecule has {wanted}")
        return weights

    def draw(
        self,
        n: int,
        generator: torch.Generator | None = None,
        fixed: Mapping[str, int] | None = None,
    ) -> torch.Tensor:
        """``n`` one-hot rows ``[n, sum(sizes)]`` drawn from the weights, on ``generator``'s device.

        ``fixed`` (``{name: class index}``) keeps only the combinations with those classes, so the
        other conditions follow the data given them.

        Raises:
            ConditionError: If no training molecule has the fixed classes.
        """
        weights = self.restricted(fixed)
        device = generator.device if generator is not None else weights.device
        combo = torch.multinomial(weights.to(device), n, replacement=True, generator=generator)
        return self.one_hot(self._classes.to(device)[combo])
