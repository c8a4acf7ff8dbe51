"""A graph autoencoder over a canonical atom order, and the latent generator built on its decoder.

The :class:`GraphEncoder` reads a :class:`~molgan.graph.DenseGraph` (atoms as tokens of a
transformer, bond classes as per-head attention biases) and pools it into a code ``z``. The
:class:`GraphDecoder` is one-shot: ``z`` plus a learned embedding per atom slot gives one state per
slot, transformer layers mix them, and heads emit atom logits ``[B, N, T]`` and symmetric bond
logits ``[B, N, N, Y]`` (from the pair features ``p_i + p_j`` and ``p_i * p_j`` of projected
states), the same tensors
as MolGAN's generator. Slot ``i`` is atom ``i`` of the canonical order (``molgan.order``), so
reconstruction is a plain cross-entropy, without graph matching.

Codes are layer-normalised (zero mean, unit variance over their ``Z`` entries): every code lies
on one shell, so the training noise has a fixed scale relative to the codes, and the latent
generator's output, normalised the same way, can never leave that shell. This is how the latent
GAN (Prykhodko et al., J. Cheminform. 11:74, 2019, with a graph decoder in place of their SMILES
decoder) keeps its samples near the codes the decoder was trained on. A variational encoder
(``variational=True``; Kingma & Welling 2014) instead gives each graph a Gaussian posterior, whose
mean is the code; its codes are not normalised, and a KL term (:func:`kl_divergence`) packs them
around the origin.

:class:`LatentGenerator` is ``decoder(G(noise))``, optionally followed by a refiner
(:mod:`molgan.models.refiner`) that corrects the decoder's output. It has MolGAN's generator
interface (``sample_z``, ``forward(noise) -> DenseGraph``), so sampling, the graph critic, the
structure penalty and REINFORCE work on it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from molgan.conditions import ConditionError, condition_sizes
from molgan.graph import DenseGraph, MolGraph
from molgan.models.base import standard_normal
from molgan.models.conditioning import ConditionPrior
from molgan.models.generator import NO_BOND_LOGIT_GAP
from molgan.models.layers import (
    MLP,
    TransformerBlock,
    init_linear_,
    symmetric_pair_logits,
    upper_pairs,
)
from molgan.models.refiner import GraphRefiner
from molgan.sampling import ValenceMask
from molgan.vocab import Vocabulary

__all__ = [
    "GraphEncoder",
    "GraphDecoder",
    "LatentGenerator",
    "LatentCritic",
    "fit_code_gaussian",
    "kl_divergence",
    "normalize_codes",
    "place_codes",
    "reconstruction_loss",
    "edit_weights",
    "valence_target_loss",
    "valence_target",
]


def normalize_codes(h: torch.Tensor) -> torch.Tensor:
    """Put codes ``[B, Z]`` on the shell of zero mean and unit variance over ``Z``.

    Examples:
        >>> codes = normalize_codes(torch.tensor([[1.0, 3.0]]))
        >>> [round(v, 3) for v in codes[0].tolist()]
        [-1.0, 1.0]
    """
    return F.layer_norm(h, h.shape[-1:])


def place_codes(h: torch.Tensor, variational: bool) -> torch.Tensor:
    """Vectors ``[B, Z]`` put into a code space (encoder and G outputs, interpolants, draws).

    On the shell of :func:`normalize_codes`, or as they are for a variational encoder's codes.

    Examples:
        >>> h = torch.tensor([[1.0, 3.0]])
        >>> place_codes(h, variational=True) is h
        True
        >>> [round(v, 3) for v in place_codes(h, variational=False)[0].tolist()]
        [-1.0, 1.0]
    """
    return h if variational else normalize_codes(h)


def kl_divergence(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, exp(log_var)) || N(0, I))``, summed over a code ``[B, Z]``, averaged over ``B``.

    Examples:
        >>> kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3)).item()
        0.0
        >>> kl_divergence(torch.ones(1, 2), torch.zeros(1, 2)).item()  # 2 x 1 / 2
        1.0
    """
    return 0.5 * (mean.square() + log_var.exp() - 1.0 - log_var).sum(-1).mean()


