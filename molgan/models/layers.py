"""Dense graph layers: MolGAN's critics', the MLP, and the autoencoder's transformer layer.

Every layer works on padded dense batches (``B`` graphs of ``N`` nodes), so a whole batch is a
handful of batched matrix products with no Python loop over graphs, nodes or relations. Weights
start from Glorot-uniform with zero biases, the Keras default MolGAN's reference code trained with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "RelationalGraphConv",
    "GraphAggregation",
    "MLP",
    "TransformerBlock",
    "init_linear_",
    "symmetric_pair_logits",
    "upper_pairs",
]


class RelationalGraphConv(nn.Module):
    """A dense relational graph convolution (R-GCN, Schlichtkrull et al. 2018) over soft edges.

    ``h'_i = act(W_self h_i + b + sum_r sum_j A[i, j, r] (W_r h_j))``: a self-connection plus one
    message per relation (bond type), summed over relations and neighbours, as in MolGAN's
    reference code (De Cao & Kipf 2018). Messages are *not* normalised by degree: molecular degrees
    are small (at most 4 for C), the reference does not normalise, and an unnormalised sum lets the
    layer count neighbours, which a mean would hide. ``A`` may be soft (bond probabilities), so
    gradients flow into the generator's bond distribution.

    Args:
        in_dim: ``F``, input node features.
        out_dim: Output node features.
        n_relations: ``R``, edge types (the real bond classes, ``vocab.n_bond_classes - 1``).
        activation: Applied to the output; ``None`` for none. Defaults to ``tanh`` like MolGAN.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        n_relations: int,
        activation: Callable[[torch.Tensor], torch.Tensor] | None = torch.tanh,
    ) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.n_relations = in_dim, out_dim, n_relations
        self.activation = activation
        self.self_linear = nn.Linear(in_dim, out_dim)
        # All W_r side by side: one [R * F, out] matmul replaces a loop over relations.
        self.relation_linear = nn.Linear(n_relations * in_dim, out_dim, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw all weights (Glorot uniform, zero bias)."""
        init_linear_(self.self_linear)
        # Initialise each W_r as its own [F, out] matrix, as separate per-relation layers would be.
        weight = self.relation_linear.weight.view(self.out_dim, self.n_relations, self.in_dim)
        for r in range(self.n_relations):
            nn.init.xavier_uniform_(weight[:, r, :])

    def forward(self, h: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """Apply the layer.

        Args:
            h: Node features ``[B, N, F]``.
            adjacency: Soft or hard edge weights ``[B, N, N, R]`` (``adjacency[b, i, j, r]`` is
                the weight of an ``r`` edge between ``i`` and ``j``); rows of padding nodes should
                be zero.

        Returns:
            New node features ``[B, N, out_dim]``.
        """
        batch, n_nodes, _ = h.shape
        neighbours = torch.einsum("bijr,bjf->birf", adjacency, h)  # [B, N, R, F]
        messages = self.relation_linear(neighbours.reshape(batch, n_nodes, -1))  # [B, N, out]
        out = self.self_linear(h) + messages  # [B, N, out]
        return out if self.activation is None else self.activation(out)

    def extra_repr(self) -> str:
        """Show the sizes in ``print(model)``."""
        return f"{self.in_dim}, {self.out_dim}, n_relations={self.n_relations}"


class GraphAggregation(nn.Module):
    """MolGAN's gated sum readout: ``tanh(sum_i mask_i * sigmoid(i(h_i)) * tanh(j(h_i)))``.

    The sigmoid gate decides how much each node contributes and the tanh branch what it
    contributes (Li et al. 2016, gated graph neural networks; De Cao & Kipf 2018). A sum over
    nodes makes the readout invariant to node order, and the mask makes padding nodes contribute
    nothing, so adding or removing padding rows leaves the graph embedding unchanged.

    Args:
        in_dim: ``F``, node features.
        out_dim: Graph embedding size.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.gate = nn.Linear(in_dim, out_dim)
        self.embed = nn.Linear(in_dim, out_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw all weights (Glorot uniform, zero bias)."""
        init_linear_(self.gate)
        init_linear_(self.embed)

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Aggregate node features into one vector per graph.

        Args:
            h: Node features ``[B, N, F]``.
            mask: Node weights ``[B, N]`` in ``[0, 1]`` (1 = real atom, 0 = padding; soft values
                weight soft atoms); ``None`` counts every node.

        Returns:
            Graph embeddings ``[B, out_dim]`` in ``(-1, 1)``.
        """
        contributions = torch.sigmoid(self.gate(h)) * torch.tanh(self.embed(h))  # [B, N, out]
        if mask is not None:
            contributions = contributions * mask.unsqueeze(-1)
        return torch.tanh(contributions.sum(dim=1))

    def extra_repr(self) -> str:
        """Show the sizes in ``print(model)``."""
        return f"{self.gate.in_features}, {self.gate.out_features}"


class MLP(nn.Sequential):
    """Linear layers, each followed by an activation and dropout.

    Every layer, including the last, is activated, as in MolGAN's hidden stacks; put an
    unactivated ``nn.Linear`` head after it for logits or scores.

    Args:
        dims: ``(in_dim, hidden_1, ..., out_dim)``; a single entry gives the identity.
        act: Builds one activation module per layer, e.g. ``nn.Tanh`` (MolGAN's choice).
        dropout: Dropout probability after each activation (0 disables it).

    Examples:
        >>> mlp = MLP((4, 8, 2))
        >>> mlp(torch.zeros(3, 4)).shape
        torch.Size([3, 2])
    """

    def __init__(
        self,
        dims: Sequence[int],
        act: Callable[[], nn.Module] = nn.Tanh,
        dropout: float = 0.0,
    ) -> None:
        if not dims:
            raise ValueError("an MLP needs at least its input size")
        layers: list[nn.Module] = []
        for in_dim, out_dim in zip(dims[:-1], dims[1:], strict=True):
            layers += [nn.Linear(in_dim, out_dim), act()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        super().__init__(*layers)
        self.out_dim = dims[-1]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw all weights (Glorot uniform, zero bias)."""
        for layer in self:
            if isinstance(layer, nn.Linear):
                init_linear_(layer)


def init_linear_(linear: nn.Linear) -> nn.Linear:
    """Glorot-uniform weight and zero bias, in place (Keras' default, used by MolGAN's code).

    Examples:
        >>> init_linear_(nn.Linear(3, 2)).bias.tolist()
        [0.0, 0.0]
    """
    nn.init.xavier_uniform_(linear.weight)
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)
    return linear


class TransformerBlock(nn.Module):
    """A pre-norm transformer layer (GELU, 4x feed-forward, no dropout) with an attention bias.

    The layer of the graph autoencoder and the refiner: graphs enter as per-head biases of the
    attention logits.

    Written out rather than ``nn.TransformerEncoderLayer``, whose inference fast path returned
    NaN with a per-head float mask (torch 2.13).
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, h: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """Update ``h [B, N, D]``; ``bias [B, H, N, N]`` is added to the attention logits."""
        batch, n, dim = h.shape
        qkv = self.qkv(self.norm1(h)).view(batch, n, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [B, H, N, D / H]
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # [B, H, N, D / H]
        h = h + self.out(attended.transpose(1, 2).reshape(batch, n, dim))
        return h + self.ff(self.norm2(h))


def symmetric_pair_logits(
    head: nn.Module, p: torch.Tensor, extra: torch.Tensor | None = None
) -> torch.Tensor:
    """``head`` applied to every slot pair's features, as a symmetric ``[B, N, N, Y]`` tensor.

    A pair ``i, j`` has the features ``[p_i + p_j (+ extra_ij), p_i * p_j]`` (``[2P]``), which
    are the same for ``j, i``; so ``head`` runs on the ``M = N (N - 1) / 2`` pairs ``i < j`` only
    and its output is mirrored: the same function as running it on all ``N * N`` pairs, in less
    than half the work (up to float rounding, as a matmul over fewer rows may round otherwise;
    the shipped models sample byte-identical files either way on the 2-core CPU). The diagonal
    is zero: callers pin or mask it.

    ``p`` is ``[B, N, P]``; ``extra``, the pairs' own features, is :func:`upper_pairs` of a
    symmetric ``[N, N, P]`` or ``[B, N, N, P]`` (``[M, P]`` or ``[B, M, P]``).

    Examples:
        >>> head = nn.Linear(8, 3)
        >>> logits = symmetric_pair_logits(head, torch.randn(2, 4, 4))
        >>> tuple(logits.shape), bool(torch.equal(logits, logits.transpose(1, 2)))
        ((2, 4, 4, 3), True)
    """
    batch, n, _ = p.shape
    i, j = torch.triu_indices(n, n, offset=1, device=p.device)  # [M] each
    p_i, p_j = p.index_select(1, i), p.index_select(1, j)  # [B, M, P]
    pair_sum = p_i + p_j if extra is None else p_i + p_j + extra
    upper = head(torch.cat([pair_sum, p_i * p_j], dim=-1))  # [B, M, 2P] -> [B, M, Y]
    logits = upper.new_zeros(batch, n, n, upper.shape[-1])
    logits[:, i, j] = upper
    logits[:, j, i] = upper
    return logits


def upper_pairs(x: torch.Tensor) -> torch.Tensor:
    """The entries ``i < j`` of pair features ``[..., N, N, F]``, as ``[..., M, F]`` in row order.

    Examples:
        >>> upper_pairs(torch.arange(9.0).view(3, 3, 1)).flatten().tolist()
        [1.0, 2.0, 5.0]
    """
    n = x.shape[-2]
    i, j = torch.triu_indices(n, n, offset=1, device=x.device)
    return x.flatten(-3, -2).index_select(-2, i * n + j)
