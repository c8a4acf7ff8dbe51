from types import SimpleNamespace

import pytest
import torch

from molgan.graph import DenseGraph
from molgan.models import Generator
from molgan.vocab import Vocabulary


@pytest.fixture
def vocab():
    return Vocabulary.qm9()


@pytest.fixture
def logits(vocab):
    gen = Generator(vocab)
    return gen(gen.sample_z(4, torch.Generator().manual_seed(0)))


def test_logit_shapes(logits):
    assert isinstance(logits, DenseGraph)
    assert logits.atoms.shape == (4, 9, 9)
    assert logits.bonds.shape == (4, 9, 9, 4)


def test_bond_logits_symmetric(logits):
    assert torch.equal(logits.bonds, logits.bonds.transpose(1, 2))


def test_diagonal_is_no_bond(logits):
    diagonal = logits.bonds.diagonal(dim1=1, dim2=2)  # [B, Y, N]
    assert torch.all(diagonal.argmax(1) == 0)
    probs = torch.softmax(diagonal, dim=1)
    assert torch.all(probs[:, 0] == 1.0) and torch.all(probs[:, 1:] == 0.0)
    assert torch.isfinite(logits.bonds).all()


def test_gradients_are_finite(vocab):
    gen = Generator(vocab)
    logits = gen(torch.randn(3, 32, generator=torch.Generator().manual_seed(0)))
    loss = (
        torch.softmax(logits.bonds, -1)[..., 1].sum()
        + torch.softmax(logits.atoms, -1)[..., 1].sum()
    )
    loss.backward()
    grads = [p.grad for p in gen.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert gen.bond_head.weight.grad.abs().sum() > 0


def test_sample_z_is_seeded(vocab):
    gen = Generator(vocab, z_dim=16)
    z1 = gen.sample_z(5, torch.Generator().manual_seed(3))
    z2 = gen.sample_z(5, torch.Generator().manual_seed(3))
    assert z1.shape == (5, 16)
    assert torch.equal(z1, z2)
    assert not torch.equal(z1, gen.sample_z(5, torch.Generator().manual_seed(4)))


def test_from_config_duck_typed(vocab):
    cfg = SimpleNamespace(z_dim=8, hidden=[16, 24], dropout=0.1)
    gen = Generator.from_config(cfg, vocab)
    assert gen.z_dim == 8
    assert [m.out_features for m in gen.body if isinstance(m, torch.nn.Linear)] == [16, 24]
    assert gen(gen.sample_z(2)).bonds.shape == (2, 9, 9, 4)


def test_default_parameter_count(vocab):
    # MLP 32-128-256-512 (168,832) + atom head 512 -> 9*9 (41,553)
    # + bond head 512 -> 9*9*4 (166,212)
    assert sum(p.numel() for p in Generator(vocab).parameters()) == 376_597


def test_state_dict_has_only_weights(vocab):
    assert not any(key.startswith("_diagonal") for key in Generator(vocab).state_dict())
