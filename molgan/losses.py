"""Training objectives of molgan as pure functions of tensors: GAN, WGAN-GP, entropy, reward, RL.

Every loss is a scalar mean over the batch, computed without host syncs, in the dtype and on the
device of its inputs. Discriminator outputs are raw scores: logits of P(real) for the minimax and
non-saturating games (so log-sigmoids are taken stably with ``softplus``), critic values for the
WGAN. :data:`GAN_LOSSES` names each (discriminator, generator) pair; :func:`get_gan_loss` looks
one up. Weights such as :data:`GRADIENT_PENALTY_WEIGHT` are applied by the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from molgan.graph import DenseGraph

__all__ = [
    "GRADIENT_PENALTY_WEIGHT",
    "minimax_discriminator_loss",
    "minimax_generator_loss",
    "nonsaturating_generator_loss",
    "wgan_critic_loss",
    "wgan_generator_loss",
    "gradient_penalty",
    "entropy_regularizer",
    "reward_loss",
    "rl_generator_loss",
    "reinforce_loss",
    "code_log_prob",
    "balance_scale",
    "structure_penalty",
    "mode_seeking_loss",
    "GanLoss",
    "GAN_LOSSES",
    "get_gan_loss",
]

GRADIENT_PENALTY_WEIGHT = 10.0  # lambda of WGAN-GP (Gulrajani et al. 2017), also MolGAN's value

# |L_RL| below this counts as zero in balance_scale, so alpha stays finite.
_BALANCE_EPS = 1e-8
_ADVANTAGE_EPS = 1e-6  # keeps A finite when all rewards are equal (A = 0 then)
# Added under the square root of the gradient norm: d sqrt(s)/ds stays finite at s = 0.
_NORM_EPS = 1e-12
# MSGAN's epsilon in 1 / (ratio + eps) (Mao et al. 2019).
_MODE_SEEKING_EPS = 1e-5


def minimax_discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor
) -> torch.Tensor:
    """The discriminator's loss of the original GAN game (Goodfellow et al. 2014).

    ``L_D = -(E[log D(x)] + E[log(1 - D(G(z)))])`` with ``D = sigmoid(logit)``, computed as
    ``E[softplus(-real_logits)] + E[softplus(fake_logits)]``, which never takes ``log(0)``.

    Args:
        real_logits: Discriminator scores of real graphs ``[B, 1]`` (any shape).
        fake_logits: Discriminator scores of generated graphs (any shape).

    Returns:
        The scalar loss (binary cross-entropy, real = 1, fake = 0).

    Examples:
        >>> round(minimax_discriminator_loss(torch.zeros(4, 1), torch.zeros(4, 1)).item(), 4)
        1.3863
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's saturating minimax loss (Goodfellow et al. 2014).

    ``L_G = E[log(1 - D(G(z)))] = -E[softplus(fake_logits)]``. Its gradient vanishes when the
    discriminator confidently rejects the fakes; see :func:`nonsaturating_generator_loss`.

    Args:
        fake_logits: Discriminator scores of generated graphs (any shape).

    Returns:
        The scalar loss the generator minimises.

    Examples:
        >>> round(minimax_generator_loss(torch.zeros(2)).item(), 4)
        -0.6931
    """
    return -F.softplus(fake_logits).mean()


def nonsaturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's non-saturating loss (Goodfellow et al. 2014, Sec. 3).

    ``L_G = -E[log D(G(z))] = E[softplus(-fake_logits)]``: same fixed point as the minimax loss,
    strong gradients early in training.

    Args:
        fake_logits: Discriminator scores of generated graphs (any shape).

    Returns:
        The scalar loss the generator minimises.

    Examples:
        >>> round(nonsaturating_generator_loss(torch.zeros(2)).item(), 4)
        0.6931
    """
    return F.softplus(-fake_logits).mean()


