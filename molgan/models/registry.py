"""The generator of each model family, keyed by ``[model] kind``.

Every family's generator has one interface: ``sample_z(n, rng)`` draws noise and
``forward(noise)`` returns a :class:`~molgan.graph.DenseGraph` of logits. Loading a checkpoint,
sampling and the training loop therefore only ask this registry which class to build.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from molgan.models.autoencoder import LatentGenerator
from molgan.models.base import GraphGenerator
from molgan.models.generator import Generator
from molgan.vocab import Vocabulary

__all__ = ["GENERATORS", "build_generator"]

GENERATORS: dict[str, Callable[[Any, Vocabulary], GraphGenerator]] = {
    "molgan": Generator.from_config,
    "latent": LatentGenerator.from_config,
}
"""``[model] kind`` -> builder of the family's generator from ``(model config, vocab)``."""


def build_generator(cfg: Any, vocab: Vocabulary) -> GraphGenerator:
    """The generator of family ``cfg.kind`` (default ``"molgan"``), with fresh weights.

    Raises:
        KeyError: If the family is unknown; the message lists the valid ones.
    """
    kind = getattr(cfg, "kind", "molgan")
    try:
        return GENERATORS[kind](cfg, vocab)
    except KeyError:
        raise KeyError(f"unknown model kind {kind!r}; valid: {sorted(GENERATORS)}") from None
