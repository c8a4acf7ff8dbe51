"""MolGAN's generator: a latent vector in, the logits of a whole dense molecular graph out.

An MLP (tanh) maps ``z [B, Z]`` to atom logits ``[B, N, T]`` and bond logits ``[B, N, N, Y]``
in one shot (De Cao & Kipf 2018, Sec. 3.1). The bond logits are symmetrised and their diagonal
is pinned to "no bond", so every graph sampled from them is undirected and free of self-loops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from molgan.graph import DenseGraph
from molgan.models.base import standard_normal
from molgan.models.layers import MLP, init_linear_
from molgan.vocab import Vocabulary

__all__ = ["Generator", "NO_BOND_LOGIT_GAP"]

# Diagonal bond logits are (0, -gap, ..., -gap): softmax gives "no bond" with probability
# 1 - (Y - 1) e^-gap, which is exactly 1 in float32, and no Gumbel draw (at most ~90 in float32)
# can flip it. Finite rather than -inf so softmax and its gradient never produce NaN; 1e4 also
# fits float16 (max 65504).
NO_BOND_LOGIT_GAP = 1e4


class Generator(nn.Module):
    """Map latent vectors to the logits of a dense molecular graph.

    Args:
        vocab: Gives ``N`` (``max_atoms``), ``T`` (atom classes) and ``Y`` (bond classes).
        z_dim: ``Z``, the latent size (MolGAN: 32).
        hidden: Hidden widths of the tanh MLP (MolGAN: 128, 256, 512).
        dropout: Dropout after each hidden layer (MolGAN: 0).

    Examples:
        >>> gen = Generator(Vocabulary.qm9(), z_dim=8, hidden=(16,))
        >>> logits = gen(gen.sample_z(2, torch.Generator().manual_seed(0)))
        >>> tuple(logits.atoms.shape), tuple(logits.bonds.shape)
        ((2, 9, 9), (2, 9, 9, 4))
    """

    def __init__(
        self,
        vocab: Vocabulary,
        z_dim: int = 32,
        hidden: Sequence[int] = (128, 256, 512),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.vocab, self.z_dim = vocab, z_dim
        n, t, y = vocab.max_atoms, vocab.n_atom_classes, vocab.n_bond_classes
        self.body = MLP((z_dim, *hidden), act=nn.Tanh, dropout=dropout)
        self.atom_head = nn.Linear(self.body.out_dim, n * t)
        self.bond_head = nn.Linear(self.body.out_dim, n * n * y)
        diagonal = torch.eye(n, dtype=torch.bool).unsqueeze(-1)  # [N, N, 1]
        diagonal_logits = torch.full((y,), -NO_BOND_LOGIT_GAP)  # [Y]
        diagonal_logits[0] = 0.0
        # Buffers follow .to(device); non-persistent, so checkpoints hold only learned weights.
        self.register_buffer("_diagonal", diagonal, persistent=False)
        self.register_buffer("_diagonal_logits", diagonal_logits, persistent=False)
        self.reset_parameters()

    @classmethod
    def from_config(cls, cfg: Any, vocab: Vocabulary) -> Generator:
        """Build from any object with attributes ``z_dim``, ``hidden`` and ``dropout``.

        Missing attributes take the constructor defaults (MolGAN's values), so a config that
        names only what it changes still works.
        """
        return cls(
            vocab,
            z_dim=getattr(cfg, "z_dim", 32),
            hidden=tuple(getattr(cfg, "hidden", (128, 256, 512))),
            dropout=getattr(cfg, "dropout", 0.0),
        )

    def reset_parameters(self) -> None:
        """Re-draw all weights (Glorot uniform, zero bias)."""
        self.body.reset_parameters()
        init_linear_(self.atom_head)
        init_linear_(self.bond_head)

    def forward(self, z: torch.Tensor) -> DenseGraph:
        """Generate graph logits.

        Args:
            z: Latent vectors ``[B, Z]``.

        Returns:
            Logits ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]``; ``bonds`` is symmetric in its
            two node dimensions and each diagonal entry strongly prefers class 0 (no bond).
        """
        batch = z.shape[0]
        n, t, y = self.vocab.max_atoms, self.vocab.n_atom_classes, self.vocab.n_bond_classes
        h = self.body(z)  # [B, H]
        atom_logits = self.atom_head(h).view(batch, n, t)  # [B, N, T]
        bond_logits = self.bond_head(h).view(batch, n, n, y)  # [B, N, N, Y]
        # (L + L^T) / 2, De Cao & Kipf 2018: an undirected graph needs one distribution per pair.
        bond_logits = (bond_logits + bond_logits.transpose(1, 2)) / 2
        # Pin the diagonal out of place (torch.where), so autograd sees no in-place write.
        bond_logits = torch.where(
            self._diagonal, self._diagonal_logits.to(bond_logits.dtype), bond_logits
        )
        return DenseGraph(atom_logits, bond_logits)

    def sample_z(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        scale: float = 1.0,
    ) -> torch.Tensor:
        """Draw latent vectors from the standard normal prior.

        Args:
            batch_size: ``B``.
            generator: Seeded source of randomness; draws happen on its device.
            device: Where the result goes; defaults to the device of the generator's weights.
            scale: Multiplies the draws (the truncation trick; training uses 1).

        Returns:
            ``z`` of shape ``[B, Z]``.
        """
        target = torch.device(device) if device is not None else self.atom_head.weight.device
        return standard_normal(batch_size, self.z_dim, generator, target, scale)

    def extra_repr(self) -> str:
        """Show the graph size in ``print(model)``."""
        v = self.vocab
        return f"z_dim={self.z_dim}, N={v.max_atoms}, T={v.n_atom_classes}, Y={v.n_bond_classes}"
