from types import SimpleNamespace

import pytest
import torch

from molgan.graph import DenseGraph, MolGraph
from molgan.models import Discriminator, RewardNetwork
from molgan.vocab import Vocabulary

MODELS = [Discriminator, RewardNetwork]


@pytest.fixture
def vocab():
    return Vocabulary.qm9()


@pytest.fixture
def graph(vocab):
    """Two molecules in one-hot form: 4 and 6 real atoms, the rest padding, random bonds."""
    gen = torch.Generator().manual_seed(0)
    n_real = torch.tensor([4, 6])
    real = torch.arange(9) < n_real[:, None]  # [B, N]
    atoms = torch.randint(1, vocab.n_atom_classes, (2, 9), generator=gen) * real
    bonds = torch.randint(0, vocab.n_bond_classes, (2, 9, 9), generator=gen).triu(1)
    bonds = (bonds + bonds.transpose(1, 2)) * (real[:, :, None] & real[:, None, :])
    return MolGraph(atoms, bonds).one_hot(vocab)


def soft(graph, seed=1):
    """A soft (probability) version of a graph, as a generator would produce."""
    gen = torch.Generator().manual_seed(seed)
    atoms = torch.softmax(torch.randn(graph.atoms.shape, generator=gen) + 3 * graph.atoms, -1)
    bonds = torch.randn(graph.bonds.shape, generator=gen) + 3 * graph.bonds
    bonds = torch.softmax((bonds + bonds.transpose(1, 2)) / 2, -1)
    return DenseGraph(atoms, bonds)


def permute(graph, perm):
    return DenseGraph(graph.atoms[:, perm], graph.bonds[:, perm][:, :, perm])


@pytest.mark.parametrize("model_cls", MODELS)
def test_output_shape(model_cls, vocab, graph):
    assert model_cls(vocab)(graph).shape == (2, 1)


@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize("make_soft", [False, True])
def test_permutation_invariant(model_cls, make_soft, vocab, graph):
    model = model_cls(vocab)
    graph = soft(graph) if make_soft else graph
    perm = torch.tensor([8, 2, 0, 5, 7, 1, 3, 6, 4])
    torch.testing.assert_close(model(permute(graph, perm)), model(graph))


@pytest.mark.parametrize("model_cls", MODELS)
def test_extra_padding_rows_leave_score_unchanged(model_cls, vocab, graph):
    model = model_cls(vocab)
    extra = 3
    atoms = torch.cat([graph.atoms, torch.zeros(2, extra, vocab.n_atom_classes)], 1)
    atoms[:, 9:, 0] = 1.0
    bonds = torch.zeros(2, 9 + extra, 9 + extra, vocab.n_bond_classes)
    bonds[..., 0] = 1.0
    bonds[:, :9, :9] = graph.bonds
    torch.testing.assert_close(model(DenseGraph(atoms, bonds)), model(graph))


@pytest.mark.parametrize("model_cls", MODELS)
def test_bonds_to_padding_are_ignored(model_cls, vocab, graph):
    model = model_cls(vocab)
    bonds = graph.bonds.clone()
    bonds[0, 1, 7] = bonds[0, 7, 1] = torch.tensor([0.0, 0.0, 1.0, 0.0])  # atom 7 is padding
    torch.testing.assert_close(model(DenseGraph(graph.atoms, bonds)), model(graph))


def test_score_depends_on_bonds(vocab, graph):
    model = Discriminator(vocab)
    no_bonds = torch.zeros_like(graph.bonds)
    no_bonds[..., 0] = 1.0
    assert not torch.allclose(model(DenseGraph(graph.atoms, no_bonds)), model(graph))


def test_reward_in_unit_interval(vocab, graph):
    reward = RewardNetwork(vocab)(soft(graph))
    assert torch.all((reward > 0) & (reward < 1))


def test_gradients_reach_soft_inputs(vocab, graph):
    probs = soft(graph)
    atoms, bonds = probs.atoms.requires_grad_(True), probs.bonds.requires_grad_(True)
    Discriminator(vocab)(DenseGraph(atoms, bonds)).sum().backward()
    assert atoms.grad.abs().sum() > 0 and bonds.grad.abs().sum() > 0


def test_dropout_only_in_training(vocab, graph):
    model = Discriminator(vocab, dropout=0.5)
    assert not torch.equal(model(graph), model(graph))
    model.eval()
    assert torch.equal(model(graph), model(graph))


def test_from_config_and_parameter_count(vocab):
    cfg = SimpleNamespace(conv_dims=[32], agg_dim=16, mlp_dims=[8], dropout=0.0)
    model = RewardNetwork.from_config(cfg, vocab)
    assert isinstance(model, RewardNetwork)
    assert len(model.convs) == 1 and model.aggregation.gate.out_features == 16
    # R-GCN (9->128, 137->64; 3 relations), aggregation 73->128, MLP 128-128-64, head 64->1
    assert sum(p.numel() for p in Discriminator(vocab).parameters()) == 83_649


def test_minibatch_std_sees_batch_diversity_and_stays_permutation_invariant(vocab, graph):
    model = Discriminator(vocab, minibatch_std=True)
    perm = torch.tensor([8, 2, 0, 5, 7, 1, 3, 6, 4])
    torch.testing.assert_close(model(permute(graph, perm)), model(graph))
    same = DenseGraph(graph.atoms[[0, 0]], graph.bonds[[0, 0]])  # a collapsed batch
    varied = DenseGraph(graph.atoms, graph.bonds)
    # Graph 0 scores differently when its batch-mates differ: the critic can see collapse.
    assert not torch.allclose(model(same)[0], model(varied)[0])
    assert Discriminator.from_config(SimpleNamespace(minibatch_std=True), vocab).minibatch_std


def test_minibatch_std_gradient_is_finite_for_a_collapsed_batch(vocab, graph):
    # A batch of identical graphs has zero spread; sqrt'(0) = inf once made training go NaN.
    model = Discriminator(vocab, minibatch_std=True)
    atoms = graph.atoms[[0, 0]].clone().requires_grad_(True)
    score = model(DenseGraph(atoms, graph.bonds[[0, 0]])).sum()
    (grad,) = torch.autograd.grad(score, atoms, create_graph=True)
    grad.square().sum().backward()  # the gradient penalty's second-order backward
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
