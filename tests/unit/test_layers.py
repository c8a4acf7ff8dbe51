import math

import pytest
import torch
from torch import nn

from molgan.models.layers import (
    MLP,
    GraphAggregation,
    RelationalGraphConv,
    init_linear_,
    symmetric_pair_logits,
    upper_pairs,
)


def test_relational_graph_conv_shape():
    conv = RelationalGraphConv(5, 7, n_relations=3)
    h = torch.randn(2, 4, 5, generator=torch.Generator().manual_seed(0))
    adjacency = torch.rand(2, 4, 4, 3, generator=torch.Generator().manual_seed(1))
    assert conv(h, adjacency).shape == (2, 4, 7)


def test_relational_graph_conv_matches_per_relation_formula():
    gen = torch.Generator().manual_seed(0)
    conv = RelationalGraphConv(3, 2, n_relations=2, activation=None)
    nn.init.normal_(conv.self_linear.bias, generator=gen)
    h = torch.randn(1, 3, 3, generator=gen)
    adjacency = torch.rand(1, 3, 3, 2, generator=gen)
    w_rel = conv.relation_linear.weight.view(2, 2, 3)  # [out, R, F]
    expected = conv.self_linear(h)
    for r in range(2):
        expected = expected + adjacency[..., r] @ h @ w_rel[:, r, :].T
    torch.testing.assert_close(conv(h, adjacency), expected)


def test_relational_graph_conv_without_edges_is_self_connection():
    conv = RelationalGraphConv(3, 4, n_relations=2)
    h = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0))
    out = conv(h, torch.zeros(2, 5, 5, 2))
    torch.testing.assert_close(out, torch.tanh(conv.self_linear(h)))


def test_relational_graph_conv_is_permutation_equivariant():
    gen = torch.Generator().manual_seed(0)
    conv = RelationalGraphConv(3, 4, n_relations=2)
    h = torch.randn(1, 5, 3, generator=gen)
    adjacency = torch.rand(1, 5, 5, 2, generator=gen)
    perm = torch.tensor([3, 0, 4, 1, 2])
    permuted = conv(h[:, perm], adjacency[:, perm][:, :, perm])
    torch.testing.assert_close(permuted, conv(h, adjacency)[:, perm])


def test_graph_aggregation_literal_value_and_mask():
    agg = GraphAggregation(2, 1)
    with torch.no_grad():
        agg.gate.weight.zero_()
        agg.gate.bias.fill_(100.0)  # sigmoid -> 1
        agg.embed.weight.zero_()
        agg.embed.bias.fill_(math.atanh(0.25))  # tanh -> 0.25
    h = torch.ones(1, 3, 2)
    out = agg(h, mask=torch.tensor([[1.0, 1.0, 0.0]]))
    assert out.item() == pytest.approx(math.tanh(0.5))
    assert agg(h).item() == pytest.approx(math.tanh(0.75))


def test_graph_aggregation_masked_rows_equal_removed_rows():
    agg = GraphAggregation(4, 6)
    h = torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0, 0.0]] * 2)
    torch.testing.assert_close(agg(h, mask), agg(h[:, :3]))


def test_mlp_layers_and_shape():
    mlp = MLP((4, 8, 2), act=nn.ReLU, dropout=0.5)
    kinds = [type(layer) for layer in mlp]
    assert kinds == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout]
    assert mlp.out_dim == 2
    assert mlp(torch.zeros(3, 4)).shape == (3, 2)


def test_mlp_needs_dims():
    with pytest.raises(ValueError):
        MLP(())


def test_reset_parameters_zeroes_biases():
    layers = [RelationalGraphConv(3, 4, 2), GraphAggregation(3, 4), MLP((3, 4))]
    for layer in layers:
        for p in layer.parameters():
            nn.init.constant_(p, 1.0)
        layer.reset_parameters()
        biases = [p for name, p in layer.named_parameters() if name.endswith("bias")]
        assert biases and all(torch.all(b == 0) for b in biases)
        weights = [p for name, p in layer.named_parameters() if name.endswith("weight")]
        assert all(not torch.all(w == 1.0) for w in weights)


def test_init_linear_is_glorot_bounded():
    linear = init_linear_(nn.Linear(30, 20))
    assert linear.weight.abs().max() <= math.sqrt(6 / 50)


def _all_pairs_head(head: nn.Module, p: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
    """The head on all N * N pairs (the form that the upper-pair path replaces)."""
    p_i, p_j = p.unsqueeze(2), p.unsqueeze(1)
    pair_sum = p_i + p_j + extra
    return head(torch.cat(torch.broadcast_tensors(pair_sum, p_i * p_j), dim=-1))


@pytest.mark.parametrize("batched_extra", [False, True])
def test_symmetric_pair_logits_match_the_head_on_all_pairs(batched_extra):
    torch.manual_seed(0)
    head = nn.Sequential(nn.Linear(12, 6), nn.GELU(), nn.Linear(6, 4))
    p = torch.randn(3, 7, 6, requires_grad=True)
    raw = torch.randn(3, 7, 7, 6) if batched_extra else torch.randn(7, 7, 6)
    extra = raw + raw.transpose(-3, -2)  # symmetric, as the callers' pair features are
    expected = _all_pairs_head(head, p, extra)
    logits = symmetric_pair_logits(head, p, upper_pairs(extra))
    off = ~torch.eye(7, dtype=torch.bool)
    torch.testing.assert_close(logits[:, off], expected[:, off])  # the matmul sees fewer rows
    assert torch.equal(logits, logits.transpose(1, 2))
    assert not logits[:, ~off].any()  # zero diagonal
    # The gradients agree too (up to the order of the sums).
    (grad,) = torch.autograd.grad((logits[:, off] ** 2).sum(), p)
    (expected_grad,) = torch.autograd.grad((expected[:, off] ** 2).sum(), p)
    torch.testing.assert_close(grad, expected_grad)


def test_upper_pairs_are_the_pairs_i_below_j_in_row_order():
    x = torch.arange(16.0).view(4, 4, 1).expand(2, 4, 4, 1)
    assert upper_pairs(x)[1, :, 0].tolist() == [1.0, 2.0, 3.0, 6.0, 7.0, 11.0]
