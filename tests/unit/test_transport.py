import pytest
import torch
from torch import nn

from molgan.models.autoencoder import normalize_codes
from molgan.models.transport import CriticTransport, lipschitz_estimate


def _linear_critic(weight: list[float]) -> nn.Linear:
    critic = nn.Linear(len(weight), 1, bias=False)
    critic.weight.data.copy_(torch.tensor([weight]))
    return critic.requires_grad_(False)


def _codes(n: int, dim: int, seed: int = 0) -> torch.Tensor:
    return normalize_codes(torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)))


def test_a_code_climbs_only_while_the_critic_is_steeper_than_k():
    # Unnormalised codes (variational), so that only the two terms of DOT's objective act.
    critic = _linear_critic([0.6, 0.8, 0.0])  # slope 1 everywhere
    codes = torch.zeros(4, 3)
    steep = CriticTransport(critic, steps=100, lipschitz=0.5, lr=0.05, variational=True)(codes)
    flat = CriticTransport(critic, steps=100, lipschitz=2.0, lr=0.05, variational=True)(codes)
    assert (critic(steep) > 2.0).all()  # moved far up the critic
    assert steep[:, 2].abs().max() < 1e-6  # along its gradient only
    assert flat.norm(dim=1).max() < 0.2  # slope 1 < K = 2: the move costs more than it gains


def test_codes_stay_in_the_code_space_and_move_on_their_own():
    critic = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1)).requires_grad_(False)
    codes = _codes(6, 8)
    transport = CriticTransport(critic, steps=15, lipschitz=0.1)
    moved = transport(codes)
    assert torch.allclose(normalize_codes(moved), moved, atol=1e-5)
    assert (critic(moved) > critic(codes)).all()
    assert torch.allclose(transport(codes[:2]), moved[:2], atol=1e-6)  # batch does not matter
    assert not moved.requires_grad and torch.equal(codes, _codes(6, 8))  # input left alone


class _AskedDirection(nn.Module):
    """A critic of 4 code entries and 2 classes: class 0 wants ``w . z`` high, class 1 low."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w_z = x[:, :4] @ torch.tensor([1.0, -1.0, 0.0, 0.0])
        return ((x[:, 4] - x[:, 5]) * w_z).unsqueeze(-1)


def test_conditions_reach_the_critic():
    codes = _codes(2, 4)
    transport = CriticTransport(_AskedDirection(), steps=20, lipschitz=0.1)
    up = transport(codes, torch.eye(2)[[0, 0]])
    down = transport(codes, torch.eye(2)[[1, 1]])
    direction = torch.tensor([1.0, -1.0, 0.0, 0.0])
    assert ((up - codes) @ direction > 0.5).all() and ((down - codes) @ direction < -0.5).all()


@pytest.mark.parametrize("steps, lipschitz, lr", [(-1, 0.3, 0.05), (5, 0.0, 0.05), (5, 0.3, 0)])
def test_bad_settings_are_refused(steps, lipschitz, lr):
    with pytest.raises(ValueError, match="steps >= 0, lipschitz > 0 and lr > 0"):
        CriticTransport(nn.Linear(2, 1), steps, lipschitz, lr)


def test_lipschitz_estimate_is_the_steepest_pair():
    critic = _linear_critic([3.0, 4.0])
    codes = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    # pairs (0, 2): 25 / 5 = 5; (1, 3): 4 / 1 = 4
    assert lipschitz_estimate(critic, codes) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="at least two codes"):
        lipschitz_estimate(critic, codes[:1])
