"""Configuration as frozen dataclasses, loaded from TOML and saved beside every checkpoint.

A few CLI flags override the TOML; the JSON copy in each checkpoint rebuilds its models without
the command line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DataConfig",
    "ModelConfig",
    "TrainConfig",
    "RewardConfig",
    "AutoencoderConfig",
    "Config",
    "MODEL_KINDS",
    "COMPILE_MODES",
    "load_config",
    "config_from_dict",
    "dump_config",
]


@dataclass(frozen=True)
class DataConfig:
    """Where the training molecules come from."""

    path: str = "data/splits/qm9_train.csv.gz"
    """SMILES/CSV file of training molecules (default: the QM9 train split)."""
    vocabulary: str = "qm9"
    """``"qm9"`` for ``Vocabulary.qm9()``, or ``"data"`` to derive it from ``path``."""
    max_atoms: int | None = None
    """``N`` of a derived vocabulary (default: the largest training molecule)."""
    aromatic: bool = False
    """Keep aromatic rings as an ``AROMATIC`` bond class (with ``[nH]``-style atom classes)
    instead of kekulizing them into alternating single and double bonds (``molgan.vocab``)."""
    limit: int | None = None
    """Use only the first ``limit`` rows of ``path`` (a subset of a large set, or a smoke test)."""
    transforms: tuple[str, ...] = ("strip_stereo",)
    """Clean-up of each molecule before encoding (``molgan.standardize``): ``"strip_stereo"``
    (molgan's graphs carry no stereo, so a stereo SMILES could not round-trip) and
    ``"largest_fragment"`` (drop counter-ions and solvents of salts). The log and ``data stats``
    count the rows each one changed."""
    atom_order: str = "input"
    """How each molecule's atoms are numbered (``molgan.order``): ``"input"`` (MolGAN's, as
    written in the file), ``"smiles"`` (canonical SMILES order) or ``"bfs"`` (breadth-first from
    the canonical root). A one-shot decoder (``[model] kind = "latent"``) needs a canonical one."""
    filters: tuple[str, ...] = ()
    """Train on the molecules that pass all of these (``molgan.filters``: names such as
    ``"lipinski"``, or thresholds such as ``"qed>=0.9"``), e.g. to move a model to the
    drug-like part of its data; the vocabulary still comes from every row. Empty: all rows."""

    def __post_init__(self) -> None:
        from molgan.standardize import TRANSFORMS

        unknown = sorted(set(self.transforms) - set(TRANSFORMS))
        if unknown:
            raise ValueError(
                f"[data] transforms: unknown {unknown}; choose from {list(TRANSFORMS)}"
            )
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"[data] limit must be positive, got {self.limit}")
        if self.filters:  # checked here, before a large set is featurised
            from molgan.filters import resolve_filters

            try:
                resolve_filters(self.filters)
            except (KeyError, ValueError) as err:
                raise ValueError(f"[data] filters: {err.args[0]}") from None


MODEL_KINDS = ("molgan", "latent")
"""The values of ``[model] kind``: the model families (``molgan.training.FAMILIES``)."""


@dataclass(frozen=True)
class ModelConfig:
    """Layer sizes; MolGAN's reference values are the defaults (De Cao & Kipf 2018)."""

    kind: str = "molgan"
    """The model family: ``"molgan"`` (an MLP maps noise to graph logits in one shot) or
    ``"latent"`` (a latent GAN in the code space of a graph autoencoder, ``[autoencoder]``)."""
    z_dim: int = 32
    """Noise size ``Z`` of the generator."""
    hidden: tuple[int, ...] = (128, 256, 512)
    """Generator MLP widths (``"latent"``: the MLP from noise to codes)."""
    conv_dims: tuple[int, ...] = (128, 64)
    """Relational-GCN widths of the discriminator and reward network."""
    agg_dim: int = 128
    """Width of the gated graph aggregation."""
    mlp_dims: tuple[int, ...] = (128, 64)
    """Widths of the discriminator's MLP head."""
    dropout: float = 0.0
    """Dropout in generator and discriminator."""
    minibatch_std: bool = False
    """Give the discriminator the batch's embedding spread (an anti-mode-collapse feature)."""
    temperature: float = 0.0
    """Sampling: 0 = argmax of every atom and bond (MolGAN); ``t > 0`` = draw from
    ``softmax(logits / t)`` (``t = 1`` is what the generator is trained on)."""
    min_p: float = 0.0
    """Sampling with ``temperature > 0``: draw only among classes at least ``min_p`` times as
    likely as the top one (min-p sampling); 0 = plain sampling."""
    noise_scale: float = 1.0
    """Sampling: the standard deviation of the generator's noise (the truncation trick, Brock et
    al. 2019: below 1 trades diversity for fidelity); training always uses 1."""
    transport_steps: int = 0
    """``"latent"``, sampling: Adam steps of discriminator optimal transport (Tanaka 2019), which
    move each draw of G's noise up the latent critic, as far as the climb pays, before G maps it
    (:class:`molgan.models.transport.CriticTransport`); 0 = the draws as they are. In a latent
    GAN or RL run the graph terms (reward, graph critic, valence target) then judge the moved
    draws' graphs; the latent critic's game is played on the draws as they are."""
    transport_lipschitz: float = 0.3
    """``"latent"``, sampling: DOT's ``K``, the Lipschitz constant of ``D o G``
    (:func:`molgan.models.transport.lipschitz_estimate`); a draw stops where the critic's slope
    falls under it, so a smaller ``K`` moves draws farther."""
    transport_lr: float = 0.05
    """``"latent"``, sampling: the step size of the transport's Adam steps."""
    latent_dim: int = 128
    """``"latent"``: the autoencoder's code size."""
    ae_dim: int = 128
    """``"latent"``: width of the encoder's and decoder's transformer layers."""
    ae_layers: int = 3
    """``"latent"``: transformer layers of the encoder, and of the decoder."""
    ae_heads: int = 4
    """``"latent"``: attention heads."""
    ae_pair_positions: bool = False
    """``"latent"``: give the decoder's bond head a learned feature per pair of slots ``(i, j)``,
    so that where bonds sit in the canonical order (in BFS order, mostly near the diagonal) need
    not be carried by the slot states."""
    ae_slot_init: float = 0.02
    """``"latent"``: standard deviation of the encoder's and decoder's slot embeddings at
    initialisation. At 0.02 every slot starts with nearly the same state, and on MOSES the
    autoencoder sits on a plateau of "no bond anywhere" for hundreds of steps until the slots
    tell themselves apart; 1.0 breaks that symmetry from the start (docs/benchmarks.md, "Your own
    molecules"). 0.02 is kept as the default so the shipped QM9 recipes reproduce."""
    variational: bool = False
    """``"latent"``: a variational autoencoder (Kingma & Welling 2014). The encoder gives a mean
    and a log-variance per code entry, the decoder is trained on draws of that Gaussian, and
    ``[autoencoder] kl_weight`` pulls it towards ``N(0, I)``, so the codes are packed around the
    origin rather than spread over a shell (false: layer-normalised codes plus fixed noise)."""
    refiner_layers: int = 0
    """``"latent"``: transformer layers of a refiner (:class:`molgan.models.GraphRefiner`, as wide
    as the autoencoder: ``ae_dim``, ``ae_heads``), a second pass that reads the decoder's argmax
    graph and corrects its logits; it trains in the GAN stage on G's terms that reach it
    (reconstruction, valence target, graph terms). 0 = no refiner."""
    refiner_passes: int = 1
    """``"latent"``, sampling and training: how many times the refiner is applied, each pass
    reading the argmax graph of the one before (iterative refinement)."""
    refiner_pieces: bool = False
    """``"latent"``: the refiner also reads which atoms its input graph joins into one piece, so
    that it can see (and join) a molecule in pieces."""
    critic_hidden: tuple[int, ...] = (512, 256)
    """``"latent"``: widths of the latent critic's MLP (LatentGAN: 512, 256)."""
    conditions: tuple[str, ...] = ()
    """``"latent"``: names of :data:`molgan.conditions.CONDITIONS` that G and the latent critic
    take beside noise and codes (a conditional GAN); sampling draws them from the training data's
    mix unless ``molgan sample --condition NAME=VALUE`` fixes some. Empty: unconditional."""

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"[model] kind must be one of {list(MODEL_KINDS)}, got {self.kind!r}")
        if self.variational and self.kind != "latent":
            raise ValueError('[model] variational: only kind = "latent" has an autoencoder')
        if self.transport_steps < 0 or self.transport_lipschitz <= 0 or self.transport_lr <= 0:
            raise ValueError(
                "[model] transport_steps must be >= 0, transport_lipschitz and transport_lr > 0"
            )
        if self.transport_steps and self.kind != "latent":
            raise ValueError('[model] transport_steps: only kind = "latent" has a latent critic')
        if self.refiner_layers < 0:
            raise ValueError(f"[model] refiner_layers must be >= 0, got {self.refiner_layers}")
        if self.refiner_passes < 1:
            raise ValueError(f"[model] refiner_passes must be >= 1, got {self.refiner_passes}")
        refiner_settings = {"passes": self.refiner_passes != 1, "pieces": self.refiner_pieces}
        asked = [name for name, given in refiner_settings.items() if given]
        if asked and not self.refiner_layers:
            raise ValueError(
                f"[model] refiner_{asked[0]}: this model has no refiner (refiner_layers = 0)"
            )
        if self.refiner_layers and self.kind != "latent":
            raise ValueError('[model] refiner_layers: only kind = "latent" has a decoder to refine')
        if not self.conditions:
            return
        if self.kind != "latent":
            raise ValueError('[model] conditions: only kind = "latent" takes conditions so far')
        from molgan.conditions import CONDITIONS  # RDKit: only for conditioned models

        unknown = sorted(set(self.conditions) - set(CONDITIONS))
        if unknown:
            raise ValueError(
                f"[model] conditions: unknown {unknown}; choose from {list(CONDITIONS)}"
            )
        if len(set(self.conditions)) != len(self.conditions):
            raise ValueError(f"[model] conditions: a name is repeated in {list(self.conditions)}")


