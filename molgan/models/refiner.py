"""A second pass over a decoded graph: the refiner reads the decoder's choices and corrects them.

A one-shot decoder picks every bond independently given its slot states, so two bonds that are
each likely can together exceed an atom's valence: in one pass the decoder never sees its own
choices. The refiner reads them. Its input is the decoder's argmax graph (atom and bond classes),
their probabilities, each atom's used valence (the sum of its bond orders, one of the structural
features DiGress feeds its denoiser; Vignac et al., ICLR 2023), optionally which atoms lie in
one piece (another of them: connected components), and the code; a graph transformer
(bond classes and probabilities as per-head attention biases) turns them into corrections that
are added to the decoder's logits. Its output layers start at zero, so an untrained refiner
changes nothing. The refiner is part of the model: no rule of chemistry acts at sampling time,
and its output is decoded by the same plain argmax as the decoder's.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from molgan.graph import DenseGraph, same_piece
from molgan.models.layers import TransformerBlock, symmetric_pair_logits, upper_pairs
from molgan.sampling import logits_to_graph
from molgan.vocab import Vocabulary

__all__ = ["GraphRefiner"]

_USED_VALENCE_CLASSES = 9  # one-hot of an atom's summed bond orders, 0 to 8 (clamped)


class GraphRefiner(nn.Module):
    """Corrections to decoder logits, given the graph they decode to and its code.

    Args:
        vocab: Gives ``N``, ``T``, ``Y`` and the bond orders.
        latent_dim: ``Z``, the code size.
        dim: Transformer width.
        layers: Transformer layers.
        heads: Attention heads.
        passes: How many times :meth:`forward` applies the network, each pass reading the argmax
            graph of the one before.
        slot_init: Standard deviation of the slot embeddings at initialisation.
        pieces: Also read, for every pair of atoms, whether the argmax graph joins them (so that
            it can see a molecule in pieces, which a few layers of attention cannot trace).

    Examples:
        >>> vocab = Vocabulary.qm9()
        >>> refiner = GraphRefiner(vocab, latent_dim=8, dim=16, layers=1, heads=2)
        >>> logits = DenseGraph(torch.randn(2, 9, 9), torch.randn(2, 9, 9, 4))
        >>> logits = DenseGraph(logits.atoms, logits.bonds + logits.bonds.transpose(1, 2))
        >>> refined = refiner(logits, torch.zeros(2, 8))
        >>> torch.equal(refined.atoms, logits.atoms), torch.equal(refined.bonds, logits.bonds)
        (True, True)
    """

    def __init__(
        self,
        vocab: Vocabulary,
        latent_dim: int = 128,
        dim: int = 128,
        layers: int = 2,
        heads: int = 4,
        passes: int = 1,
        slot_init: float = 0.02,
        pieces: bool = False,
    ) -> None:
        super().__init__()
        self.passes, self.pieces = passes, pieces
        t, y, n = vocab.n_atom_classes, vocab.n_bond_classes, vocab.max_atoms
        self.register_buffer("_orders", torch.tensor(vocab.bond_orders), persistent=False)
        self.atom_input = nn.Linear(2 * t + _USED_VALENCE_CLASSES, dim)
        self.code = nn.Linear(latent_dim, dim)
        self.slot_embedding = nn.Parameter(torch.randn(n, dim) * slot_init)  # [N, D]
        pair_inputs = 2 * y + int(pieces)
        self.bond_bias = nn.Linear(pair_inputs, heads)
        self.layers = nn.ModuleList(TransformerBlock(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        pair_dim = dim // 2
        self.pair_projection = nn.Linear(dim, pair_dim)
        self.pair_input = nn.Linear(pair_inputs, pair_dim)
        self.atom_head = nn.Linear(dim, t)
        self.bond_head = nn.Sequential(
            nn.Linear(2 * pair_dim, pair_dim), nn.GELU(), nn.Linear(pair_dim, y)
        )
        for head in (self.atom_head, self.bond_head[-1]):  # start as the identity
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    @classmethod
    def from_config(cls, cfg: Any, vocab: Vocabulary) -> GraphRefiner:
        """Build from a ``[model]`` config of ``kind = "latent"`` (``refiner_layers`` > 0)."""
        return cls(
            vocab,
            cfg.latent_dim,
            cfg.ae_dim,
            cfg.refiner_layers,
            cfg.ae_heads,
            cfg.refiner_passes,
            cfg.ae_slot_init,
            cfg.refiner_pieces,
        )

    def forward(self, logits: DenseGraph, codes: torch.Tensor) -> DenseGraph:
        """Refined logits of ``logits`` (``atoms [B, N, T]``, symmetric ``bonds [B, N, N, Y]``).

        ``codes [B, Z]`` are the codes they were decoded from. The refined bonds stay symmetric
        and their diagonal is the decoder's. Each of :attr:`passes` refines the last one's output.
        """
        return self.every_pass(logits, codes)[-1]

    def every_pass(
        self, logits: DenseGraph, codes: torch.Tensor, warm: int = 0
    ) -> list[DenseGraph]:
        """The output of each of :attr:`passes`, in order (the last is :meth:`forward`'s).

        ``warm`` more passes run first, without gradient, and are not returned: in training they
        put the refiner where sampling with more passes than :attr:`passes` takes it.
        """
        if warm:
            with torch.no_grad():
                for _ in range(warm):
                    logits = self.refine_once(logits, codes)
        outputs = []
        for _ in range(self.passes):
            logits = self.refine_once(logits, codes)
            outputs.append(logits)
        return outputs

    def refine_once(self, logits: DenseGraph, codes: torch.Tensor) -> DenseGraph:
        """One pass: corrections to ``logits`` given their argmax graph and ``codes``."""
        graph = logits_to_graph(logits)  # atoms [B, N], bonds [B, N, N]
        t, y = logits.atoms.shape[-1], logits.bonds.shape[-1]
        dtype = logits.atoms.dtype
        used = self._orders[graph.bonds].sum(-1).round().long()  # [B, N]
        used = used.clamp(0, _USED_VALENCE_CLASSES - 1)
        nodes = torch.cat(
            [
                F.one_hot(graph.atoms, t).to(dtype),
                logits.atoms.softmax(-1),
                F.one_hot(used, _USED_VALENCE_CLASSES).to(dtype),
            ],
            dim=-1,
        )  # [B, N, 2T + 9]
        features = [F.one_hot(graph.bonds, y).to(dtype), logits.bonds.softmax(-1)]
        if self.pieces:
            features.append(same_piece(graph).unsqueeze(-1).to(dtype))
        pairs = torch.cat(features, dim=-1)  # [B, N, N, 2Y (+ 1)], symmetric
        h = self.atom_input(nodes) + self.code(codes).unsqueeze(1) + self.slot_embedding
        bias = self.bond_bias(pairs).permute(0, 3, 1, 2)  # [B, H, N, N]
        for layer in self.layers:
            h = layer(h, bias)
        h = self.norm(h)
        projected, extra = self.pair_projection(h), self.pair_input(upper_pairs(pairs))
        bond_delta = symmetric_pair_logits(self.bond_head, projected, extra)  # zero diagonal
        return DenseGraph(logits.atoms + self.atom_head(h), logits.bonds + bond_delta)