def wgan_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The Wasserstein critic's loss ``E[D(G(z))] - E[D(x)]`` (Arjovsky et al. 2017).

    Add ``GRADIENT_PENALTY_WEIGHT * gradient_penalty(...)`` for WGAN-GP (Gulrajani et al. 2017),
    MolGAN's objective (De Cao & Kipf 2018).

    Args:
        real_scores: Critic scores of real graphs (any shape).
        fake_scores: Critic scores of generated graphs (any shape).

    Returns:
        The scalar loss the critic minimises (minus its Wasserstein-1 estimate).

    Examples:
        >>> wgan_critic_loss(torch.tensor([2.0, 4.0]), torch.tensor([1.0])).item()
        -2.0
    """
    return fake_scores.mean() - real_scores.mean()


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """The WGAN generator's loss ``-E[D(G(z))]`` (Arjovsky et al. 2017).

    Examples:
        >>> wgan_generator_loss(torch.tensor([1.0, 3.0])).item()
        -2.0
    """
    return -fake_scores.mean()


def gradient_penalty(
    critic: Callable[[Any], torch.Tensor],
    real: DenseGraph | torch.Tensor,
    fake: DenseGraph | torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP's two-sided penalty ``E[(||grad_x̂ D(x̂)||_2 - 1)^2]`` (Gulrajani et al. 2017).

    ``x̂ = eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1]`` per sample, shared by a
    graph's atoms and bonds, so ``x̂`` lies on the segment between two whole graphs. The norm is
    taken jointly over both tensors of a graph, ``sqrt(||dD/d atoms||^2 + ||dD/d bonds||^2)``: the
    critic is one function of the concatenated input, which is what the 1-Lipschitz constraint
    is about. (MolGAN's reference code instead penalises atoms and bonds separately.) The
    interpolates are detached from ``real`` and ``fake``, so the penalty trains only the critic;
    ``create_graph=True`` keeps it differentiable in the critic's weights. Scale the result by
    :data:`GRADIENT_PENALTY_WEIGHT` (λ = 10, Gulrajani et al. 2017; De Cao & Kipf 2018).

    Args:
        critic: Maps ``B`` inputs (a :class:`DenseGraph`, or a tensor such as latent codes
            ``[B, Z]``) to scores ``[B, 1]`` (or ``[B]``).
        real: Real samples: graphs, ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]`` (one-hot), or
            a tensor ``[B, ...]``.
        fake: Generated samples of the same kind and shapes.
        generator: Seeded source of the interpolation weights ``eps``; ideally on the device of
            the samples, otherwise ``eps`` is drawn on the generator's device and copied over.

    Returns:
        The scalar penalty (not yet multiplied by λ).

    Examples:
        >>> critic = lambda x: 3.0 * x.sum(-1, keepdim=True)  # gradient norm 3 * sqrt(2)
        >>> gp = gradient_penalty(critic, torch.zeros(4, 2), torch.ones(4, 2))
        >>> round(gp.item(), 3)  # (3 * sqrt(2) - 1) ** 2
        10.515
    """
    is_graph = isinstance(real, DenseGraph)
    reals, fakes = (tuple(real), tuple(fake)) if is_graph else ((real,), (fake,))
    batch = reals[0].shape[0]
    device = generator.device if generator is not None else reals[0].device
    eps = torch.rand(batch, generator=generator, device=device)  # [B]
    eps = eps.to(device=reals[0].device, dtype=reals[0].dtype)
    mixed = []
    for real_part, fake_part in zip(reals, fakes, strict=True):
        eps_part = eps.view(batch, *[1] * (real_part.dim() - 1))
        part = eps_part * real_part.detach() + (1 - eps_part) * fake_part.detach()
        mixed.append(part.requires_grad_(True))
    scores = critic(DenseGraph(*mixed) if is_graph else mixed[0])  # [B, 1]
    # Samples are scored independently, so d(sum of scores)/dx̂_b is each sample's own gradient.
    grads = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    squared = grads[0].pow(2).flatten(1).sum(1)  # [B]
    for grad in grads[1:]:
        squared = squared + grad.pow(2).flatten(1).sum(1)
    norm = torch.sqrt(squared + _NORM_EPS)  # [B]
    return (norm - 1).pow(2).mean()