@dataclass(frozen=True)
class AutoencoderConfig:
    """The first stage of ``kind = "latent"``: train the graph autoencoder by reconstruction.

    Its steps come before ``[train] steps`` in the same run; ``[train]`` then drives the latent
    GAN (``loss``, ``n_critic``, ``gp_weight``, learning rates, ``batch_size``).
    """

    steps: int = 20000
    """Autoencoder updates (0: start from ``[train] init_from``'s autoencoder)."""
    batch_size: int = 256
    """Molecules per update."""
    lr: float = 5e-4
    """Peak AdamW learning rate of a one-cycle schedule (warm-up 5 %, cosine decay)."""
    latent_noise: float = 0.1
    """Standard deviation of the Gaussian noise added to codes (of unit variance) before decoding,
    so that nearby codes decode to the same molecule (LatentGAN: 0.1)."""
    clip_grad: float = 1.0
    """Gradient-norm clip (0 = off); without it the probe on QM9 diverged at epoch 5."""
    kl_weight: float = 0.0
    """With ``[model] variational``: weight of the KL divergence from ``N(0, I)`` (summed over the
    code's entries, averaged over molecules) beside the reconstruction loss, which is a mean over
    slots plus a mean over pairs (QM9: 9 and 36 per molecule), so a plain VAE's balance is about
    1 / 45 = 0.022 there; 0.001 is the measured recipe (``configs/qm9-latent-vae.toml``)."""
    bond_weight: float = 1.0
    """Weight of the bonds' cross-entropy (a mean over the ``N (N - 1) / 2`` atom pairs) beside
    the atoms' (a mean over the ``N`` slots). Pairs outnumber slots by ``(N - 1) / 2``: 4 for
    QM9, 13 for MOSES's N = 27, where most pairs are trivially "no bond"."""


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation.

    One step is one discriminator update, plus a generator update every ``n_critic`` steps.
    """

    steps: int = 5000
    """Discriminator updates."""
    batch_size: int = 32
    """Real and fake graphs per update (MolGAN: 32)."""
    loss: str = "wgan-gp"
    """``"wgan-gp"`` (MolGAN), ``"minimax"`` (saturating) or ``"nonsaturating"``."""
    n_critic: int = 5
    """Discriminator updates per generator update (MolGAN: 5)."""
    gp_weight: float = 10.0
    """Gradient-penalty weight λ for ``wgan-gp`` (MolGAN: 10)."""
    structure_weight: float = 0.0
    """Weight of ``losses.structure_penalty`` (valence excess + disconnection) in the generator
    loss; 0 = MolGAN's plain adversarial loss."""
    diversity_weight: float = 0.0
    """Weight of ``losses.mode_seeking_loss`` (MSGAN) in the generator loss (0 = off)."""
    entropy_weight: float = 0.0
    """β of the maximum-entropy discriminator regulariser (0 = off)."""
    lr_generator: float = 1e-3
    """Adam learning rate of the generator (MolGAN: 1e-3)."""
    lr_discriminator: float = 1e-3
    """Adam learning rate of the discriminator (MolGAN: 1e-3)."""
    betas: tuple[float, float] = (0.5, 0.999)
    """Adam betas; beta1 = 0.5 as in DCGAN (Radford et al. 2016). MolGAN kept TensorFlow's
    defaults (0.9, 0.999)."""
    tau: float = 1.0
    """Gumbel-softmax temperature."""
    hard: bool = True
    """Straight-through (one-hot forward) Gumbel samples for the discriminator."""
    seed: int = 0
    """Seeds weights, batches, latent draws and Gumbel noise."""
    eval_every: int = 500
    """Steps between strict validity/uniqueness checks of ``eval_samples`` samples."""
    eval_samples: int = 1000
    """Samples per periodic evaluation."""
    log_every: int = 50
    """Steps between log rows (and non-finite loss checks)."""
    checkpoint_every: int = 1000
    """Steps between checkpoints (one is always written at the end)."""
    amp: bool = False
    """bfloat16 autocast on CUDA (ignored on CPU)."""
    compile: str = ""
    """``torch.compile`` the networks of the step: ``"default"``, ``"reduce-overhead"`` (also CUDA
    graphs on a GPU) or ``"max-autotune"``; empty = eager (``molgan.training.acceleration``)."""
    clip_grad: float = 0.0
    """Clip the generator's gradient to this L2 norm before each update (0 = off): guards the RL
    phase against the rare huge step that throws a trained generator into collapse."""
    ema: float = 0.0
    """Decay of an exponential moving average of the generator's weights (e.g. 0.999; Karras et
    al. 2018, Yazici et al. 2019); samples, evaluations and saved models use the average, which
    smooths the oscillations of adversarial training. 0 = off."""
    keep_best: str = ""
    """Also save ``OUT/best/`` whenever an evaluation beats all earlier ones: ``"valid_unique"``
    (validity x uniqueness) or ``"eval_reward"`` (the RL objective on the evaluated sample);
    empty = off. GAN training can collapse late; this keeps the best state seen."""
    init_from: str = ""
    """A checkpoint whose generator and discriminator weights start this run (fine-tuning, e.g.
    an RL objective on top of a trained GAN); optimisers start fresh. Empty: random weights.
    ``kind = "latent"``: every network the checkpoint holds (encoder, decoder, G, critics)."""
    init_refiner: bool = True
    """``kind = "latent"`` with ``init_from``: take the checkpoint's refiner too. False: this run's
    refiner starts fresh on the checkpoint's GAN, e.g. to train a refiner with other inputs or
    depth on a shipped model."""
    init_generator: bool = True
    """``kind = "latent"`` with ``init_from``: take the checkpoint's G and critics too. False:
    only its autoencoder; G, its refiner and the critics start fresh, a new GAN stage on a trained
    autoencoder (e.g. to time a recipe's GAN stage without rerunning the autoencoder)."""
    graph_weight: float = 0.0
    """``kind = "latent"``: weight of the relational-GCN discriminator's adversarial loss on decoded
    graphs in G's loss (graph-space fine-tuning); 0 = the latent critic alone."""
    graph_start: float = 0.0
    """``kind = "latent"``: fraction of ``steps`` after which the graph critic's loss (and the
    decoder's update, with ``train_decoder``) joins G's loss; the critic itself trains from 0."""
    train_decoder: bool = False
    """``kind = "latent"``: let the graph-space terms (graph critic, structure, RL) update the
    decoder too, not only G."""
    train_generator: bool = True
    """``kind = "latent"``: update G's noise map and the latent critic in the GAN stage; false
    keeps both (and so the codes G draws, and where the transport moves them) fixed while the
    decoder (``train_decoder``) or the refiner learn."""
    train_refiner: bool = True
    """``kind = "latent"`` with a refiner: let it learn in this run. False keeps it fixed, taken
    from ``init_from``'s weight average (the refiner that checkpoint samples with), e.g. while RL
    moves G alone."""
    reconstruction_weight: float = 0.0
    """``kind = "latent"`` with ``train_decoder`` or a refiner: weight of the autoencoder's
    reconstruction loss on a batch of training molecules in G's loss (through the refiner, if
    any), so that a decoder tuned by the graph-space terms, or a refiner, still decodes every
    training code to its molecule; 0 = off."""
    reconstruction_noise: float | None = None
    """With ``reconstruction_weight``: the reconstruction term's code noise. Each training code
    gets Gaussian noise of a scale drawn uniformly from 0 to this, so that a refiner learns to
    give back a molecule from what the decoder makes around its code, as far out as G's draws
    land (a denoising target; the decoder itself is judged the same way with ``train_decoder``).
    Unset: the autoencoder's ``latent_noise``, at that fixed scale."""
    valence_target_weight: float = 0.0
    """``kind = "latent"``: weight of the cross-entropy between the graphs decoded from G's codes
    and the same logits decoded through the valence mask (:class:`molgan.sampling.ValenceMask`:
    each bond the likeliest class both atoms' valence allows). With ``train_decoder`` the decoder
    learns the mask's smallest repairs, so that plain samples need no mask; it moves G too (unless
    ``train_generator = false``). With
    ``[model] refiner_layers`` it judges the refined graphs, and the refiner learns the repairs.
    Kekulé vocabularies only; 0 = off."""
    valence_target_every_pass: bool = False
    """With ``valence_target_weight`` and ``[model] refiner_passes`` > 1: the target judges the
    output of every pass of the refiner (deep supervision), not only the last, so that a later
    pass learns to leave what an earlier one repaired (trained on the last alone, the first pass
    is free to do anything)."""
    valence_target_edit_weight: float = 1.0
    """With ``valence_target_weight``: the loss weight of the entries (atoms, atom pairs) where
    the target differs from the decoder's argmax graph, the repairs, against 1 for the rest
    (:func:`molgan.models.autoencoder.edit_weights`). In a plain mean the few repairs of a
    27-atom graph weigh about 2 of its 378 pair entries. 1 = a plain mean."""
    refiner_warm_passes: int = 0
    """``kind = "latent"`` with a refiner that learns: before the passes it is judged on (the
    valence target's and the reconstruction's), each step first applies it a random 0 to this
    many times without gradient, so that it also learns to correct the graphs it reads when it
    samples with more passes than it trains through (``molgan export --refiner-passes``);
    0 = off."""
    valence_target_joins: bool = False
    """With ``valence_target_weight``: the target also joins the pieces a graph is in (the valence
    mask's ``join_pieces``: single bonds between pieces, where the decoder scores them highest),
    so that the repairs it teaches keep a molecule whole."""
    valence_target_aromatize: bool = False
    """With ``valence_target_weight``: the target also completes the aromatic rings a decode
    leaves half made (:func:`molgan.aromatic.aromatize_graphs`: a five- or six-membered ring
    with two double bonds becomes aromatic where the same atoms allow it). QM9 holds no such
    ring diene (none of its 133,885 molecules), a latent model's samples 4 in 100
    (``docs/results.md``, "Half-made aromatic rings")."""
    valence_target_aromatize_draws: int = 0
    """With ``valence_target_aromatize``: extra draws of G per step, decoded without gradient,
    whose decodes have a ring to complete join the valence target of the refiner, each weighted
    as one graph of the batch: about 2 % of samples have one, too few in a batch to learn from.
    0 = none."""

    def __post_init__(self) -> None:
        for name, least in _COUNTS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                kind = "a positive integer" if least else "an integer >= 0"
                raise ValueError(f"[train] {name} must be {kind}, got {value!r}")
        if self.compile not in COMPILE_MODES:
            raise ValueError(
                f"[train] compile must be one of {list(COMPILE_MODES)}, got {self.compile!r}"
            )


