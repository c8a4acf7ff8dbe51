import pytest
import torch
from torch import nn

from molgan.models import GraphDecoder, LatentGenerator
from molgan.models.transport import CriticTransport, lipschitz_estimate


class _NoiseIsCode(nn.Module):
    """A G whose codes are its noise (the first ``z_dim`` entries), to test the transport alone."""

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        self.z_dim = z_dim

    def codes(self, noise: torch.Tensor) -> torch.Tensor:
        return noise[:, : self.z_dim]

    def conditions_of(self, noise: torch.Tensor) -> torch.Tensor:
        return noise[:, self.z_dim :]


def _linear_critic(weight: list[float]) -> nn.Linear:
    critic = nn.Linear(len(weight), 1, bias=False)
    critic.weight.data.copy_(torch.tensor([weight]))
    return critic.requires_grad_(False)


def test_a_draw_climbs_only_while_the_critic_is_steeper_than_k():
    critic, g = _linear_critic([0.6, 0.8, 0.0]), _NoiseIsCode(3)  # slope 1 everywhere
    noise = torch.zeros(4, 3)
    steep = CriticTransport(critic, steps=100, lipschitz=0.5)(g, noise)
    flat = CriticTransport(critic, steps=100, lipschitz=2.0)(g, noise)
    assert (critic(steep) > 2.0).all()  # moved far up the critic
    assert steep[:, 2].abs().max() < 1e-6  # along its gradient only
    assert flat.norm(dim=1).max() < 0.2  # slope 1 < K = 2: the move costs more than it gains


def test_draws_move_on_their_own_and_g_and_the_critic_are_left_alone(vocab):
    decoder = GraphDecoder(vocab, latent_dim=8, dim=16, layers=1, heads=2)
    g = LatentGenerator(vocab, decoder, z_dim=6, hidden=(16,), latent_dim=8)
    critic = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    noise = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    before = [p.clone() for p in (*g.parameters(), *critic.parameters())]
    transport = CriticTransport(critic, steps=15, lipschitz=0.05)
    moved = transport(g, noise)
    with torch.no_grad():
        assert (critic(g.codes(moved)) > critic(g.codes(noise))).all()
    assert torch.allclose(transport(g, noise[:2]), moved[:2], atol=1e-6)  # batch does not matter
    assert not moved.requires_grad
    after = [*g.parameters(), *critic.parameters()]
    assert all(torch.equal(a, b) and b.grad is None for a, b in zip(before, after))


class _AskedDirection(nn.Module):
    """A critic of 4 code entries and 2 classes: class 0 wants ``w . z`` high, class 1 low."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w_z = x[:, :4] @ torch.tensor([1.0, -1.0, 0.0, 0.0])
        return ((x[:, 4] - x[:, 5]) * w_z).unsqueeze(-1)


def test_conditions_reach_the_critic_and_stay_as_they_are():
    g, direction = _NoiseIsCode(4), torch.tensor([1.0, -1.0, 0.0, 0.0])
    noise = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
    transport = CriticTransport(_AskedDirection(), steps=20, lipschitz=0.1)
    up = transport(g, torch.cat([noise, torch.eye(2)[[0, 0]]], dim=1))
    down = transport(g, torch.cat([noise, torch.eye(2)[[1, 1]]], dim=1))
    assert ((up[:, :4] - noise) @ direction > 0.5).all()
    assert ((down[:, :4] - noise) @ direction < -0.5).all()
    assert torch.equal(up[:, 4:], torch.eye(2)[[0, 0]])


@pytest.mark.parametrize("steps, lipschitz, lr", [(-1, 0.3, 0.05), (5, 0.0, 0.05), (5, 0.3, 0)])
def test_bad_settings_are_refused(steps, lipschitz, lr):
    with pytest.raises(ValueError, match="steps >= 0, lipschitz > 0 and lr > 0"):
        CriticTransport(nn.Linear(2, 1), steps, lipschitz, lr)


def test_lipschitz_estimate_is_the_steepest_pair():
    critic = _linear_critic([3.0, 4.0])
    points = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    assert lipschitz_estimate(critic, points) == pytest.approx(5.0)  # pairs (0, 2) and (1, 3)
    with pytest.raises(ValueError, match="at least two points"):
        lipschitz_estimate(critic, points[:1])
