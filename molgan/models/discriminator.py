"""MolGAN's discriminator and reward network: a dense relational GCN that scores a whole graph.

Both read a :class:`~molgan.graph.DenseGraph` of per-class probabilities (one-hot for real
molecules, softmax or Gumbel-softmax samples for generated ones) and share one body (De Cao & Kipf
2018, Sec. 3.2-3.3): R-GCN layers (tanh) over the bond probabilities, MolGAN's gated sum
aggregation and a tanh MLP. The :class:`Discriminator` ends in a raw score, the
:class:`RewardNetwork` in a sigmoid. Node order does not matter (message passing plus a sum
readout), and padding atoms are masked out, so appending padding rows never changes a score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import torch
from torch import nn

from molgan.graph import DenseGraph
from molgan.models.layers import MLP, GraphAggregation, RelationalGraphConv, init_linear_
from molgan.vocab import Vocabulary

__all__ = ["Discriminator", "RewardNetwork"]

_Scorer = TypeVar("_Scorer", bound="_GraphScorer")

_STD_EPS = 1e-8  # Karras et al. 2018's epsilon under the minibatch standard deviation


class _GraphScorer(nn.Module):
    """The body shared by :class:`Discriminator` and :class:`RewardNetwork`, with a linear head.

    Layer ``l`` of the R-GCN reads its predecessor's output concatenated with the input atom
    features (``[h_{l-1}, x]``), and so does the aggregation: the "annotations" of MolGAN's
    reference code, which keep the atom types visible at every depth.
    """

    def __init__(
        self,
        vocab: Vocabulary,
        conv_dims: Sequence[int] = (128, 64),
        agg_dim: int = 128,
        mlp_dims: Sequence[int] = (128, 64),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.vocab = vocab
        t, n_relations = vocab.n_atom_classes, vocab.n_bond_classes - 1
        # Layer l reads [h_{l-1}, atoms]; the aggregation reads the last layer's [h, atoms].
        in_dims = [t] + [d + t for d in conv_dims]
        self.convs = nn.ModuleList(
            RelationalGraphConv(i, o, n_relations)
            for i, o in zip(in_dims[:-1], conv_dims, strict=True)
        )
        self.dropout = nn.Dropout(dropout)
        self.aggregation = GraphAggregation(in_dims[-1], agg_dim)
        self.mlp = MLP((agg_dim, *mlp_dims), act=nn.Tanh, dropout=dropout)
        self.head = nn.Linear(self.mlp.out_dim, 1)
        init_linear_(self.head)

    @classmethod
    def from_config(cls: type[_Scorer], cfg: Any, vocab: Vocabulary) -> _Scorer:
        """Build from any object with ``conv_dims``, ``agg_dim``, ``mlp_dims`` and ``dropout``.

        Missing attributes take the constructor defaults (MolGAN's reference units).
        """
        return cls(vocab, **cls._config_kwargs(cfg))

    @staticmethod
    def _config_kwargs(cfg: Any) -> dict[str, Any]:
        return {
            "conv_dims": tuple(getattr(cfg, "conv_dims", (128, 64))),
            "agg_dim": getattr(cfg, "agg_dim", 128),
            "mlp_dims": tuple(getattr(cfg, "mlp_dims", (128, 64))),
            "dropout": getattr(cfg, "dropout", 0.0),
        }

    def reset_parameters(self) -> None:
        """Re-draw all weights (Glorot uniform, zero bias)."""
        for conv in self.convs:
            conv.reset_parameters()
        self.aggregation.reset_parameters()
        self.mlp.reset_parameters()
        init_linear_(self.head)

    def embed(self, graph: DenseGraph) -> torch.Tensor:
        """The graph embedding before the head.

        Args:
            graph: ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]`` per-class probabilities.

        Returns:
            ``[B, mlp_dims[-1]]`` (or ``[B, agg_dim]`` without MLP layers).
        """
        atoms, bonds = graph
        mask = 1.0 - atoms[..., 0]  # [B, N], soft: 1 = atom, 0 = padding; keeps gradients
        # Drop the "no bond" channel and every edge touching padding: padding sends no messages.
        pair_mask = mask.unsqueeze(2) * mask.unsqueeze(1)  # [B, N, N]
        adjacency = bonds[..., 1:] * pair_mask.unsqueeze(-1)  # [B, N, N, Y - 1]
        h = atoms  # [B, N, T]
        for conv in self.convs:
            h = self.dropout(conv(h, adjacency))  # [B, N, conv_dim]
            h = torch.cat((h, atoms), dim=-1)  # [B, N, conv_dim + T]
        pooled = self.dropout(self.aggregation(h, mask))  # [B, agg_dim]
        return self.mlp(pooled)

    def forward(self, graph: DenseGraph) -> torch.Tensor:
        """Score graphs: ``[B, 1]`` raw (unbounded) scores."""
        return self.head(self.embed(graph))


class Discriminator(_GraphScorer):
    """Score graphs with an unbounded real number: a WGAN critic or the logit of P(real).

    Args:
        vocab: Gives ``T`` (atom classes) and ``Y`` (bond classes); ``N`` is free, so the same
            weights score graphs of any size.
        conv_dims: Widths of the R-GCN layers (MolGAN: 128, 64).
        agg_dim: Width of the gated aggregation (MolGAN: 128).
        mlp_dims: Widths of the tanh MLP before the linear head (MolGAN: 128, 64).
        dropout: Dropout after every R-GCN layer, the aggregation and every MLP layer.
        minibatch_std: Append the batch's mean standard deviation of the graph embeddings to
            every embedding before the head (Karras et al. 2018, "Progressive growing of GANs"),
            so the critic can see a batch of near-identical graphs and the generator is pushed
            away from mode collapse. Off in MolGAN.

    Examples:
        >>> from molgan.graph import MolGraph
        >>> vocab = Vocabulary.qm9()
        >>> empty = MolGraph(torch.zeros(2, 9).long(), torch.zeros(2, 9, 9).long())
        >>> Discriminator(vocab)(empty.one_hot(vocab)).shape
        torch.Size([2, 1])
    """

    def __init__(
        self,
        vocab: Vocabulary,
        conv_dims: Sequence[int] = (128, 64),
        agg_dim: int = 128,
        mlp_dims: Sequence[int] = (128, 64),
        dropout: float = 0.0,
        minibatch_std: bool = False,
    ) -> None:
        super().__init__(vocab, conv_dims, agg_dim, mlp_dims, dropout)
        self.minibatch_std = minibatch_std
        if minibatch_std:
            self.head = nn.Linear(self.mlp.out_dim + 1, 1)
            init_linear_(self.head)

    @staticmethod
    def _config_kwargs(cfg: Any) -> dict[str, Any]:
        kwargs = _GraphScorer._config_kwargs(cfg)
        kwargs["minibatch_std"] = getattr(cfg, "minibatch_std", False)
        return kwargs

    def forward(self, graph: DenseGraph) -> torch.Tensor:
        """Score graphs.

        Args:
            graph: ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]`` per-class probabilities.

        Returns:
            Raw scores ``[B, 1]``, no activation: feed them to a WGAN loss, or treat them as
            logits in the minimax and non-saturating losses.
        """
        h = self.embed(graph)  # [B, F]
        if self.minibatch_std:
            # sqrt(var + eps) as Karras et al.: a feature constant over the batch (a saturated
            # tanh) would otherwise give sqrt'(0) = inf, and NaN in the gradient penalty.
            variance = h.var(dim=0, unbiased=False)  # [F]
            spread = (variance + _STD_EPS).sqrt().mean().expand(h.shape[0], 1)  # [B, 1]
            h = torch.cat((h, spread), dim=-1)
        return self.head(h)


class RewardNetwork(_GraphScorer):
    """Predict a molecule's reward in ``(0, 1)`` from its graph (MolGAN's differentiable reward).

    It is fit by MSE to RDKit rewards of real and generated molecules, and the generator climbs
    its prediction; the body is the :class:`Discriminator`'s with separate weights.

    Args:
        vocab: Gives ``T`` (atom classes) and ``Y`` (bond classes).
        conv_dims: Widths of the R-GCN layers (MolGAN: 128, 64).
        agg_dim: Width of the gated aggregation (MolGAN: 128).
        mlp_dims: Widths of the tanh MLP before the head (MolGAN: 128, 64).
        dropout: Dropout after every R-GCN layer, the aggregation and every MLP layer.
    """

    def forward(self, graph: DenseGraph) -> torch.Tensor:
        """Predict rewards.

        Args:
            graph: ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]`` per-class probabilities.

        Returns:
            Predicted rewards ``[B, 1]`` in ``(0, 1)``.
        """
        return torch.sigmoid(super().forward(graph))
