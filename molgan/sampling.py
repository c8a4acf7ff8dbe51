"""Turn generator logits into graphs: differentiable samples for training, class ids for decoding.

Three views of the same :class:`~molgan.graph.DenseGraph` of logits: Gumbel-softmax samples
(:func:`sample_dense_graph`, soft or straight-through hard; Jang et al. 2017, Maddison et al.
2017), plain probabilities (:func:`softmax_graph`), and integer class ids
(:func:`logits_to_graph`, argmax or a categorical draw) that :func:`molgan.graph.graphs_to_mol`
decodes. :class:`ValenceMask` decodes class ids that never exceed a valence (a correction,
reported apart from strict numbers). Every bond output is symmetric with an empty diagonal: only
the upper triangle (``i < j``) is drawn and it is mirrored, so a pair of atoms never gets two
different bonds.
Randomness comes from an optional seeded ``torch.Generator``; nothing here syncs with the host.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping

import torch
from rdkit import Chem

from molgan.graph import DenseGraph, MolGraph, same_piece
from molgan.vocab import Vocabulary

__all__ = [
    "gumbel_softmax",
    "sample_dense_graph",
    "softmax_graph",
    "graph_log_prob",
    "logits_to_graph",
    "ValenceMask",
    "generate_graphs",
    "draw_noise",
    "forward_batch",
    "CPU_FORWARD_PAIRS",
]


def gumbel_softmax(
    logits: torch.Tensor,
    tau: float = 1.0,
    hard: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw a relaxed one-hot sample from the categorical distribution over the last dimension.

    ``y = softmax((logits + g) / tau)`` with ``g ~ Gumbel(0, 1)`` (Jang et al. 2017). With
    ``hard=True`` the forward value is the exact one-hot of ``argmax(y)`` and the gradient is that
    of the soft ``y`` (straight-through estimator).

    Args:
        logits: Unnormalised log-probabilities ``[..., C]``.
        tau: Temperature; lower is closer to one-hot.
        hard: Return straight-through one-hot samples.
        generator: Seeded source of noise. Ideally on ``logits.device``; otherwise the noise is
            drawn on the generator's device and copied over.

    Returns:
        Samples ``[..., C]`` with the dtype and device of ``logits``, summing to 1 over ``C``.

    Examples:
        >>> seed = torch.Generator().manual_seed(0)
        >>> gumbel_softmax(torch.tensor([[0.0, 0.0, 9.0]]), hard=True, generator=seed).tolist()
        [[0.0, 0.0, 1.0]]
    """
    y_soft = torch.softmax((logits + _gumbel_like(logits, generator)) / tau, dim=-1)  # [..., C]
    if not hard:
        return y_soft
    index = y_soft.argmax(dim=-1, keepdim=True)  # [..., 1]
    y_hard = torch.zeros_like(y_soft).scatter_(-1, index, 1.0)  # [..., C]
    # y_hard + (y_soft - y_soft.detach()) is exactly y_hard in the forward pass (the bracket is
    # exactly 0), unlike the usual y_hard - y_soft.detach() + y_soft, which can round off one-hot.
    return y_hard + (y_soft - y_soft.detach())


def sample_dense_graph(
    logits: DenseGraph,
    tau: float = 1.0,
    hard: bool = False,
    generator: torch.Generator | None = None,
) -> DenseGraph:
    """Gumbel-softmax sample every atom and bond of a batch of graph logits.

    Bonds are sampled for ``i < j`` and mirrored; the diagonal is the one-hot of class 0 (no
    bond), so the sample is a valid undirected graph whatever the logits hold there.

    Args:
        logits: ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]`` logits.
        tau: Gumbel-softmax temperature.
        hard: Straight-through one-hot samples (exact one-hot forward, soft gradient).
        generator: Seeded source of noise.

    Returns:
        Per-class samples ``atoms [B, N, T]`` and symmetric ``bonds [B, N, N, Y]``.
    """
    atoms = gumbel_softmax(logits.atoms, tau, hard, generator)  # [B, N, T]
    bonds = gumbel_softmax(logits.bonds, tau, hard, generator)  # [B, N, N, Y]
    return DenseGraph(atoms, _mirror_upper_probs(bonds))