def fit_code_gaussian(codes: torch.Tensor) -> torch.distributions.MultivariateNormal:
    """A Gaussian with the mean and full covariance of codes ``[M, Z]`` (ridge 1e-5).

    The autoencoder's simplest prior: its draws, put into the code space with
    :meth:`GraphEncoder.place`, reach the space between training codes.

    Examples:
        >>> codes = torch.tensor([[0.0, 1.0], [2.0, 1.0], [1.0, 4.0]])
        >>> prior = fit_code_gaussian(codes)
        >>> prior.mean.tolist(), [round(v, 3) for v in prior.covariance_matrix.flatten().tolist()]
        ([1.0, 2.0], [1.0, 0.0, 0.0, 3.0])
    """
    ridge = 1e-5 * torch.eye(codes.shape[1], dtype=codes.dtype, device=codes.device)
    return torch.distributions.MultivariateNormal(
        codes.mean(0), covariance_matrix=torch.cov(codes.T) + ridge
    )


def reconstruction_loss(
    logits: DenseGraph,
    target: DenseGraph,
    bond_weight: float = 1.0,
    weights: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Mean cross-entropy of every atom slot plus that of every atom pair (``i < j``).

    Args:
        logits: Decoder output, ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]``.
        target: One-hot graphs of the same shapes.
        bond_weight: Weight of the bonds' term.
        weights: Optional per-entry weights, ``atoms [B, N]`` and ``bonds [B, N, N]`` (e.g.
            :func:`edit_weights`); each term is then their weighted mean.

    Returns:
        The scalar ``CE(atoms) + bond_weight * CE(bonds)``, each averaged over its slots.

    Examples:
        >>> atoms = torch.tensor([[[0.0, 9.0], [9.0, 0.0]]])
        >>> bonds = torch.zeros(1, 2, 2, 2)
        >>> target = DenseGraph(torch.tensor([[[0.0, 1.0], [1.0, 0.0]]]), torch.zeros(1, 2, 2, 2))
        >>> target.bonds[..., 0] = 1.0
        >>> round(reconstruction_loss(DenseGraph(atoms, bonds), target).item(), 3)  # ln 2 + ~0
        0.693
    """
    reduction = "mean" if weights is None else "none"
    atom_loss = F.cross_entropy(
        logits.atoms.flatten(0, 1), target.atoms.argmax(-1).flatten(), reduction=reduction
    )
    bond_logits = upper_pairs(logits.bonds)  # [B, P, Y]
    bond_ids = upper_pairs(target.bonds).argmax(-1)  # [B, P]
    bond_loss = F.cross_entropy(bond_logits.flatten(0, 1), bond_ids.flatten(), reduction=reduction)
    if weights is not None:
        atom_w, bond_w = weights[0].flatten(), upper_pairs(weights[1].unsqueeze(-1)).flatten()
        atom_loss = (atom_loss * atom_w).sum() / atom_w.sum()
        bond_loss = (bond_loss * bond_w).sum() / bond_w.sum()
    return atom_loss + bond_weight * bond_loss


def edit_weights(
    source: DenseGraph, target: DenseGraph, weight: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-entry loss weights: ``weight`` where ``target``'s class differs from ``source``'s.

    A refiner's target differs from the graph it repairs in a few entries per graph (the bonds
    a valence repair lowers, an atom it changes); in a plain mean over all ``N^2 / 2`` pairs
    those few edits weigh almost nothing. Weighting them up focuses the loss on the repairs.

    Returns:
        ``atoms [B, N]`` and ``bonds [B, N, N]`` weights (1 elsewhere), for
        :func:`reconstruction_loss`'s ``weights``.

    Examples:
        >>> eye = torch.eye(2)
        >>> src = DenseGraph(eye[torch.tensor([[0, 1]])], eye[torch.tensor([[[0, 1], [1, 0]]])])
        >>> tgt = DenseGraph(eye[torch.tensor([[0, 0]])], src.bonds)  # atom 1 changes class
        >>> [w.tolist() for w in edit_weights(src, tgt, 5.0)]
        [[[1.0, 5.0]], [[[1.0, 1.0], [1.0, 1.0]]]]
    """
    with torch.no_grad():
        atoms = source.atoms.argmax(-1) != target.atoms.argmax(-1)  # [B, N]
        bonds = source.bonds.argmax(-1) != target.bonds.argmax(-1)  # [B, N, N]
        return 1.0 + (weight - 1.0) * atoms.float(), 1.0 + (weight - 1.0) * bonds.float()


