import math

import pytest
import torch
from torch import nn

from molgan.graph import DenseGraph
from molgan.losses import (
    GAN_LOSSES,
    GRADIENT_PENALTY_WEIGHT,
    balance_scale,
    code_log_prob,
    entropy_regularizer,
    get_gan_loss,
    gradient_penalty,
    minimax_discriminator_loss,
    minimax_generator_loss,
    mode_seeking_loss,
    nonsaturating_generator_loss,
    reinforce_loss,
    reward_loss,
    rl_generator_loss,
    wgan_critic_loss,
    wgan_generator_loss,
)


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


REAL = torch.tensor([[1.0], [-2.0]])
FAKE = torch.tensor([[0.5], [3.0]])


def test_minimax_discriminator_loss():
    expected = -(
        (math.log(sigmoid(1.0)) + math.log(sigmoid(-2.0))) / 2
        + (math.log(1 - sigmoid(0.5)) + math.log(1 - sigmoid(3.0))) / 2
    )
    assert minimax_discriminator_loss(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_minimax_generator_loss():
    expected = (math.log(1 - sigmoid(0.5)) + math.log(1 - sigmoid(3.0))) / 2
    assert minimax_generator_loss(FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_nonsaturating_generator_loss():
    expected = -(math.log(sigmoid(0.5)) + math.log(sigmoid(3.0))) / 2
    assert nonsaturating_generator_loss(FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_minimax_losses_stable_at_extreme_logits():
    big = torch.tensor([1000.0])
    assert minimax_discriminator_loss(big, -big).item() == 0.0
    assert nonsaturating_generator_loss(-big).item() == pytest.approx(1000.0)
    assert minimax_generator_loss(big).item() == pytest.approx(-1000.0)


def test_wgan_losses():
    assert wgan_critic_loss(REAL, FAKE).item() == pytest.approx((0.5 + 3.0) / 2 - (1.0 - 2.0) / 2)
    assert wgan_generator_loss(FAKE).item() == pytest.approx(-1.75)


class LinearCritic(nn.Module):
    """D(x) = sum(w_a * atoms) + sum(w_b * bonds): its gradient is (w_a, w_b) everywhere."""

    def __init__(self, w_atoms, w_bonds):
        super().__init__()
        self.w_atoms, self.w_bonds = nn.Parameter(w_atoms), nn.Parameter(w_bonds)

    def forward(self, graph):
        atoms = (graph.atoms * self.w_atoms).flatten(1).sum(1)
        bonds = (graph.bonds * self.w_bonds).flatten(1).sum(1)
        return (atoms + bonds).unsqueeze(-1)


def random_graphs(seed):
    gen = torch.Generator().manual_seed(seed)
    return DenseGraph(torch.rand(3, 2, 3, generator=gen), torch.rand(3, 2, 2, 2, generator=gen))


def test_gradient_penalty_linear_critic():
    # ||w||^2 = 6 * 0.5^2 + 8 * 0.25^2 = 2, so GP = (sqrt(2) - 1)^2 = 3 - 2 sqrt(2).
    critic = LinearCritic(torch.full((2, 3), 0.5), torch.full((2, 2, 2), 0.25))
    gp = gradient_penalty(
        critic, random_graphs(0), random_graphs(1), torch.Generator().manual_seed(0)
    )
    assert gp.item() == pytest.approx(3 - 2 * math.sqrt(2), rel=1e-5)
    # create_graph=True: d GP / dw = 2 (||w|| - 1) w / ||w||
    gp.backward()
    scale = 2 * (math.sqrt(2) - 1) / math.sqrt(2)
    torch.testing.assert_close(critic.w_atoms.grad, torch.full((2, 3), 0.5 * scale))
    torch.testing.assert_close(critic.w_bonds.grad, torch.full((2, 2, 2), 0.25 * scale))


def test_gradient_penalty_zero_for_unit_gradient():
    # ||w||^2 = 6 * (1/sqrt(14))^2 + 8 * (1/sqrt(14))^2 = 1
    w = 1 / math.sqrt(14)
    critic = LinearCritic(torch.full((2, 3), w), torch.full((2, 2, 2), w))
    assert gradient_penalty(critic, random_graphs(0), random_graphs(1)).item() == pytest.approx(
        0.0, abs=1e-6
    )


def test_gradient_penalty_one_eps_per_graph_shared_by_atoms_and_bonds():
    # D = (|atoms|^2 + |bonds|^2) / 2 has gradient x̂; with real = 1, fake = 0, x̂ = eps, so
    # ||grad|| = eps_b * sqrt(6 + 8) for graph b if atoms and bonds share eps_b.
    def critic(graph):
        return ((graph.atoms**2).flatten(1).sum(1) + (graph.bonds**2).flatten(1).sum(1)) / 2

    ones = DenseGraph(torch.ones(3, 2, 3), torch.ones(3, 2, 2, 2))
    zeros = DenseGraph(torch.zeros(3, 2, 3), torch.zeros(3, 2, 2, 2))
    gp = gradient_penalty(critic, ones, zeros, torch.Generator().manual_seed(9))
    eps = torch.rand(3, generator=torch.Generator().manual_seed(9))
    expected = ((eps * math.sqrt(14) - 1) ** 2).mean()
    assert gp.item() == pytest.approx(expected.item(), rel=1e-5)


def test_gradient_penalty_does_not_reach_inputs():
    critic = LinearCritic(torch.ones(2, 3), torch.ones(2, 2, 2))
    fake = random_graphs(1)
    fake_atoms = fake.atoms.requires_grad_(True)
    gradient_penalty(critic, random_graphs(0), DenseGraph(fake_atoms, fake.bonds)).backward()
    assert fake_atoms.grad is None


def test_gradient_penalty_weight_is_molgans():
    assert GRADIENT_PENALTY_WEIGHT == 10.0


def test_entropy_regularizer_extremes():
    assert entropy_regularizer(torch.zeros(5)).item() == pytest.approx(math.log(2))
    big = torch.tensor([-50.0, 50.0])
    assert 0 <= entropy_regularizer(big).item() < 1e-12
    huge = torch.tensor([-1e4, 1e4], requires_grad=True)
    h = entropy_regularizer(huge)
    h.backward()
    assert torch.isfinite(h) and torch.isfinite(huge.grad).all()


def test_entropy_regularizer_formula():
    p = sigmoid(1.0)
    expected = -p * math.log(p) - (1 - p) * math.log(1 - p)
    assert entropy_regularizer(torch.tensor([1.0, -1.0])).item() == pytest.approx(
        expected, rel=1e-6
    )


def test_reward_loss_does_not_broadcast():
    predicted = torch.tensor([[0.2], [0.9], [0.5]])
    target = torch.tensor([0.0, 1.0, 0.5])
    assert reward_loss(predicted, target).item() == pytest.approx((0.04 + 0.01 + 0.0) / 3)


def test_rl_generator_loss():
    assert rl_generator_loss(torch.tensor([[0.2], [0.6]])).item() == pytest.approx(-0.4)


def test_balance_scale():
    gan = torch.tensor(-3.0, requires_grad=True)
    rl = torch.tensor(0.5, requires_grad=True)
    alpha = balance_scale(gan, rl)
    assert alpha.item() == pytest.approx(6.0)
    assert not alpha.requires_grad
    assert torch.isfinite(balance_scale(gan, torch.tensor(0.0)))


def test_registry():
    assert set(GAN_LOSSES) == {"minimax", "nonsaturating", "wgan-gp"}
    wgan = get_gan_loss("wgan-gp")
    assert wgan.uses_gradient_penalty
    assert wgan.discriminator is wgan_critic_loss and wgan.generator is wgan_generator_loss
    assert not get_gan_loss("nonsaturating").uses_gradient_penalty
    assert get_gan_loss("nonsaturating").generator is nonsaturating_generator_loss
    assert get_gan_loss("minimax").generator is minimax_generator_loss


def test_unknown_loss_lists_valid_names():
    with pytest.raises(KeyError) as info:
        get_gan_loss("hinge")
    message = str(info.value)
    assert all(name in message for name in ("minimax", "nonsaturating", "wgan-gp", "hinge"))


def test_structure_penalty_is_zero_on_real_molecules_and_counts_defects():
    from molgan.graph import MolGraph
    from molgan.losses import structure_penalty
    from molgan.vocab import Vocabulary

    vocab = Vocabulary.qm9()
    caps = torch.tensor([0.0, 4.0, 3.0, 3.0, 2.0, 4.0, 2.0, 1.0, 1.0])
    orders = torch.tensor(vocab.bond_orders)
    atoms = torch.tensor([[1, 1, 6, 0, 0, 0, 0, 0, 0]] * 3)  # C, C, O
    bonds = torch.zeros(3, 9, 9, dtype=torch.long)
    bonds[0, 0, 1] = bonds[0, 1, 0] = 1  # C-C and C-O: ethanol, fine
    bonds[0, 1, 2] = bonds[0, 2, 1] = 1
    bonds[1, 0, 1] = bonds[1, 1, 0] = 1  # C-C with O left alone: 2 of 6 ordered pairs joined
    bonds[2, 0, 2] = bonds[2, 2, 0] = 3  # C#O and C-O: oxygen valence 4, excess 2
    bonds[2, 1, 2] = bonds[2, 2, 1] = 1
    penalty = structure_penalty(MolGraph(atoms, bonds).one_hot(vocab), caps, orders)
    assert penalty.tolist() == pytest.approx([0.0, 4 / 6, 2.0])


def test_structure_penalty_counts_net_charge_beyond_the_data():
    from molgan.graph import MolGraph
    from molgan.losses import structure_penalty
    from molgan.vocab import Vocabulary

    vocab = Vocabulary.qm9()
    caps = torch.tensor([0.0, 4.0, 3.0, 3.0, 2.0, 4.0, 2.0, 1.0, 1.0])
    orders = torch.tensor(vocab.bond_orders)
    charges = torch.tensor(vocab.atom_charges, dtype=torch.float32)
    atoms = torch.tensor([[5, 1, 0, 0, 0, 0, 0, 0, 0], [5, 1, 7, 0, 0, 0, 0, 0, 0]])  # CC[NH3+]
    bonds = torch.zeros(2, 9, 9, dtype=torch.long)
    bonds[:, 0, 1] = bonds[:, 1, 0] = 1
    bonds[1, 1, 2] = bonds[1, 2, 1] = 1  # [NH3+]C[O-]: a zwitterion, net charge 0
    graph = MolGraph(atoms, bonds).one_hot(vocab)
    assert structure_penalty(graph, caps, orders, charges).tolist() == [1.0, 0.0]
    assert structure_penalty(graph, caps, orders, charges, max_net_charge=1).tolist() == [0.0, 0.0]


def test_mode_seeking_loss_matches_its_formula_and_rewards_spread():
    z = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 2.0], [1.0, 3.0]])  # pairs (0, 2) and (1, 3)
    atoms = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[0.5, 0.5]], [[0.0, 1.0]]])
    bonds = torch.zeros(4, 1, 1, 2)
    # pair (0, 2): d_graph = (0.5 + 0.5) / 4, d_z = 1; pair (1, 3): d_graph = 0, d_z = 1.
    expected = 1.0 / ((0.25 + 0.0) / 2 + 1e-5)
    assert mode_seeking_loss(DenseGraph(atoms, bonds), z).item() == pytest.approx(expected)
    collapsed = DenseGraph(atoms[[1, 1, 1, 1]], bonds)
    assert mode_seeking_loss(collapsed, z) > mode_seeking_loss(DenseGraph(atoms, bonds), z)


def test_the_code_policy_gradient_moves_the_mean_towards_rewarded_draws():
    # Reward 1 where the first coordinate of the drawn code is positive: REINFORCE on the
    # Gaussian log-density must carry the policy's mean there.
    mean = torch.zeros(1, 4, requires_grad=True)
    optimizer = torch.optim.SGD([mean], lr=0.05)
    rng = torch.Generator().manual_seed(0)
    for _ in range(200):
        centre = mean.expand(64, 4)
        action = centre.detach() + 0.3 * torch.randn(64, 4, generator=rng)
        rewards = (action[:, 0] > 0).float()
        optimizer.zero_grad()
        reinforce_loss(code_log_prob(action, centre, 0.3), rewards).backward()
        optimizer.step()
    assert mean[0, 0] > 0.5
    assert mean[0, 1:].abs().max() < 0.2  # unrewarded directions stay near 0