def softmax_graph(logits: DenseGraph) -> DenseGraph:
    """Per-class probabilities of every atom and bond (no sampling).

    Args:
        logits: ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]`` logits.

    Returns:
        Probabilities of the same shapes; ``bonds`` is the softmax of the upper triangle, mirrored,
        with one-hot "no bond" on the diagonal.

    Examples:
        >>> probs = softmax_graph(DenseGraph(torch.zeros(1, 2, 3), torch.zeros(1, 2, 2, 2)))
        >>> probs.atoms[0, 0].tolist(), probs.bonds[0, 0].tolist()
        ([0.3333333432674408, 0.3333333432674408, 0.3333333432674408], [[1.0, 0.0], [0.5, 0.5]])
    """
    atoms = torch.softmax(logits.atoms, dim=-1)  # [B, N, T]
    bonds = torch.softmax(logits.bonds, dim=-1)  # [B, N, N, Y]
    return DenseGraph(atoms, _mirror_upper_probs(bonds))


def graph_log_prob(logits: DenseGraph, graph: MolGraph) -> torch.Tensor:
    """Log-probability of each graph's class ids under the generator's categorical distribution.

    A sample draws every atom and every bond ``i < j`` independently (:func:`sample_dense_graph`
    with the Gumbel-max trick), so its log-probability is the sum of theirs; the mirrored lower
    triangle and the diagonal are not drawn and do not count.

    Args:
        logits: ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]`` logits.
        graph: Class ids ``atoms [B, N]`` and ``bonds [B, N, N]``.

    Returns:
        ``[B]`` log-probabilities (float32; differentiable in ``logits``).

    Examples:
        >>> logits = DenseGraph(torch.zeros(1, 2, 4), torch.zeros(1, 2, 2, 2))
        >>> zeros = torch.zeros(1, 2, 2, dtype=torch.long)
        >>> ids = MolGraph(zeros[:, 0], zeros)
        >>> round(graph_log_prob(logits, ids).exp().item(), 6)  # (1/4)^2 atoms x (1/2) bond
        0.03125
    """
    atoms = torch.log_softmax(logits.atoms.float(), dim=-1)  # [B, N, T]
    bonds = torch.log_softmax(logits.bonds.float(), dim=-1)  # [B, N, N, Y]
    atom_lp = atoms.gather(-1, graph.atoms.unsqueeze(-1)).squeeze(-1).sum(-1)  # [B]
    bond_lp = bonds.gather(-1, graph.bonds.unsqueeze(-1)).squeeze(-1)  # [B, N, N]
    upper, _ = _triangle_masks(bond_lp.shape[-1], bond_lp.device)
    return atom_lp + bond_lp.masked_fill(~upper, 0.0).sum((-1, -2))