def valence_target_loss(
    logits: DenseGraph, mask: ValenceMask, source: DenseGraph | None = None
) -> torch.Tensor:
    """:func:`reconstruction_loss` of decoder logits to a decode through a valence mask.

    The target is the graph ``source`` (default: the logits themselves) decodes to with every
    bond the likeliest class both atoms' valence allows (:class:`~molgan.sampling.ValenceMask`),
    so the loss pulls an over-valence bond towards the mask's smallest repair, and otherwise only
    sharpens the decoder's own choices. A refiner takes the decoder's logits as ``source``: a
    target of its own output would let it stay within valence by other means (measured: it did,
    and lost validity to fragments), while the decoder's repair is fixed.

    Examples:
        >>> from molgan.vocab import Vocabulary
        >>> atoms = torch.full((1, 2, 9), -9.0)
        >>> atoms[..., 6] = 9.0  # two O atoms
        >>> bonds = torch.zeros(1, 2, 2, 4)
        >>> bonds[..., 3], bonds[..., 2] = 2.0, 1.0  # O#O on top, O=O next
        >>> bonds = bonds.requires_grad_()
        >>> valence_target_loss(DenseGraph(atoms, bonds), ValenceMask(Vocabulary.qm9())).backward()
        >>> bonds.grad[0, 0, 1, 3] > 0, bonds.grad[0, 0, 1, 2] < 0  # triple down, double up
        (tensor(True), tensor(True))
    """
    return reconstruction_loss(logits, valence_target(logits if source is None else source, mask))


def valence_target(
    logits: DenseGraph,
    mask: ValenceMask,
    complete: Callable[[MolGraph], MolGraph] | None = None,
) -> DenseGraph:
    """The one-hot graph ``logits`` decode to through ``mask`` (no gradient).

    A fixed target: several outputs (a refiner's passes) can be judged against one decode.
    ``complete`` rewrites the decoded class ids before they become the target (the refiner's
    aromatic completion, :func:`molgan.aromatic.aromatize_graphs`).
    """
    with torch.no_grad():
        target = mask.decode(logits)
        if complete is not None:
            target = complete(target)
    return DenseGraph(
        F.one_hot(target.atoms, logits.atoms.shape[-1]).to(logits.atoms.dtype),
        F.one_hot(target.bonds, logits.bonds.shape[-1]).to(logits.bonds.dtype),
    )


def _shared_options(cfg: Any) -> dict[str, Any]:
    """The options of a ``[model]`` config that the encoder and the decoder share."""
    return {
        "latent_dim": cfg.latent_dim,
        "dim": cfg.ae_dim,
        "layers": cfg.ae_layers,
        "heads": cfg.ae_heads,
        "slot_init": cfg.ae_slot_init,
    }