def entropy_regularizer(logits: torch.Tensor) -> torch.Tensor:
    """Mean binary entropy of the discriminator's beliefs, for a maximum-entropy discriminator.

    ``H(p) = -p log p - (1 - p) log(1 - p)`` with ``p = sigmoid(logit)``, computed stably as
    ``p * softplus(-logit) + (1 - p) * softplus(logit)``. It is ``log 2`` at ``logit = 0`` and
    tends to 0 as ``|logit|`` grows. The discriminator loss *subtracts* ``beta * H``, i.e. the
    discriminator is rewarded for entropy: a confidence penalty (Pereyra et al. 2017,
    "Regularizing neural networks by penalizing confident output distributions") that keeps it
    from saturating at 0/1, where the generator's gradients vanish, in the spirit of
    entropy-regularised GANs. For a WGAN critic, a caller may apply it to ``critic scores``
    read as logits (``sigmoid(score)``).

    Args:
        logits: Discriminator scores (any shape).

    Returns:
        The scalar mean entropy in nats, in ``[0, log 2]``.

    Examples:
        >>> round(entropy_regularizer(torch.zeros(3)).item(), 4)
        0.6931
    """
    p = torch.sigmoid(logits)
    return (p * F.softplus(-logits) + (1 - p) * F.softplus(logits)).mean()