def logits_to_graph(
    logits: DenseGraph,
    sample: bool = False,
    generator: torch.Generator | None = None,
) -> MolGraph:
    """Class ids of every atom and bond: the most likely class, or a categorical draw.

    Args:
        logits: ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]`` logits.
        sample: Draw each class from ``softmax(logits)`` (Gumbel-max trick) instead of argmax.
        generator: Seeded source of noise when ``sample`` is true.

    Returns:
        ``atoms [B, N]`` and symmetric ``bonds [B, N, N]`` (int64, empty diagonal), ready for
        :func:`molgan.graph.graphs_to_mols`.

    Examples:
        >>> atom_logits = torch.tensor([[[0.0, 3.0], [3.0, 0.0]]])  # [1, 2, 2]
        >>> bond_logits = torch.tensor([[[[5.0, 0.0], [0.0, 5.0]], [[5.0, 0.0], [5.0, 0.0]]]])
        >>> graph = logits_to_graph(DenseGraph(atom_logits, bond_logits))  # reads i < j only
        >>> graph.atoms.tolist(), graph.bonds.tolist()
        ([[1, 0]], [[[0, 1], [1, 0]]])
    """
    atom_scores, bond_scores = logits.atoms, logits.bonds
    if sample:
        # Gumbel-max: argmax(logits + Gumbel noise) is an exact draw from softmax(logits).
        atom_scores = atom_scores + _gumbel_like(atom_scores, generator)
        bond_scores = bond_scores + _gumbel_like(bond_scores, generator)
    atom_ids = atom_scores.argmax(dim=-1)  # [B, N]
    bond_ids = bond_scores.argmax(dim=-1)  # [B, N, N]
    upper, diagonal = _triangle_masks(bond_ids.shape[-1], bond_ids.device)
    bond_ids = torch.where(upper, bond_ids, bond_ids.transpose(1, 2))  # mirror i < j onto i > j
    bond_ids = bond_ids.masked_fill(diagonal, 0)  # [B, N, N]
    return MolGraph(atom_ids, bond_ids)