class GraphEncoder(nn.Module):
    """A graph transformer from a dense graph to its code ``z``.

    Args:
        vocab: Gives ``N``, ``T`` and ``Y``.
        latent_dim: ``Z``.
        dim: Transformer width.
        layers: Transformer layers.
        heads: Attention heads; each has its own bias per bond class.
        slot_init: Standard deviation of the slot embeddings at initialisation.
        variational: Give a Gaussian posterior per graph (:meth:`posterior`) whose mean is the
            code, instead of a code on the shell of :func:`normalize_codes`.

    Examples:
        >>> enc = GraphEncoder(Vocabulary.qm9(), latent_dim=8, dim=16, layers=1, heads=2)
        >>> graph = DenseGraph(torch.zeros(3, 9, 9), torch.zeros(3, 9, 9, 4))
        >>> enc(graph).shape
        torch.Size([3, 8])
    """

    def __init__(
        self,
        vocab: Vocabulary,
        latent_dim: int = 128,
        dim: int = 128,
        layers: int = 3,
        heads: int = 4,
        slot_init: float = 0.02,
        variational: bool = False,
    ) -> None:
        super().__init__()
        self.vocab, self.heads, self.variational = vocab, heads, variational
        n = vocab.max_atoms
        self.atom_embedding = nn.Linear(vocab.n_atom_classes, dim, bias=False)
        self.slot_embedding = nn.Parameter(torch.randn(n, dim) * slot_init)  # [N, D]
        self.bond_bias = nn.Linear(vocab.n_bond_classes, heads, bias=False)
        self.layers = nn.ModuleList(TransformerBlock(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(2 * dim, latent_dim * (2 if variational else 1))

    @classmethod
    def from_config(cls, cfg: Any, vocab: Vocabulary) -> GraphEncoder:
        """Build from a ``[model]`` config of ``kind = "latent"``."""
        return cls(vocab, variational=cfg.variational, **_shared_options(cfg))

    def forward(self, graph: DenseGraph) -> torch.Tensor:
        """Encode ``atoms [B, N, T]``, ``bonds [B, N, N, Y]`` (one-hot or soft) as ``z [B, Z]``."""
        return self.posterior(graph)[0]

    def posterior(self, graph: DenseGraph) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The code ``[B, Z]`` and, when variational, its posterior's log-variance ``[B, Z]``."""
        h = self.atom_embedding(graph.atoms) + self.slot_embedding  # [B, N, D]
        bias = self.bond_bias(graph.bonds).permute(0, 3, 1, 2)  # [B, H, N, N]
        for layer in self.layers:
            h = layer(h, bias)
        h = self.norm(h)
        pooled = torch.cat([h.mean(1), h.amax(1)], dim=-1)  # [B, 2D]
        out = self.head(pooled)
        if not self.variational:
            return self.place(out), None
        mean, log_var = out.chunk(2, dim=-1)
        return mean, log_var.clamp(-12.0, 4.0)  # keeps exp() finite early in training

    def place(self, h: torch.Tensor) -> torch.Tensor:
        """Put vectors ``[B, Z]`` (interpolants, prior draws) into this encoder's code space.

        On the shell of :func:`normalize_codes`, or unchanged for a variational encoder.
        """
        return place_codes(h, self.variational)


class GraphDecoder(nn.Module):
    """A one-shot decoder from a code ``z`` to the logits of a dense graph.

    Args:
        vocab: Gives ``N``, ``T`` and ``Y``.
        latent_dim: ``Z``.
        dim: Transformer width.
        layers: Transformer layers.
        heads: Attention heads.
        pair_positions: Add a learned, symmetric feature per slot pair ``(i, j)`` to the pair
            features of the bond head.
        slot_init: Standard deviation of the slot embeddings at initialisation.

    Examples:
        >>> dec = GraphDecoder(Vocabulary.qm9(), latent_dim=8, dim=16, layers=1, heads=2)
        >>> logits = dec(torch.zeros(2, 8))
        >>> tuple(logits.atoms.shape), bool((logits.bonds == logits.bonds.transpose(1, 2)).all())
        ((2, 9, 9), True)
    """

    def __init__(
        self,
        vocab: Vocabulary,
        latent_dim: int = 128,
        dim: int = 128,
        layers: int = 3,
        heads: int = 4,
        pair_positions: bool = False,
        slot_init: float = 0.02,
    ) -> None:
        super().__init__()
        self.vocab = vocab
        n, y = vocab.max_atoms, vocab.n_bond_classes
        self.code = nn.Linear(latent_dim, dim)
        self.slot_embedding = nn.Parameter(torch.randn(n, dim) * slot_init)  # [N, D]
        self.layers = nn.ModuleList(TransformerBlock(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.atom_head = nn.Linear(dim, vocab.n_atom_classes)
        pair_dim = dim // 2
        self.pair_projection = nn.Linear(dim, pair_dim)
        # [N, N, P]; symmetrised in forward. Absent (not zero) when off, so older checkpoints load.
        self.pair_position = nn.Parameter(torch.zeros(n, n, pair_dim)) if pair_positions else None
        self.bond_head = nn.Sequential(
            nn.Linear(2 * pair_dim, pair_dim), nn.GELU(), nn.Linear(pair_dim, y)
        )
        diagonal_logits = torch.full((y,), -NO_BOND_LOGIT_GAP)  # [Y]
        diagonal_logits[0] = 0.0
        self.register_buffer("_diagonal", torch.eye(n, dtype=torch.bool)[..., None], False)
        self.register_buffer("_diagonal_logits", diagonal_logits, persistent=False)

    @classmethod
    def from_config(cls, cfg: Any, vocab: Vocabulary) -> GraphDecoder:
        """Build from a ``[model]`` config of ``kind = "latent"``."""
        return cls(vocab, pair_positions=cfg.ae_pair_positions, **_shared_options(cfg))

    def forward(self, z: torch.Tensor) -> DenseGraph:
        """Decode codes ``[B, Z]`` into logits ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]``.

        ``bonds`` is symmetric by construction and its diagonal is pinned to "no bond".
        """
        h = self.code(z).unsqueeze(1) + self.slot_embedding  # [B, N, D]
        for layer in self.layers:
            h = layer(h)
        h = self.norm(h)
        atom_logits = self.atom_head(h)  # [B, N, T]
        position = None
        if self.pair_position is not None:  # [N, N, P], symmetrised, then its pairs i < j
            position = upper_pairs((self.pair_position + self.pair_position.transpose(0, 1)) / 2)
        bond_logits = symmetric_pair_logits(self.bond_head, self.pair_projection(h), position)
        bond_logits = torch.where(
            self._diagonal, self._diagonal_logits.to(bond_logits.dtype), bond_logits
        )
        return DenseGraph(atom_logits, bond_logits)


class LatentGenerator(nn.Module):
    """``decoder(G(noise))``: a generator of graph logits through the autoencoder's code space.

    ``G`` is an MLP (LeakyReLU 0.2, as in LatentGAN) whose output is normalised like the
    encoder's codes (not at all for a variational encoder's). The interface is MolGAN's
    :class:`~molgan.models.Generator`'s. With conditions (:mod:`molgan.conditions`), its input is
    the noise followed by the one-hot classes of the conditions, which :meth:`sample_z` draws from
    the data's mix (:attr:`prior`).

    Args:
        vocab: The graph vocabulary.
        decoder: The autoencoder's decoder.
        z_dim: Noise size.
        hidden: Widths of ``G``'s MLP.
        latent_dim: ``Z``, the code size of ``decoder``.
        conditions: Names of the conditions G takes (none: unconditional).
        variational: The codes come from a variational encoder (G's output is not normalised).
        refiner: A second pass over the decoder's logits (:class:`~molgan.models.GraphRefiner`);
            ``None``: the decoder's logits are the output.

    Examples:
        >>> vocab = Vocabulary.qm9()
        >>> dec = GraphDecoder(vocab, latent_dim=8, dim=16, layers=1, heads=2)
        >>> gen = LatentGenerator(vocab, dec, z_dim=4, hidden=(16,), latent_dim=8)
        >>> gen(gen.sample_z(2, torch.Generator().manual_seed(0))).bonds.shape
        torch.Size([2, 9, 9, 4])
        >>> gen = LatentGenerator(vocab, dec, 4, (16,), 8, conditions=["triple_bond"])
        >>> gen.sample_z(3, torch.Generator().manual_seed(0), condition={"triple_bond": 1})[:, 4:]
        tensor([[0., 1.],
                [0., 1.],
                [0., 1.]])
    """

    def __init__(
        self,
        vocab: Vocabulary,
        decoder: GraphDecoder,
        z_dim: int = 64,
        hidden: Sequence[int] = (256, 512, 512),
        latent_dim: int = 128,
        conditions: Sequence[str] = (),
        variational: bool = False,
        refiner: GraphRefiner | None = None,
    ) -> None:
        super().__init__()
        self.vocab, self.z_dim, self.variational = vocab, z_dim, variational
        # Absent (not empty) without conditions, so that unconditional checkpoints load as before.
        self.prior = (
            ConditionPrior(conditions, condition_sizes(conditions, vocab)) if conditions else None
        )
        self.condition_dim = self.prior.dim if self.prior is not None else 0
        self.noise_map = nn.Sequential(
            MLP((z_dim + self.condition_dim, *hidden), act=lambda: nn.LeakyReLU(0.2)),
            nn.Linear(hidden[-1], latent_dim),
        )
        init_linear_(self.noise_map[-1])
        self.decoder = decoder
        self.refiner = refiner  # absent from the weights when None, so older checkpoints load

    @classmethod
    def from_config(cls, cfg: Any, vocab: Vocabulary) -> LatentGenerator:
        """Build G, a fresh decoder and any refiner from a ``[model]`` config (``"latent"``)."""
        decoder = GraphDecoder.from_config(cfg, vocab)
        refiner = GraphRefiner.from_config(cfg, vocab) if cfg.refiner_layers else None
        return cls(
            vocab,
            decoder,
            cfg.z_dim,
            tuple(cfg.hidden),
            cfg.latent_dim,
            tuple(cfg.conditions),
            cfg.variational,
            refiner,
        )

    def codes(self, noise: torch.Tensor) -> torch.Tensor:
        """Noise ``[B, z_dim (+ conditions)]`` to codes ``[B, Z]``, unnormalised if variational."""
        return place_codes(self.noise_map(noise), self.variational)

    def conditions_of(self, noise: torch.Tensor) -> torch.Tensor:
        """The one-hot conditions ``[B, C]`` at the end of noise (``[B, 0]`` when unconditional)."""
        return noise[:, self.z_dim :]

    def forward(self, noise: torch.Tensor) -> DenseGraph:
        """Graph logits ``atoms [B, N, T]``, ``bonds [B, N, N, Y]`` of noise ``[B, z_dim]``."""
        return self.decode(self.codes(noise))

    def decode(self, codes: torch.Tensor) -> DenseGraph:
        """Graph logits of codes ``[B, Z]``: the decoder's, refined when there is a refiner."""
        logits = self.decoder(codes)
        return logits if self.refiner is None else self.refiner(logits, codes)

    def sample_z(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        scale: float = 1.0,
        condition: Mapping[str, int] | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Draw noise ``[B, z_dim]`` from the standard normal prior (on ``generator``'s device).

        ``scale`` multiplies the noise (not the conditions). With conditions, their one-hots
        follow: ``condition`` gives them as a tensor ``[B, C]``, fixes some classes as
        ``{name: class index}`` and draws the rest from the data given them, or (``None``) draws
        all of them from the data's mix.
        """
        target = torch.device(device) if device is not None else self.decoder.code.weight.device
        noise = standard_normal(batch_size, self.z_dim, generator, target, scale)
        if self.prior is None:
            if condition is not None:
                raise ConditionError("this model was trained without conditions")
            return noise
        if not isinstance(condition, torch.Tensor):
            condition = self.prior.draw(batch_size, generator, condition)
        return torch.cat([noise, condition.to(target)], dim=1)


class LatentCritic(nn.Module):
    """The latent GAN's critic: an MLP (LeakyReLU 0.2) from codes ``[B, Z]`` to scores ``[B, 1]``.

    Examples:
        >>> LatentCritic(8, (16,))(torch.zeros(3, 8)).shape
        torch.Size([3, 1])
    """

    def __init__(self, latent_dim: int = 128, hidden: Sequence[int] = (512, 256)) -> None:
        super().__init__()
        self.body = MLP((latent_dim, *hidden), act=lambda: nn.LeakyReLU(0.2))
        self.head = init_linear_(nn.Linear(self.body.out_dim, 1))

    @classmethod
    def for_generator(cls, cfg: Any, generator: LatentGenerator) -> LatentCritic:
        """The critic of ``generator``'s codes, then its one-hot conditions (``[model]`` widths)."""
        return cls(cfg.latent_dim + generator.condition_dim, cfg.critic_hidden)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """Score codes ``[B, Z]`` as ``[B, 1]``."""
        return self.head(self.body(codes))
