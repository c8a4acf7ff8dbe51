"""Data-parallel training with ``torch.distributed``, launched by ``torchrun``.

``torchrun --nproc_per_node K -m molgan train ...`` starts K processes; each is one *rank* of a
:class:`World`. Every rank holds the same networks, trains on its own shard of the data with its
own random draws, and averages its gradients with the others' before each optimiser step
(:func:`optimizer_step`), so the replicas stay identical and one step on K ranks with batch B
each equals one step on one process with batch K * B (the losses are batch means). Only rank 0
writes logs, evaluations and checkpoints.

Gradients are averaged explicitly after ``backward()`` rather than by wrapping the networks in
``DistributedDataParallel``: the WGAN-GP penalty differentiates the critic twice
(``autograd.grad(create_graph=True)``), which DDP's reducer does not support, and the families
step several networks with several optimisers, each of which simply calls :func:`optimizer_step`.
Without a process group everything here is a no-op, so single-process runs are unchanged.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["World", "init_world", "optimizer_step", "reduce_gradients"]


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of a run (``size == 1``: a plain single process)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether there are other ranks to synchronise with."""
        return self.size > 1

    def shard(self, n: int) -> slice:
        """This rank's share of ``n`` training items: every ``size``-th one from ``rank``.

        Examples:
            >>> list(range(10))[World(rank=1, size=3).shard(10)]
            [1, 4, 7]
        """
        return slice(self.rank, n, self.size)

    def rank_seed(self, seed: int) -> int:
        """The seed of this rank's random draws.

        ``seed`` itself on rank 0 (so a single process is unchanged); on the others a seed
        derived from ``(seed, rank)`` by NumPy's ``SeedSequence``, so that no two ranks, and no
        rank of another seed, draw the same stream.

        Examples:
            >>> World().rank_seed(7), World(rank=1, size=2).rank_seed(7) != 8
            (7, True)
        """
        if self.rank == 0:
            return seed
        return int(np.random.SeedSequence([seed, self.rank]).generate_state(1)[0])

    def share(self, n: int) -> int:
        """This rank's part of ``n`` items split as evenly as possible.

        The first ``n % size`` ranks get one more.

        Examples:
            >>> [World(rank=r, size=3).share(10) for r in range(3)]
            [4, 3, 3]
        """
        return n // self.size + (self.rank < n % self.size)

    def barrier(self) -> None:
        """Wait until every rank gets here."""
        if self.distributed:
            dist.barrier()

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order (on every rank)."""
        if not self.distributed:
            return [obj]
        gathered: list[Any] = [None] * self.size
        dist.all_gather_object(gathered, obj)
        return gathered

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj``, on every rank."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The mean of ``tensor`` over the ranks (a new tensor; the input is left alone)."""
        if not self.distributed:
            return tensor
        total = tensor.detach().clone()
        dist.all_reduce(total)
        return total / self.size


def init_world(device: str | None = None) -> tuple[World, str | None]:
    """Join the process group that ``torchrun`` set up, if any.

    Reads ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` from the environment. With more than one
    rank it initialises ``torch.distributed`` (NCCL when the run uses CUDA GPUs, else gloo) and
    returns the device of this rank (``cuda:LOCAL_RANK`` on GPUs).

    Args:
        device: The ``--device`` asked for (``None``/``"auto"``: CUDA when available).

    Returns:
        The :class:`World` and the device this rank should use.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(), device
    from molgan.training.loop import resolve_device  # (the loop imports this module)

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = resolve_device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=size)
        # Left to the interpreter's teardown, the group's C++ threads can be destroyed while
        # still joinable, and the process aborts ("terminate called without an active
        # exception") after its work is done; PyTorch asks for an explicit destroy.
        atexit.register(_leave_group)
    return World(rank=rank, size=size, local_rank=local_rank), device


def _leave_group() -> None:
    """Destroy this process's group, if it still has one (at exit)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def reduce_gradients(parameters: list[torch.Tensor]) -> None:
    """Replace each parameter's gradient by its mean over the ranks (one all-reduce).

    Parameters without a gradient are left alone (Adam skips them, as in a single process);
    every rank runs the same code, so every rank has gradients for the same parameters.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for grad in grads:
        grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
        offset += grad.numel()


def optimizer_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, clip: float = 0.0) -> None:
    """One update of ``optimizer``'s parameters on ``loss``: backward, average, clip, step.

    Under ``torchrun`` the gradients are averaged over the ranks before clipping, so clipping
    sees the gradient of the whole (all ranks') batch, as in a single process.

    Args:
        loss: The scalar loss of this rank's batch.
        optimizer: Steps the parameters; its gradients are zeroed first.
        clip: Clip the gradients' global L2 norm to this (0 = off).
    """
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    reduce_gradients(parameters)
    if clip:
        torch.nn.utils.clip_grad_norm_(parameters, clip)
    optimizer.step()