class ValenceMask:
    """A decoding-time valence mask: each bond is the likeliest class both its atoms still allow.

    Atoms are decoded as :func:`logits_to_graph` decodes them; then the bonds ``i < j`` are placed
    one pair at a time, the decoder's surest first (the highest probability of its own top class),
    each as the likeliest class whose order fits the room left on both atoms
    (:attr:`~molgan.vocab.Vocabulary.max_valences`; "no bond" always fits). A graph never exceeds
    a valence, so what is left invalid is disconnection or an impossible ring. This corrects the
    model's output: numbers measured with it are reported apart from the strict ones.

    With ``join_pieces``, a graph the placement leaves in pieces is then joined: while its atoms
    (padding aside) form more than one piece, a single bond goes to the pair of atoms in different
    pieces, both with a free valence, whose single bond the decoder scores highest over "no
    bond". The mask's repairs drop bonds, and dropping a bridge cuts a molecule; the latent
    family's valence target uses this form as a teacher (``[train] valence_target_joins``).

    Args:
        vocab: A vocabulary with Kekulé bonds (an aromatic bond's order, 1.5, does not say
            whether a ring's atoms can carry it, so aromatic vocabularies are refused).
        join_pieces: Join the pieces the placement leaves (as far as free valences allow).

    Raises:
        ValueError: ``vocab`` has aromatic bonds.

    Examples:
        >>> vocab = Vocabulary.qm9()  # class 6 is O (valence 2); bond class 3 is a triple bond
        >>> atoms = torch.full((1, 2, 9), -9.0)
        >>> atoms[..., 6] = 0.0
        >>> bonds = torch.zeros(1, 2, 2, 4)
        >>> bonds[..., 3] = 5.0  # O#O is the top choice, O=O the next
        >>> bonds[..., 2] = 4.0
        >>> ValenceMask(vocab).decode(DenseGraph(atoms, bonds)).bonds[0].tolist()
        [[0, 2], [2, 0]]
        >>> bonds[..., 0] = 6.0  # "no bond" on top: two pieces, joined by a single bond
        >>> ValenceMask(vocab, join_pieces=True).decode(DenseGraph(atoms, bonds)).bonds[0].tolist()
        [[0, 1], [1, 0]]
    """

    def __init__(self, vocab: Vocabulary, join_pieces: bool = False) -> None:
        if vocab.aromatic:
            raise ValueError(
                "the valence mask needs Kekulé bonds; this model's vocabulary has aromatic bonds"
            )
        self.caps = torch.tensor(vocab.max_valences)  # [T]
        self.orders = torch.tensor(vocab.bond_orders)  # [Y]
        self.join_pieces = join_pieces
        self._single = vocab.bond_id(Chem.BondType.SINGLE)
        if join_pieces and self._single is None:
            raise ValueError("joining pieces needs a vocabulary with single bonds")

    def over_valence(self, graph: MolGraph) -> torch.Tensor:
        """``[B, N]``: which atoms of class-id graphs carry more bond order than their valence.

        Examples:
            >>> atoms = torch.tensor([[6, 6]])  # O, O
            >>> bonds = torch.tensor([[[0, 3], [3, 0]]])  # O#O
            >>> ValenceMask(Vocabulary.qm9()).over_valence(MolGraph(atoms, bonds)).tolist()
            [[True, True]]
        """
        caps, orders = self.caps.to(graph.atoms.device), self.orders.to(graph.atoms.device)
        return orders[graph.bonds.long()].sum(-1) > caps[graph.atoms.long()]

    def decode(
        self,
        logits: DenseGraph,
        sample: bool = False,
        generator: torch.Generator | None = None,
    ) -> MolGraph:
        """Class ids like :func:`logits_to_graph`'s (``sample``: Gumbel-max draws), masked."""
        atom_scores, bond_scores = logits.atoms.float(), logits.bonds.float()
        if sample:
            atom_scores = atom_scores + _gumbel_like(atom_scores, generator)
            bond_scores = bond_scores + _gumbel_like(bond_scores, generator)
        atoms = atom_scores.argmax(dim=-1)  # [B, N]
        n, device = atoms.shape[1], atoms.device
        caps, orders = self.caps.to(device), self.orders.to(device)
        first, second = torch.triu_indices(n, n, offset=1, device=device)  # [P]
        scores = bond_scores[:, first, second]  # [B, P, Y]
        sureness = scores.amax(-1) - scores.logsumexp(-1)  # log-probability of the top class
        order = sureness.argsort(dim=1, descending=True)  # [B, P]
        room = caps[atoms]  # [B, N]
        rows = torch.arange(len(atoms), device=device)
        chosen = torch.zeros(scores.shape[:2], dtype=torch.long, device=device)  # [B, P]
        for k in range(scores.shape[1]):
            pair = order[:, k]  # [B]
            i, j = first[pair], second[pair]
            free = torch.minimum(room[rows, i], room[rows, j])  # [B]
            fits = orders <= free.unsqueeze(1) + 1e-6  # [B, Y]
            bond = scores[rows, pair].masked_fill(~fits, -math.inf).argmax(-1)  # [B]
            chosen[rows, pair] = bond
            used = orders[bond]
            room[rows, i] -= used
            room[rows, j] -= used
        bonds = torch.zeros(len(atoms), n, n, dtype=torch.long, device=device)
        bonds[:, first, second] = chosen
        bonds = bonds + bonds.transpose(1, 2)
        if self.join_pieces:
            gain = bond_scores[..., self._single] - bond_scores[..., 0]
            bonds = self._joined(atoms, bonds, gain, room)
        return MolGraph(atoms, bonds)

    def _joined(
        self, atoms: torch.Tensor, bonds: torch.Tensor, gain: torch.Tensor, room: torch.Tensor
    ) -> torch.Tensor:
        """``bonds [B, N, N]`` with single bonds joining pieces, the best ``gain`` first.

        ``gain [B, N, N]`` scores a single bond over none; ``room [B, N]`` is each atom's free
        valence. One bond per graph per round; a graph stops when whole or out of room.
        """
        n, rows = atoms.shape[1], torch.arange(len(atoms), device=atoms.device)
        real = atoms > 0  # padding atoms belong to no piece
        upper = torch.ones(n, n, dtype=torch.bool, device=atoms.device).triu(1)
        for _ in range(n - 1):  # n - 1 bonds join any n pieces
            apart = ~same_piece(MolGraph(atoms, bonds))
            free = real & (room >= 1 - 1e-6)
            joinable = apart & free[:, :, None] & free[:, None, :] & upper  # [B, N, N]
            todo = joinable.flatten(1).any(-1)  # [B]
            if not todo.any():
                break
            best = gain.masked_fill(~joinable, -math.inf).flatten(1).argmax(-1)  # [B]
            rows_todo, i, j = rows[todo], best[todo] // n, best[todo] % n
            bonds[rows_todo, i, j] = bonds[rows_todo, j, i] = self._single
            room[rows_todo, i] -= 1.0  # a single bond's order
            room[rows_todo, j] -= 1.0
        return bonds