COMPILE_MODES = ("", "default", "reduce-overhead", "max-autotune")
"""The values of ``[train] compile``: off, or a ``torch.compile`` mode."""

_COUNTS = {
    "steps": 1,
    "batch_size": 1,
    "n_critic": 1,
    "eval_every": 1,
    "eval_samples": 1,
    "log_every": 1,
    "checkpoint_every": 1,
    "valence_target_aromatize_draws": 0,
    "refiner_warm_passes": 0,
}
"""The ``[train]`` counts and intervals, with their least values (a 0 interval would divide by
zero in the loop)."""


ESTIMATORS = ("network", "reinforce", "code", "feedback")
"""The values of ``[reward] estimator``."""


@dataclass(frozen=True)
class RewardConfig:
    """The reinforcement term that pushes the generator towards RDKit rewards.

    With ``estimator = "network"`` (MolGAN, De Cao & Kipf 2018, Sec. 3.3) a reward network is fit
    to the RDKit rewards and the generator minimises
    ``L_G = gan_weight * L_GAN + (1 - gan_weight) * alpha * L_RL`` with ``L_RL = -E[R(G(z))]``
    and ``alpha = |L_GAN / L_RL|``. With ``"reinforce"`` no network is fit: ``L_RL`` is the
    score-function loss of the sampled graphs' exact rewards (:func:`molgan.losses.reinforce_loss`)
    and ``alpha`` is the constant ``reinforce_scale``. ``"code"`` (latent family only) is the same
    policy gradient with the code as the action: a draw ``c ~ N(G(z), code_noise^2 I)`` decodes
    deterministically, as the model samples, and ``L_RL`` raises the Gaussian log-density of the
    draws that scored well (:func:`molgan.losses.code_log_prob`). ``"feedback"`` (latent family)
    estimates no gradient: as in FBGAN (Gupta & Zou 2019), G's best-scoring molecules' codes take
    the place of training codes among the latent critic's real codes (:mod:`molgan.feedback`).
    """

    terms: tuple[str, ...] = ()
    """Reward names from ``molgan.rewards`` (e.g. ``["qed", "uniqueness"]``); empty = no RL.
    ``"condition_match"`` (with ``[model] conditions``) pays a sample that has the classes its
    generator was asked for."""
    combine: str = "product"
    """``"product"`` of the terms (MolGAN) or weighted ``"mean"``."""
    weights: tuple[float, ...] = ()
    """Per-term weights of ``"mean"`` (default: equal)."""
    gan_weight: float = 0.5
    """λ: the share of the adversarial loss in the generator's loss once RL is on (0 = RL only)."""
    warmup: float = 0.5
    """Fraction of ``train.steps`` trained on the adversarial loss alone (MolGAN: 0.5)."""
    lr: float = 1e-3
    """Adam learning rate of the reward network."""
    n_jobs: int = 2
    """Worker processes that compute RDKit rewards."""
    window: int = 1024
    """Recent generated samples the ``"uniqueness"`` reward counts duplicates against (and
    ``"structure_match"`` counts structure classes over)."""
    real_pool: int = 4096
    """Training molecules the reward network sees as real examples (a fixed seeded subset, so
    their RDKit rewards are computed once and cached; 0 = the whole training set)."""
    estimator: str = "network"
    """How the RL gradient is estimated: ``"network"`` (MolGAN's reward network),
    ``"reinforce"`` (policy gradient on the exact rewards of graphs drawn from the logits;
    steadier, see docs/results.md) or ``"code"`` (policy gradient on the exact rewards of the
    argmax decodes of codes drawn around G's; latent family) or ``"feedback"`` (no gradient: the
    rewards choose the latent critic's real codes; latent family)."""
    reinforce_scale: float = 10.0
    """``"reinforce"`` and ``"code"``: the policy-gradient loss's weight inside the
    ``1 - gan_weight`` share."""
    code_noise: float = 0.2
    """``"code"`` only: the standard deviation of the Gaussian policy around G's codes (codes have
    unit variance over their dimensions; the autoencoder trains with ``latent_noise``)."""
    feedback_every: int = 250
    """``"feedback"`` only: GAN steps between rounds (the first at the GAN stage's start:
    ``warmup``, ``gan_weight`` and ``reinforce_scale`` do not apply to feedback)."""
    feedback_samples: int = 2048
    """``"feedback"`` only: G's draws decoded and scored per round."""
    feedback_size: int = 8192
    """``"feedback"`` only: how many best distinct molecules' codes are kept; they replace as
    many training codes among the critic's real codes (all of them, at or above their count)."""
    code_draws: int = 1
    """``"code"`` only: codes drawn around each of G's codes. Above 1, each G code's draws are
    scored against their own mean (:func:`molgan.losses.reinforce_loss`'s ``groups``), and a
    step scores ``[train] batch_size`` draws of ``batch_size / code_draws`` G codes."""

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise ValueError(
                f"[reward] estimator must be one of {list(ESTIMATORS)}, got {self.estimator!r}"
            )
        if not self.code_noise > 0:
            raise ValueError(f"[reward] code_noise must be > 0, got {self.code_noise}")
        for name in ("feedback_every", "feedback_samples", "feedback_size"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"[reward] {name} must be an integer >= 1, got {value}")
        if not (isinstance(self.code_draws, int) and self.code_draws >= 1):
            raise ValueError(f"[reward] code_draws must be an integer >= 1, got {self.code_draws}")


