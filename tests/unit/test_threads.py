import pytest
import torch

from molgan.threads import available_cores, default_threads, set_threads


def test_default_is_the_idle_cores_at_least_one():
    cores = available_cores()
    assert default_threads(0.0) == cores
    assert default_threads(cores - 1.0) == 1
    assert default_threads(10.0 * cores) == 1


def test_set_threads_respects_an_explicit_count_and_omp_num_threads(monkeypatch):
    assert set_threads(1) == 1 and torch.get_num_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(available_cores())
    assert set_threads() == available_cores()  # the environment wins: left as it is
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr("os.getloadavg", lambda: (0.0, 0.0, 0.0))
    assert set_threads() == available_cores()
    with pytest.raises(ValueError, match="at least 1"):
        set_threads(0)