@torch.no_grad()
def generate_graphs(
    generator: torch.nn.Module,
    n: int,
    rng: torch.Generator,
    temperature: float = 0.0,
    batch_size: int = 4096,
    min_p: float = 0.0,
    noise_scale: float = 1.0,
    condition: Mapping[str, int] | None = None,
    valence_mask: ValenceMask | None = None,
    transport: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None = None,
) -> Iterator[tuple[MolGraph, torch.Tensor]]:
    """Draw ``n`` graphs from a generator in chunks, as class ids on the CPU, with their noise.

    Args:
        generator: A :class:`molgan.models.Generator` (put in eval mode for the draw).
        n: How many graphs.
        rng: Seeded source of latent vectors and class draws.
        temperature: 0 takes the most likely class of every atom and bond (MolGAN's decoding);
            ``t > 0`` draws each from ``softmax(logits / t)``, and ``t = 1`` is the distribution
            the generator was trained on through its Gumbel-softmax samples.
        batch_size: Graphs per chunk.
        min_p: With ``temperature > 0``, draw only among the classes whose probability is at
            least ``min_p`` times that of the most likely class (min-p sampling, Nguyen et al.
            2024): the rare atom and bond choices that break molecules are cut, the common
            alternatives that make samples differ are kept. 0 = plain sampling.
        noise_scale: Multiplies the generator's standard-normal noise: below 1 it draws from the
            prior's denser core (the truncation trick of Brock et al. 2019 in its simplest form),
            trading diversity for fidelity; 1 = the prior the generator was trained on.
        condition: For a generator with conditions (:mod:`molgan.conditions`), the classes to
            fix, ``{name: class index}``; the others are drawn from the data given them.
        valence_mask: Decode through this mask (a correction, reported apart; ``None``: the
            model's own argmax or draws).
        transport: For the latent family, what moves each draw of noise before G maps it
            (:class:`molgan.models.transport.CriticTransport`, called with the generator and the
            noise); ``None``: the draws as they are.

    Yields:
        ``MolGraph`` chunks (``atoms [b, N]``, ``bonds [b, N, N]``) of at most ``batch_size``,
        each with the noise ``[b, z_dim]`` it was drawn from, after any transport (a conditioned
        generator's holds the conditions asked for).
    """
    was_training = generator.training
    generator.eval()
    try:
        for z in draw_noise(generator, n, rng, batch_size, noise_scale, condition, transport):
            logits = _forward_in_pieces(generator, z)  # z: [b, Z]
            if temperature > 0:
                logits = DenseGraph(
                    _min_p_mask(logits.atoms / temperature, min_p),
                    _min_p_mask(logits.bonds / temperature, min_p),
                )
            if valence_mask is None:
                graph = logits_to_graph(logits, sample=temperature > 0, generator=rng)
            else:
                graph = valence_mask.decode(logits, sample=temperature > 0, generator=rng)
            yield MolGraph(graph.atoms.cpu(), graph.bonds.cpu()), z
    finally:
        generator.train(was_training)


def draw_noise(
    generator: torch.nn.Module,
    n: int,
    rng: torch.Generator,
    batch_size: int = 4096,
    noise_scale: float = 1.0,
    condition: Mapping[str, int] | None = None,
    transport: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None = None,
) -> Iterator[torch.Tensor]:
    """The noise :func:`generate_graphs` maps, in chunks of at most ``batch_size``.

    Each chunk ``[b, z_dim]`` is drawn from the generator's prior (times ``noise_scale``, with
    ``condition`` fixed) and moved by ``transport`` when one is given: what G maps when the
    model samples, for callers that need the codes without decoding them. Lazy, so a caller that
    also draws from ``rng`` between chunks keeps :func:`generate_graphs`' order of draws.
    """
    given = {} if condition is None else {"condition": condition}  # a conditioned G's only
    for start in range(0, n, batch_size):
        z = generator.sample_z(min(batch_size, n - start), rng, scale=noise_scale, **given)
        yield z if transport is None else transport(generator, z)