@dataclass(frozen=True)
class Config:
    """Everything a training run needs."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)

    def __post_init__(self) -> None:
        ae = self.autoencoder
        if self.model.variational:
            if ae.kl_weight <= 0:
                raise ValueError("[model] variational needs [autoencoder] kl_weight > 0")
            if ae.latent_noise:
                raise ValueError(
                    "[model] variational draws the codes' noise from the encoder: "
                    "set [autoencoder] latent_noise = 0"
                )
        elif ae.kl_weight:
            raise ValueError("[autoencoder] kl_weight needs [model] variational = true")
        if self.reward.estimator in ("code", "feedback") and self.model.kind != "latent":
            raise ValueError(
                f'[reward] estimator = "{self.reward.estimator}" draws latent codes: it needs '
                'kind = "latent"'
            )
        if self.reward.estimator in ("code", "feedback") and not self.train.train_generator:
            raise ValueError(
                f'[reward] estimator = "{self.reward.estimator}" moves G: it needs [train] '
                "train_generator = true"
            )
        if self.reward.estimator == "feedback":
            if self.model.conditions or self.train.train_decoder:
                raise ValueError(
                    '[reward] estimator = "feedback" keeps codes of the molecules they decode '
                    "to: it needs a fixed decoder (train_decoder = false) and no [model] conditions"
                )
            if self.model.refiner_layers and self.train.train_refiner:
                raise ValueError(
                    '[reward] estimator = "feedback" keeps codes of the molecules they decode '
                    "to: set [train] train_refiner = false, so that the refiner stays fixed"
                )
            needs_data = {"novelty", "structure_match", "condition_match"} & set(self.reward.terms)
            if needs_data:
                raise ValueError(
                    f'[reward] estimator = "feedback" scores draws alone: {sorted(needs_data)} '
                    "cannot be among its terms"
                )
        train = self.train
        if self.reward.code_draws > 1 and (
            self.reward.estimator != "code" or train.batch_size % self.reward.code_draws
        ):
            raise ValueError(
                '[reward] code_draws > 1 needs estimator = "code" and a [train] batch_size '
                f"divisible by it ({train.batch_size} by {self.reward.code_draws})"
            )
        if not train.train_generator and self.model.kind != "latent":
            raise ValueError(
                '[train] train_generator = false: only kind = "latent" has more to train'
            )
        trains_refiner = self.model.refiner_layers and train.train_refiner
        if not (train.train_generator or train.train_decoder or trains_refiner):
            raise ValueError(
                "[train] train_generator = false leaves nothing to train: set train_decoder = "
                "true or [model] refiner_layers > 0 (with train_refiner = true)"
            )
        if not train.train_refiner and not (
            train.init_from and self.model.refiner_layers and train.init_refiner
        ):
            raise ValueError(
                "[train] train_refiner = false keeps init_from's refiner: set init_from and "
                "[model] refiner_layers, and keep init_refiner = true"
            )
        for name in (
            "valence_target_joins",
            "valence_target_every_pass",
            "valence_target_aromatize",
        ):
            if getattr(train, name) and not train.valence_target_weight:
                raise ValueError(f"[train] {name} needs valence_target_weight > 0")
        if not train.valence_target_edit_weight > 0:
            raise ValueError(
                "[train] valence_target_edit_weight must be > 0, got "
                f"{train.valence_target_edit_weight}"
            )
        if train.valence_target_edit_weight != 1.0 and not train.valence_target_weight:
            raise ValueError("[train] valence_target_edit_weight needs valence_target_weight > 0")
        if train.valence_target_aromatize_draws and not train.valence_target_aromatize:
            raise ValueError(
                "[train] valence_target_aromatize_draws needs valence_target_aromatize = true"
            )
        if train.valence_target_aromatize_draws and not self.model.refiner_layers:
            raise ValueError(
                "[train] valence_target_aromatize_draws trains a refiner: set [model] "
                "refiner_layers > 0"
            )
        if train.valence_target_every_pass and self.model.refiner_passes < 2:
            raise ValueError("[train] valence_target_every_pass needs [model] refiner_passes > 1")
        if train.reconstruction_noise is not None and not (
            train.reconstruction_noise >= 0 and train.reconstruction_weight
        ):
            raise ValueError(
                "[train] reconstruction_noise needs reconstruction_weight > 0 and a scale >= 0, "
                f"got {train.reconstruction_noise}"
            )
        if train.refiner_warm_passes and not trains_refiner:
            raise ValueError(
                "[train] refiner_warm_passes trains a refiner: set [model] refiner_layers > 0 "
                "and keep train_refiner = true"
            )
        if not train.init_generator and not (train.init_from and self.model.kind == "latent"):
            raise ValueError(
                "[train] init_generator = false takes only the autoencoder of [train] init_from: "
                'set init_from, with [model] kind = "latent"'
            )
        if not train.init_generator and not (train.train_generator and train.train_refiner):
            raise ValueError(
                "[train] init_generator = false starts G and its refiner fresh: keep "
                "train_generator and train_refiner true"
            )
        if not train.init_refiner and not (train.init_from and self.model.refiner_layers):
            raise ValueError(
                "[train] init_refiner = false starts a refiner fresh on [train] init_from's "
                "model: set both init_from and [model] refiner_layers"
            )

    def replace(self, **sections: dict[str, Any]) -> Config:
        """A copy with some fields changed, e.g. ``cfg.replace(train={"steps": 10})``."""
        updated = {
            name: dataclasses.replace(getattr(self, name), **changes)
            for name, changes in sections.items()
        }
        return dataclasses.replace(self, **updated)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready nested dict."""
        return dataclasses.asdict(self)


