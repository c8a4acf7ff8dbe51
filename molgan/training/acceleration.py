"""How a training step runs fast on its device: bfloat16 autocast, ``torch.compile``, CUDA graphs.

Both are ``[train]`` settings that change speed, not the model: ``amp`` runs the step's forward
passes in bfloat16 on a GPU, and ``compile`` hands the forward passes of the step's networks to
TorchInductor (through wrappers that share the networks' weights, so checkpoints and the weight
average are untouched, and the gradient penalty's double backward still runs eagerly).
``compile = "reduce-overhead"`` also replays the compiled kernels as CUDA graphs on a GPU, which
removes the launch overhead that bounds a small model's step (``docs/benchmarks.md``); on a CPU it
is the same as ``"default"``. The first steps of a compiled run pay the compilation.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

__all__ = ["autocast", "compiled", "mark_step"]


def autocast(amp: bool, device: torch.device) -> AbstractContextManager:
    """bfloat16 autocast when ``amp`` is on and the device is a GPU, else nothing."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def compiled(function: Callable[..., Any], mode: str) -> Callable[..., Any]:
    """``function`` (a network or a method) compiled by ``torch.compile``, or itself when off.

    The network itself stays eager: what differentiates twice (WGAN-GP's gradient penalty)
    calls it, since compiled graphs support only first-order gradients. Weights are shared.
    ``mode`` is one of :data:`~molgan.config.COMPILE_MODES` (``TrainConfig`` checks it).

    Examples:
        >>> net = torch.nn.Linear(2, 1)
        >>> compiled(net, "") is net
        True
    """
    return torch.compile(function, mode=mode) if mode else function


def mark_step(mode: str, device: torch.device) -> None:
    """Tell CUDA graphs that a new training step begins (before each step; no-op elsewhere).

    Outputs of the previous step's graph replays may be overwritten from here on, which is what
    lets ``"reduce-overhead"`` reuse its static buffers step after step.
    """
    if mode == "reduce-overhead" and device.type == "cuda":
        torch.compiler.cudagraph_mark_step_begin()