def reward_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the reward network, ``E[(R̂(x) - R(x))^2]`` (De Cao & Kipf 2018).

    Args:
        predicted: Reward network outputs ``[B, 1]``.
        target: Rewards ``[B]`` or ``[B, 1]``; reshaped to ``predicted``'s shape, so a ``[B]``
            target never silently broadcasts to ``[B, B]``.

    Returns:
        The scalar loss.

    Examples:
        >>> reward_loss(torch.tensor([[0.5], [1.0]]), torch.tensor([0.0, 1.0])).item()
        0.125
    """
    return F.mse_loss(predicted, target.reshape(predicted.shape).to(predicted.dtype))


def rl_generator_loss(predicted_rewards: torch.Tensor) -> torch.Tensor:
    """MolGAN's reinforcement loss ``L_RL = -E[R̂(G(z))]`` (De Cao & Kipf 2018, Sec. 3.3).

    The generator climbs the reward network's prediction, which is differentiable in the
    generated graph, in place of a policy gradient.

    Examples:
        >>> rl_generator_loss(torch.tensor([0.25, 0.75])).item()
        -0.5
    """
    return -predicted_rewards.mean()


def reinforce_loss(log_prob: torch.Tensor, rewards: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """Score-function (REINFORCE, Williams 1992) loss on exact rewards of sampled graphs.

    ``-mean(A * log p(x))`` with the advantage ``A = (R - b) / std R``, whose baseline ``b`` is
    the batch mean, so its gradient raises the probability of graphs that scored above the batch
    and lowers the rest. Unlike :func:`rl_generator_loss` it needs no reward network: ``rewards``
    are the RDKit rewards themselves. A batch whose rewards are all equal gives zero.

    With ``groups > 1`` the batch is that many runs of consecutive draws from one input (e.g.
    several codes drawn around one G code), and each run's mean is its own baseline: only what
    tells the draws of one input apart moves it, not how good the input already was. RLOO
    (Kool et al. 2019) leaves each draw out of its baseline, which scales this by ``(k - 1) / k``
    for runs of ``k``; the standard deviation stays the whole batch's.

    Args:
        log_prob: ``[B]`` log-probabilities of the sampled graphs (see
            :func:`molgan.sampling.graph_log_prob`), differentiable in the generator.
        rewards: ``[B]`` rewards of the same graphs.
        groups: How many runs of ``B / groups`` draws share a baseline.

    Examples:
        >>> lp = torch.zeros(2, requires_grad=True)
        >>> reinforce_loss(lp, torch.tensor([1.0, 0.0])).backward()
        >>> [round(g, 4) for g in lp.grad.tolist()]  # descending raises the better graph's
        [-0.3536, 0.3536]
        >>> lp = torch.zeros(4, requires_grad=True)
        >>> reinforce_loss(lp, torch.tensor([1.0, 1.0, 0.0, 1.0]), groups=2).backward()
        >>> [round(g, 4) + 0.0 for g in lp.grad.tolist()]  # the first run's draws tie: none
        [0.0, 0.0, 0.25, -0.25]
    """
    rewards = rewards.to(log_prob.dtype)
    if groups == 1:
        baseline = rewards.mean()
    else:
        baseline = rewards.view(groups, -1).mean(1).repeat_interleave(len(rewards) // groups)
    advantage = (rewards - baseline) / (rewards.std() + _ADVANTAGE_EPS)
    return -(advantage.detach() * log_prob).mean()


def code_log_prob(action: torch.Tensor, mean: torch.Tensor, std: float) -> torch.Tensor:
    """``[B]`` log-densities, up to a constant, of codes ``action`` under ``N(mean, std^2 I)``.

    The policy of ``[reward] estimator = "code"``: a latent model decodes a code
    deterministically, so the code drawn around G's is the action whose probability REINFORCE
    (:func:`reinforce_loss`) raises; its gradient moves ``mean`` towards the draws that scored
    well.

    Args:
        action: ``[B, Z]`` the drawn codes (no gradient needed).
        mean: ``[B, Z]`` G's codes, differentiable in G.
        std: The policy's standard deviation.

    Examples:
        >>> code_log_prob(torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2), 0.5).tolist()
        [-2.0]
    """
    return -0.5 * ((action.detach() - mean) / std).square().sum(-1)


def balance_scale(gan_loss: torch.Tensor, rl_loss: torch.Tensor) -> torch.Tensor:
    """MolGAN's ``alpha = |L_GAN / L_RL|``, detached, so the two losses have equal scale.

    Used as ``L_G = lambda * L_GAN + (1 - lambda) * alpha * L_RL`` (De Cao & Kipf 2018, Sec. 3.3).
    No gradient flows through ``alpha``; ``|L_RL|`` is clamped below at ``1e-8`` so a zero
    reward gives a large finite scale instead of inf or NaN. Stays a tensor: no host sync.

    Examples:
        >>> balance_scale(torch.tensor(-3.0), torch.tensor(-0.5)).item()
        6.0
    """
    return (gan_loss.detach().abs() / rl_loss.detach().abs().clamp_min(_BALANCE_EPS)).detach()


def structure_penalty(
    graph: DenseGraph,
    max_valence: torch.Tensor,
    bond_orders: torch.Tensor,
    atom_charges: torch.Tensor | None = None,
    max_net_charge: float = 0.0,
) -> torch.Tensor:
    """Per-graph count of the defects that make a generated graph invalid or unlike the data.

    Computed on tensors only (no RDKit), so it can sit in the generator's loss on any device. With
    straight-through Gumbel samples the forward value is exact and the gradient is the soft one:

    - valence excess: ``sum_i relu(sum_j sum_k A_ijk * order_k - cap_i)`` where
      ``cap_i = sum_t X_it * max_valence_t`` (the largest valence seen for each atom class in the
      training data; padding has cap 0);
    - disconnection: the fraction of pairs of real atoms (``1 - X_i0``) not joined by a path,
      from ``N - 1`` rounds of reachability ``R <- min(1, R + R A)``;
    - net charge (when ``atom_charges`` is given): ``relu(|sum_i X_i . charge| - max_net_charge)``.
      Without it a generator learns that a charged atom such as ``N+`` (valence 4, hydrogens
      filled in) never breaks valence, and emits cations that QM9 (all net-neutral) never has.

    This is molgan's addition to MolGAN (which relied on an RDKit reward); it is zero for every
    real molecule, so it only pushes generated graphs towards chemically possible ones.

    Args:
        graph: ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]`` per-class probabilities or one-hot.
        max_valence: ``[T]`` largest allowed valence of each atom class (0 for padding).
        bond_orders: ``[Y]`` bond order of each bond class (0 for "no bond").
        atom_charges: ``[T]`` formal charge of each atom class (0 for padding), or ``None``.
        max_net_charge: The largest ``|net charge|`` allowed (seen in the training data).

    Returns:
        ``[B]`` non-negative penalties.

    Examples:
        >>> atoms = torch.tensor([[[0.0, 1.0], [0.0, 1.0]]])  # two real atoms
        >>> no_bond = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]]])
        >>> structure_penalty(DenseGraph(atoms, no_bond), torch.tensor([0.0, 1.0]),
        ...                   torch.tensor([0.0, 1.0])).tolist()  # disconnected pair
        [1.0]
    """
    atoms, bonds = graph
    real = 1.0 - atoms[..., 0]  # [B, N]
    valence = (bonds * bond_orders).sum(dim=(2, 3))  # [B, N]
    cap = atoms @ max_valence  # [B, N]
    excess = F.relu(valence - cap).sum(-1)  # [B]
    pair = real.unsqueeze(2) * real.unsqueeze(1)  # [B, N, N]
    adjacency = (1.0 - bonds[..., 0]) * pair  # [B, N, N]
    reach = torch.diag_embed(real)  # [B, N, N]
    for _ in range(atoms.shape[1] - 1):
        reach = torch.clamp(reach + reach @ adjacency, max=1.0)
    distinct = pair * (1.0 - torch.eye(atoms.shape[1], dtype=pair.dtype, device=pair.device))
    disconnected = ((1.0 - reach) * distinct).sum((1, 2)) / distinct.sum((1, 2)).clamp_min(1.0)
    penalty = excess + disconnected
    if atom_charges is not None:
        net_charge = (atoms @ atom_charges).sum(-1)  # [B]
        penalty = penalty + F.relu(net_charge.abs() - max_net_charge)
    return penalty


def mode_seeking_loss(graph: DenseGraph, z: torch.Tensor) -> torch.Tensor:
    """The mode-seeking regulariser of MSGAN (Mao et al. 2019), for a batch of graphs.

    Pairs sample ``i`` with sample ``i + B/2`` and returns ``1 / (E[d(G(z1), G(z2)) / d(z1, z2)]
    + eps)``, with ``d`` the mean absolute difference (of atom and bond probabilities, and of
    latent vectors). Minimising it pushes different latent codes to different graphs, the
    direct cure for a generator that maps most ``z`` to the same few molecules. Use the
    generator's probabilities (``softmax_graph``), not Gumbel samples, whose noise would make
    any two draws differ.

    Args:
        graph: ``atoms [B, N, T]`` and ``bonds [B, N, N, Y]`` probabilities, ``B`` even.
        z: The latent codes ``[B, Z]`` that produced them.

    Returns:
        The scalar loss (small when the generator spreads latent codes apart).

    Examples:
        >>> atoms = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])  # two one-atom graphs
        >>> bonds = torch.zeros(2, 1, 1, 2)  # d_graph = (2 + 0) / (2 + 2) = 0.5, d_z = 2
        >>> z = torch.tensor([[0.0], [2.0]])
        >>> round(mode_seeking_loss(DenseGraph(atoms, bonds), z).item(), 3)  # 1 / (0.5 / 2)
        4.0
    """
    half = z.shape[0] // 2
    atoms, bonds = graph
    d_atoms = (atoms[:half] - atoms[half : 2 * half]).abs().flatten(1).sum(-1)  # [B/2]
    d_bonds = (bonds[:half] - bonds[half : 2 * half]).abs().flatten(1).sum(-1)  # [B/2]
    d_graph = (d_atoms + d_bonds) / (atoms[0].numel() + bonds[0].numel())
    d_z = (z[:half] - z[half : 2 * half]).abs().mean(-1)  # [B/2]
    return 1.0 / ((d_graph / d_z.clamp_min(_MODE_SEEKING_EPS)).mean() + _MODE_SEEKING_EPS)


@dataclass(frozen=True)
class GanLoss:
    """A matched pair of adversarial losses.

    Attributes:
        discriminator: ``(real_scores, fake_scores) -> loss`` the discriminator minimises.
        generator: ``fake_scores -> loss`` the generator minimises.
        uses_gradient_penalty: Whether the discriminator loss should get
            ``GRADIENT_PENALTY_WEIGHT * gradient_penalty(...)`` added (WGAN-GP).
    """

    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator: Callable[[torch.Tensor], torch.Tensor]
    uses_gradient_penalty: bool = False


GAN_LOSSES: dict[str, GanLoss] = {
    "minimax": GanLoss(minimax_discriminator_loss, minimax_generator_loss),
    "nonsaturating": GanLoss(minimax_discriminator_loss, nonsaturating_generator_loss),
    "wgan-gp": GanLoss(wgan_critic_loss, wgan_generator_loss, uses_gradient_penalty=True),
}


def get_gan_loss(name: str) -> GanLoss:
    """Look up an adversarial loss pair in :data:`GAN_LOSSES`.

    Raises:
        KeyError: If ``name`` is not registered; the message lists the valid names.

    Examples:
        >>> get_gan_loss("wgan-gp").uses_gradient_penalty
        True
    """
    try:
        return GAN_LOSSES[name]
    except KeyError:
        valid = ", ".join(sorted(GAN_LOSSES))
        raise KeyError(f"unknown GAN loss {name!r}; valid names: {valid}") from None