def load_config(path: str | os.PathLike) -> Config:
    """Read a TOML config with optional ``[data]``, ``[model]``, ``[train]``, ``[reward]`` tables.

    The latent family also reads an ``[autoencoder]`` table. A top-level ``base = "other.toml"``
    (relative to this file) starts from that config: this file's keys replace the base's, table by
    table, so a recipe that changes three keys of another states only those three.

    Raises:
        ValueError: On an unreadable file, a TOML syntax error, an unknown table or key, or a
            missing or circular base (named with the file and, for a value, its bases).
    """
    path = Path(path)
    raw, bases = _read_toml(path, ())
    try:
        return config_from_dict(raw)
    except ValueError as err:
        through = f" (with its base {', '.join(map(str, bases))})" if bases else ""
        raise ValueError(f"{path}{through}: {err}") from None


def _read_toml(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], list[Path]]:
    """``path``'s tables merged over those of its ``base`` chain, and the base files read.

    ``chain`` holds the files that led here, to catch a cycle.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        named = f" (the base of {chain[-1]})" if chain else ""
        raise ValueError(f"{path}: no such config file{named}") from None
    except OSError as err:
        raise ValueError(f"{path}: cannot read it ({err.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: invalid TOML ({err})") from None
    base = raw.pop("base", None)
    if base is None:
        return raw, []
    if not isinstance(base, str) or not base.strip():
        raise ValueError(f"{path}: base must be a file name, got {base!r}")
    base_path = path.parent / base
    if base_path.resolve() in {p.resolve() for p in (*chain, path)}:
        raise ValueError(f"{path}: base {base!r} leads back to a config of its own chain")
    merged, bases = _read_toml(base_path, (*chain, path))
    for name, table in raw.items():
        if isinstance(table, dict) and isinstance(merged.get(name), dict):
            merged[name] = {**merged[name], **table}
        else:
            merged[name] = table
    return merged, [base_path, *bases]


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Build a :class:`Config` from nested dicts (TOML tables or a checkpoint's ``config.json``).

    Raises:
        ValueError: On an unknown section or key, or a value of the wrong kind.
    """
    sections = {
        "data": DataConfig,
        "model": ModelConfig,
        "train": TrainConfig,
        "reward": RewardConfig,
        "autoencoder": AutoencoderConfig,
    }
    unknown = set(raw) - set(sections)
    if unknown:
        raise ValueError(f"unknown config section(s) {sorted(unknown)}; valid: {sorted(sections)}")
    built = {}
    for name, cls in sections.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ValueError(f"[{name}] must be a table, got {table!r}")
        values = dict(table)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        bad = set(values) - set(fields)
        if bad:
            raise ValueError(f"unknown key(s) {sorted(bad)} in [{name}]; valid: {sorted(fields)}")
        for key, value in values.items():
            default = getattr(cls(), key)
            if isinstance(default, tuple):
                if not isinstance(value, (list, tuple)):
                    raise ValueError(f"[{name}] {key} must be a list, got {value!r}")
                values[key] = tuple(value)
            elif isinstance(default, bool) and not isinstance(value, bool):
                raise ValueError(f"[{name}] {key} must be true or false, got {value!r}")
            elif isinstance(default, (int, float)) and not isinstance(value, (int, float)):
                raise ValueError(f"[{name}] {key} must be a number, got {value!r}")
        built[name] = cls(**values)
    reward = built["reward"]
    if reward.terms:
        from molgan.rewards import Objective

        try:
            Objective(reward.terms, reward.combine, reward.weights)
        except KeyError as err:
            raise ValueError(f"[reward] {err.args[0]}") from None
        except ValueError as err:
            raise ValueError(f"[reward] {err}") from None
    return Config(**built)


def dump_config(config: Config) -> str:
    """The config as indented JSON text."""
    return json.dumps(config.to_dict(), indent=2)
