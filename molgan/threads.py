"""How many threads torch computes with: the idle cores, by default (measured).

On the 2-core box (``python benchmarks/threads.py``, docs/benchmarks.md "Threads"), every
recipe trains faster on 2 threads than on 1 when the machine is idle (MolGAN family 17.4 vs 12.1
steps/s, latent autoencoder 3.2 vs 1.8), and much slower when other processes hold the cores (2
spinning processes: 2.9 vs 6.6 and 0.7 vs 1.2), because torch's threads wait on each other. So the
default is the number of cores not already busy, from the 1-minute load average.
"""

from __future__ import annotations

import os

__all__ = ["available_cores", "default_threads", "set_threads"]


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def default_threads(load: float | None = None) -> int:
    """The cores not already busy: ``cores - round(load)``, at least 1.

    Args:
        load: The run-queue length to assume (default: the 1-minute load average).

    Examples:
        >>> cores = available_cores()
        >>> default_threads(0.0) == cores, default_threads(cores + 5.0)
        (True, 1)
    """
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (OSError, AttributeError):  # not available on this platform
            load = 0.0
    cores = available_cores()
    return max(1, min(cores, cores - round(load)))


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads (and one inter-op thread); returns the count in use.

    Args:
        n: Threads; ``None`` keeps ``OMP_NUM_THREADS`` when it is set, else
            :func:`default_threads`.

    Raises:
        ValueError: If ``n`` is below 1.
    """
    import torch

    if n is None:
        if os.environ.get("OMP_NUM_THREADS"):
            return torch.get_num_threads()
        n = default_threads()
    if n < 1:
        raise ValueError(f"--threads must be at least 1, got {n}")
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only settable before the first parallel work; keep what is set
        pass
    return n