CPU_FORWARD_PAIRS = 65_536
"""Slot pairs per generator forward when sampling on the CPU (a chunk runs in pieces of this).

The latent family's decoder and refiner hold ``[pairs, 128]`` float features; at this size they
stay under 32 MB, above which glibc serves each allocation as fresh pages that must be touched
for the first time. At ``N = 27`` (MOSES) a chunk of 4,096 graphs in one forward sampled at a
third of the speed on the 2-core CPU (``docs/benchmarks.md``). The samples are the same.
"""


def forward_batch(batch_size: int, n_atoms: int, device: torch.device) -> int:
    """``batch_size`` graphs of ``n_atoms`` slots, capped on the CPU at :data:`CPU_FORWARD_PAIRS`.

    Examples:
        >>> cpu = torch.device("cpu")
        >>> forward_batch(4096, 27, cpu), forward_batch(4096, 9, cpu), forward_batch(64, 27, cpu)
        (186, 1820, 64)
    """
    if device.type != "cpu":
        return batch_size
    return min(batch_size, max(1, CPU_FORWARD_PAIRS // max(1, n_atoms * (n_atoms - 1) // 2)))


def _forward_in_pieces(generator: torch.nn.Module, z: torch.Tensor) -> DenseGraph:
    """``generator(z)``, in pieces of :func:`forward_batch` graphs."""
    piece = forward_batch(len(z), generator.vocab.max_atoms, z.device)
    if len(z) <= piece:
        return generator(z)
    parts = [generator(part) for part in z.split(piece)]
    return DenseGraph(torch.cat([p.atoms for p in parts]), torch.cat([p.bonds for p in parts]))


def _min_p_mask(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    """Logits with every class less likely than ``min_p`` times the top one set to ``-inf``."""
    if min_p <= 0:
        return logits
    floor = logits.amax(dim=-1, keepdim=True) + math.log(min_p)  # p_k / p_max >= min_p
    return logits.masked_fill(logits < floor, -math.inf)


def _gumbel_like(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard Gumbel noise ``-log(E)``, ``E ~ Exp(1)``, of the shape, dtype, device of logits."""
    device = generator.device if generator is not None else logits.device
    # Draw in at least float32: half-precision exponentials are coarse and hit 0 often.
    dtype = torch.promote_types(logits.dtype, torch.float32)
    exponential = torch.empty(logits.shape, dtype=dtype, device=device)
    exponential.exponential_(generator=generator)
    # Clamp so a draw of exactly 0 gives a large finite value instead of inf (and NaN later).
    gumbel = -exponential.clamp_min(torch.finfo(dtype).tiny).log()
    return gumbel.to(device=logits.device, dtype=logits.dtype)


def _mirror_upper_probs(bonds: torch.Tensor) -> torch.Tensor:
    """Copy the ``i < j`` entries of ``bonds [B, N, N, Y]`` onto ``i > j``; one-hot 0 diagonal."""
    n_nodes, n_classes = bonds.shape[-2], bonds.shape[-1]
    upper, diagonal = _triangle_masks(n_nodes, bonds.device)
    no_bond = (torch.arange(n_classes, device=bonds.device) == 0).to(bonds.dtype)  # [Y]
    mirrored = torch.where(upper.unsqueeze(-1), bonds, bonds.transpose(1, 2))  # [B, N, N, Y]
    return torch.where(diagonal.unsqueeze(-1), no_bond, mirrored)


def _triangle_masks(n_nodes: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean ``[N, N]`` masks of the strict upper triangle and of the diagonal."""
    upper = torch.ones(n_nodes, n_nodes, dtype=torch.bool, device=device).triu(1)
    return upper, torch.eye(n_nodes, dtype=torch.bool, device=device)
