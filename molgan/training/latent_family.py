"""The latent family's training step: a graph autoencoder, then a GAN in its code space.

Stage 1 (``[autoencoder] steps``): the encoder and the one-shot decoder learn to reconstruct
training graphs over a canonical atom order, with Gaussian noise on the codes (cross-entropy,
AdamW, one-cycle learning rate, gradient clipping); a variational encoder draws that noise from
its posterior and adds the KL term. Stage 2 (``[train] steps``): the latent GAN of
LatentGAN (Prykhodko et al. 2019): G maps noise to codes, an MLP critic tells them from the
(frozen) encoder's codes of training graphs, with the adversarial losses of ``molgan.losses``.
Optionally, the graph-space game joins in: the relational-GCN discriminator scores decoded graphs
(``[train] graph_weight``), and the structure penalty, mode seeking and the RL term act on them,
exactly as for the MolGAN family (:class:`~molgan.training.GraphGame`). A refiner
(``[model] refiner_layers``) trains in the same stage on G's terms that reach it (reconstruction,
valence target, graph terms); ``[train] train_generator = false`` keeps G and the latent critic
fixed meanwhile. With ``[reward] estimator = "feedback"`` the rewards of G's decoded draws choose
the critic's real codes instead (:mod:`molgan.feedback`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import torch

from molgan.aromatic import aromatize_graphs
from molgan.checkpoint import load_checkpoint
from molgan.conditions import label_molecules
from molgan.config import Config
from molgan.distributed import optimizer_step
from molgan.feedback import FeedbackMemory
from molgan.graph import DenseGraph, MolGraph, graphs_to_mols, graphs_to_smiles
from molgan.losses import get_gan_loss, gradient_penalty
from molgan.models import Discriminator, GraphRefiner
from molgan.models.autoencoder import (
    GraphEncoder,
    LatentCritic,
    LatentGenerator,
    edit_weights,
    kl_divergence,
    reconstruction_loss,
    valence_target,
)
from molgan.models.transport import configured_transport
from molgan.rewards import Objective, RewardScorer
from molgan.sampling import ValenceMask, forward_batch, logits_to_graph, sample_dense_graph
from molgan.training.acceleration import autocast, compiled
from molgan.training.graph_game import GraphGame, real_batch
from molgan.vocab import Vocabulary

__all__ = ["LatentFamily", "encode_graphs", "one_cycle_lr", "reconstruction_rate"]

_EVAL_GRAPHS = 1000  # training graphs whose exact reconstruction each evaluation reports
_WARMUP = 0.05  # share of the autoencoder steps spent warming the learning rate up


class LatentFamily:
    """The autoencoder, the latent GAN and (optionally) the graph critic, with their steps.

    Args:
        config: The run's configuration (``[model] kind = "latent"``).
        vocab: The graph vocabulary.
        graphs: The training set on ``device``, in a canonical atom order.
        device: Where the networks live.
        rng: The run's seeded generator (batches, noise, Gumbel draws, GP weights).
    """

    losses = ("loss_ae", "loss_d", "loss_g", "loss_graph_d")
    """The names of the losses :meth:`train_step` returns, in log order."""
    metrics = ("reconstruction",)
    """The names of the metrics :meth:`evaluate` returns."""

    def __init__(
        self,
        config: Config,
        vocab: Vocabulary,
        graphs: MolGraph,
        device: torch.device,
        rng: torch.Generator,
    ) -> None:
        cfg, model = config.train, config.model
        if config.data.atom_order == "input":
            raise ValueError(
                'kind = "latent" decodes atoms into fixed slots, so it needs a canonical order: '
                'set [data] atom_order = "smiles" or "bfs"'
            )
        self.config, self.vocab, self.graphs, self.device, self.rng = (
            config,
            vocab,
            graphs,
            device,
            rng,
        )
        self.ae_steps = config.autoencoder.steps
        self.pre_steps = self.ae_steps  # the autoencoder stage comes before [train] steps
        self.init_weights: dict[str, dict] | None = None
        self.gan_loss = get_gan_loss(cfg.loss)
        with torch.random.fork_rng(devices=[]):  # seeded weights, global RNG left untouched
            torch.manual_seed(cfg.seed)
            self.encoder = GraphEncoder.from_config(model, vocab).to(device)
            self.generator = LatentGenerator.from_config(model, vocab).to(device)
            self.critic = LatentCritic.for_generator(model, self.generator).to(device)
            discriminator = (
                Discriminator.from_config(model, vocab).to(device) if cfg.graph_weight else None
            )
            self.game = GraphGame(
                config,
                vocab,
                graphs,
                device,
                rng,
                discriminator,
                rl_start=self.ae_steps + int(config.reward.warmup * cfg.steps),
            )
        self._conditions = self._fit_conditions() if model.conditions else None  # [M, C]
        self._asks = "condition_match" in config.reward.terms
        reward = config.reward
        self.feedback = (
            FeedbackMemory(
                Objective(reward.terms, reward.combine, reward.weights),
                reward.feedback_size,
                reward.n_jobs,
            )
            if reward.terms and reward.estimator == "feedback"
            else None
        )
        if cfg.init_from:
            self._init_from(cfg.init_from)
        self.decoder = self.generator.decoder
        ae_params = [*self.encoder.parameters(), *self.decoder.parameters()]
        self.opt_ae = torch.optim.AdamW(ae_params, lr=config.autoencoder.lr)
        self.refiner = self.generator.refiner
        g_params = list(self.generator.noise_map.parameters()) if cfg.train_generator else []
        if cfg.train_decoder:
            g_params += list(self.decoder.parameters())
        if self.refiner is not None:
            if cfg.train_refiner:
                g_params += list(self.refiner.parameters())
            else:  # fixed: gradients still pass through it to G
                self.refiner.requires_grad_(False)
        self.opt_g = torch.optim.Adam(g_params, lr=cfg.lr_generator, betas=cfg.betas)
        self.opt_c = torch.optim.Adam(
            self.critic.parameters(), lr=cfg.lr_discriminator, betas=cfg.betas
        )
        self.game.build_optimizer()
        self._graph_start = self.ae_steps + int(cfg.graph_start * cfg.steps)
        self._valence_mask = (
            ValenceMask(vocab, join_pieces=cfg.valence_target_joins)
            if cfg.valence_target_weight
            else None
        )
        self._complete_rings = (
            partial(aromatize_graphs, vocab=vocab) if cfg.valence_target_aromatize else None
        )
        if not cfg.train_generator:
            self._check_fixed_generator()
        self.transport = configured_transport(model, self.critic)
        self._frozen = False
        # The step's forward passes (compiled with [train] compile); the gradient penalty's
        # double backward calls the eager critic.
        self._encode = compiled(self.encoder.posterior, cfg.compile)
        self._decode = compiled(self.decoder, cfg.compile)
        self._generate = compiled(self.generator.decode, cfg.compile)  # decoder, then refiner
        self._refine = (
            compiled(self.refiner.every_pass, cfg.compile) if self.refiner is not None else None
        )
        self._codes_of = compiled(self.generator.codes, cfg.compile)
        self._critique = compiled(self.critic, cfg.compile)

    @property
    def discriminator(self) -> Discriminator | None:
        """The relational-GCN critic of decoded graphs (``None`` without ``graph_weight``)."""
        return self.game.discriminator

    @property
    def scorer(self) -> RewardScorer | None:
        """What scores ``[reward] terms``: the feedback memory's or the reward learner's."""
        return self.feedback.scorer if self.feedback is not None else self.game.scorer

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        """An autoencoder update before ``[autoencoder] steps``, a latent GAN step after."""
        if step < self.ae_steps:
            return self._autoencoder_step(step)
        return self._gan_step(step)

    def evaluate(self) -> dict[str, float]:
        """Exact reconstruction of the first 1,000 training graphs (codes without noise).

        Through the refiner, if any: the one being trained, not its weight average.
        """
        graphs = MolGraph(self.graphs.atoms[:_EVAL_GRAPHS], self.graphs.bonds[:_EVAL_GRAPHS])
        rate = reconstruction_rate(self.encoder, self.decoder, graphs, self.refiner)
        return {"reconstruction": rate}

    def state(self) -> tuple[dict[str, dict], dict[str, dict], dict[str, Any]]:
        """Weights, optimiser states and JSON extras to checkpoint (the loop adds G's weights)."""
        weights, optimizers, extra = self.game.state()
        weights.update(encoder=self.encoder.state_dict(), latent_critic=self.critic.state_dict())
        if self.feedback is not None:
            weights["feedback"], extra["feedback_smiles"] = self.feedback.state()
        optimizers.update(
            autoencoder=self.opt_ae.state_dict(),
            generator=self.opt_g.state_dict(),
            latent_critic=self.opt_c.state_dict(),
        )
        return weights, optimizers, extra

    def load_state(
        self, weights: dict[str, dict], optimizers: dict[str, dict], extra: dict[str, Any]
    ) -> None:
        """Restore :meth:`state` (the generator's weights are loaded by the loop)."""
        self.encoder.load_state_dict(weights["encoder"])
        self.critic.load_state_dict(weights["latent_critic"])
        self.opt_ae.load_state_dict(optimizers["autoencoder"])
        self.opt_g.load_state_dict(optimizers["generator"])
        self.opt_c.load_state_dict(optimizers["latent_critic"])
        self.game.load_state(weights, optimizers, extra)
        if self.feedback is not None:
            self.feedback.load_state(weights["feedback"], extra["feedback_smiles"])

    def close(self) -> None:
        """Stop the reward workers."""
        self.game.close()
        if self.feedback is not None:
            self.feedback.close()

    # -- the stages ----------------------------------------------------------------------------

    def _autoencoder_step(self, step: int) -> dict[str, torch.Tensor]:
        ae = self.config.autoencoder
        for group in self.opt_ae.param_groups:
            group["lr"] = one_cycle_lr(step, self.ae_steps, ae.lr)
        with autocast(self.config.train.amp, self.device):
            real = real_batch(self.graphs, ae.batch_size, self.rng, self.vocab)
            codes, log_var = self._encode(real)
            loss = self._reconstruction_loss(codes, real, log_var)
            if log_var is not None:
                loss = loss + ae.kl_weight * kl_divergence(codes, log_var)
        optimizer_step(loss, self.opt_ae, ae.clip_grad)
        return {"loss_ae": loss}

    def _gan_step(self, step: int) -> dict[str, torch.Tensor]:
        cfg = self.config.train
        gan_step = step - self.ae_steps
        if not self._frozen:
            self._freeze_autoencoder()
        if self.feedback is not None and gan_step % self.config.reward.feedback_every == 0:
            self._feedback_round()
        with autocast(self.config.train.amp, self.device):
            idx = self._code_batch()
            real_codes = self._codes[idx]  # [B, Z]
            condition = None if self._conditions is None else self._conditions[idx]  # [B, C]
            with torch.no_grad():  # with conditions, fakes are drawn with the real batch's
                noise = self.generator.sample_z(cfg.batch_size, self.rng, condition=condition)
                fake_codes = self._codes_of(noise)  # [B, Z]
        losses = {}
        if cfg.train_generator:  # a fixed G pauses the latent game: the critic stays as it is
            losses["loss_d"] = self._critic_step(real_codes, fake_codes, noise, condition)
        action = None
        if self.discriminator is not None or self.game.rewards is not None:
            with autocast(self.config.train.amp, self.device), torch.no_grad():
                if self.game.reads_codes:  # as the model samples: the argmax of drawn codes
                    draws = self.config.reward.code_draws
                    noise = self._moved(noise[: len(noise) // draws]).repeat_interleave(draws, 0)
                    action = self._draw_codes(self._codes_of(noise))
                    fake = logits_to_graph(self._generate(action)).one_hot(self.vocab)
                else:
                    fake_logits = self._generate(self._graph_codes(fake_codes, noise))
                    fake = sample_dense_graph(fake_logits, cfg.tau, cfg.hard, self.rng)
            if self.discriminator is not None:
                real = MolGraph(self.graphs.atoms[idx], self.graphs.bonds[idx]).one_hot(self.vocab)
                with autocast(self.config.train.amp, self.device):
                    loss_graph_d = self.game.discriminator_loss(real, fake)
                self.game.update_discriminator(loss_graph_d)
                losses["loss_graph_d"] = loss_graph_d
            # What "condition_match" checks the samples for (one-hot; read in the reward thread).
            asked = self.generator.conditions_of(noise) if self._asks else None
            self.game.observe(fake, noise, asked, action)
        if (gan_step + 1) % cfg.n_critic == 0:
            with autocast(self.config.train.amp, self.device):
                noise = self.generator.sample_z(cfg.batch_size, self.rng)
                codes = self._codes_of(noise)
                loss_g = codes.new_zeros(())  # a fixed G has no adversarial term to learn from
                if cfg.train_generator:
                    critic_in = self._critic_input(codes, self.generator.conditions_of(noise))
                    loss_g = self.gan_loss.generator(self._critique(critic_in))
                if self.game.reads_codes:
                    loss_g = self.game.reward_term(loss_g, None, self.generator, step)
                in_graphs = step >= self._graph_start and self.game.uses_graphs
                warm = self._warm_passes()
                if in_graphs or self._valence_mask is not None:
                    graph_codes = self._graph_codes(codes, noise)
                    decoded = self._decode(graph_codes)
                    passes = (
                        [decoded]
                        if self.refiner is None
                        else self._refine(decoded, graph_codes, warm)
                    )
                    logits = passes[-1]
                if in_graphs:
                    fake = sample_dense_graph(logits, cfg.tau, cfg.hard, self.rng)
                    if self.discriminator is not None:
                        loss_g = loss_g + cfg.graph_weight * self.game.adversarial_loss(fake)
                    loss_g = self.game.generator_terms(
                        loss_g, noise, logits, fake, self.generator, step
                    )
                if self._valence_mask is not None:
                    # A refiner learns the repairs of what the decoder decodes (a fixed target,
                    # one decode per step).
                    target = valence_target(decoded, self._valence_mask, self._complete_rings)
                    loss = self._judged_loss(passes, target, decoded)
                    if cfg.valence_target_aromatize_draws:
                        draws = cfg.valence_target_aromatize_draws
                        loss = loss + self._completion_loss(draws, warm)
                    loss_g = loss_g + cfg.valence_target_weight * loss
                if (cfg.train_decoder or self.refiner is not None) and cfg.reconstruction_weight:
                    loss_g = loss_g + cfg.reconstruction_weight * self._reconstruction(warm)
            optimizer_step(loss_g, self.opt_g, cfg.clip_grad)
            losses["loss_g"] = loss_g
        return losses

    def _check_fixed_generator(self) -> None:
        """With ``train_generator = false``: a trained G to keep, and a term to train the rest.

        Raises:
            ValueError: No ``init_from`` checkpoint whose GAN stage had begun, or no term
                (reconstruction, valence target, graph terms) for the decoder or refiner.
        """
        cfg = self.config.train
        if self.init_weights is None:
            raise ValueError(
                "[train] train_generator = false keeps G as it is: set init_from to a checkpoint "
                "whose GAN stage has begun"
            )
        if not (cfg.reconstruction_weight or cfg.valence_target_weight or self.game.uses_graphs):
            raise ValueError(
                "[train] train_generator = false: no term trains the decoder or refiner; set "
                "reconstruction_weight, valence_target_weight or a graph term"
            )

    def _critic_step(
        self,
        real_codes: torch.Tensor,
        fake_codes: torch.Tensor,
        noise: torch.Tensor,
        condition: torch.Tensor | None,
    ) -> torch.Tensor:
        """One update of the latent critic on real and G's codes; returns its loss."""
        cfg = self.config.train
        with autocast(cfg.amp, self.device):
            real_in = self._critic_input(real_codes, condition)
            fake_in = self._critic_input(fake_codes, self.generator.conditions_of(noise))
            loss_d = self.gan_loss.discriminator(self._critique(real_in), self._critique(fake_in))
            if self.gan_loss.uses_gradient_penalty:
                loss_d = loss_d + cfg.gp_weight * gradient_penalty(
                    self.critic, real_in, fake_in, self.rng
                )
        optimizer_step(loss_d, self.opt_c)
        return loss_d

    def _moved(self, noise: torch.Tensor) -> torch.Tensor:
        """Noise as the model samples it: moved by the transport, if any (without gradient)."""
        return noise if self.transport is None else self.transport(self.generator, noise)

    def _draw_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """The ``"code"`` policy's draws around ``codes`` (``[reward] code_noise``)."""
        noise = torch.randn(codes.shape, generator=self.rng, device=self.rng.device)
        return codes + self.config.reward.code_noise * noise.to(codes.device)

    def _graph_codes(self, codes: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """The codes the graph terms decode, as the model samples them.

        G's own, or with ``[model] transport_steps`` G's codes of the moved noise. The graph
        terms (reward, graph critic, valence target) then judge what the model samples; the move
        is held fixed, G's gradient at the moved noise is exact.
        """
        if self.transport is None:
            return codes
        return self._codes_of(self._moved(noise))

    def _completion_loss(self, draws: int, warm: int = 0) -> torch.Tensor:
        """The valence target's loss on the extra draws whose decode has a ring to complete.

        ``draws`` draws of G (``[train] valence_target_aromatize_draws``; G's own codes, not
        moved by the transport, which would only cost time here) are decoded without gradient;
        the refiner is judged on those whose target completes an aromatic ring, each weighted as
        one graph of the step's batch. ``warm``: the refiner's unjudged passes first.
        """
        noise = self.generator.sample_z(draws, self.rng)
        with torch.no_grad():
            codes = self._codes_of(noise)
            decoded = self._decode(codes)
            plain = self._valence_mask.decode(decoded)
            done = self._complete_rings(plain)
        rows = (done.bonds != plain.bonds).flatten(1).any(-1)  # [draws]
        if not rows.any():
            return codes.new_zeros(())
        decoded = DenseGraph(decoded.atoms[rows], decoded.bonds[rows])
        target = MolGraph(done.atoms[rows], done.bonds[rows]).one_hot(self.vocab)
        loss = self._judged_loss(self._refine(decoded, codes[rows], warm), target, decoded)
        return loss * rows.sum() / self.config.train.batch_size  # each draw counts as one graph

    def _judged_loss(
        self, passes: list[DenseGraph], target: DenseGraph, decoded: DenseGraph
    ) -> torch.Tensor:
        """The mean loss of the judged passes against one fixed target, a repair of ``decoded``.

        All passes with ``[train] valence_target_every_pass``, else the last; the repairs
        weighted by ``[train] valence_target_edit_weight``.
        """
        cfg = self.config.train
        judged = passes if cfg.valence_target_every_pass else passes[-1:]
        weights = None
        if cfg.valence_target_edit_weight != 1.0:
            weights = edit_weights(decoded, target, cfg.valence_target_edit_weight)
        losses = [reconstruction_loss(out, target, weights=weights) for out in judged]
        return sum(losses) / len(losses)

    def _reconstruction(self, warm: int = 0) -> torch.Tensor:
        """The autoencoder's loss on a batch of training codes, with its training noise.

        Through the refiner, if there is one, after ``warm`` unjudged passes of it. A variational
        encoder's codes are its posterior means, decoded without noise. With ``[train]
        reconstruction_noise`` each code's noise scale is drawn from 0 to it.
        """
        idx = self._code_batch()
        real = MolGraph(self.graphs.atoms[idx], self.graphs.bonds[idx]).one_hot(self.vocab)
        decode = self._generate
        if warm:
            decode = lambda codes: self._refine(self._decode(codes), codes, warm)[-1]  # noqa: E731
        codes, most = self._data_codes[idx], self.config.train.reconstruction_noise
        scale = None
        if most is not None:
            draws = torch.rand(len(idx), 1, generator=self.rng, device=self.rng.device)
            scale = most * draws.to(codes.device)
        return self._reconstruction_loss(codes, real, decode=decode, scale=scale)

    def _warm_passes(self) -> int:
        """How many unjudged refiner passes this step runs first ([train] refiner_warm_passes)."""
        most = self.config.train.refiner_warm_passes
        if not most:
            return 0
        return int(torch.randint(most + 1, (1,), generator=self.rng, device=self.rng.device))

    def _reconstruction_loss(
        self,
        codes: torch.Tensor,
        real: DenseGraph,
        log_var: torch.Tensor | None = None,
        decode: Callable[[torch.Tensor], DenseGraph] | None = None,
        scale: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The autoencoder's loss of ``real`` decoded from ``codes`` plus its training noise.

        Its scale is ``scale`` if given, else ``[autoencoder] latent_noise``, or the posterior's
        ``exp(log_var / 2)``. ``decode``: what maps the noisy codes to logits (default: the
        decoder).
        """
        ae = self.config.autoencoder
        noise = torch.randn(codes.shape, generator=self.rng, device=self.rng.device)
        if scale is None:
            scale = ae.latent_noise if log_var is None else (0.5 * log_var).exp()
        logits = (decode or self._decode)(codes + scale * noise.to(codes.device))
        return reconstruction_loss(logits, real, ae.bond_weight)

    def _code_batch(self) -> torch.Tensor:
        """``[B]`` indices of training codes drawn with replacement (``B``: [train] batch_size)."""
        size = (self.config.train.batch_size,)
        return torch.randint(len(self._codes), size, generator=self.rng, device=self.rng.device)

    def _critic_input(self, codes: torch.Tensor, conditions: torch.Tensor | None) -> torch.Tensor:
        """What the latent critic reads: codes ``[B, Z]``, then any one-hot conditions."""
        return codes if self._conditions is None else torch.cat([codes, conditions], dim=1)

    def _fit_conditions(self) -> torch.Tensor:
        """One-hot conditions ``[M, C]`` of the training graphs; fits G's prior to their mix."""
        names = self.config.model.conditions
        graphs = MolGraph(self.graphs.atoms.cpu(), self.graphs.bonds.cpu())
        mols = [mol for batch in _chunks(graphs, 4096) for mol in graphs_to_mols(batch, self.vocab)]
        if any(mol is None for mol in mols):
            raise ValueError("[model] conditions: a training graph does not decode to a molecule")
        labels = torch.as_tensor(label_molecules(mols, names), device=self.device)  # [M, C]
        self.generator.prior.fit(labels)
        return self.generator.prior.one_hot(labels)

    def _freeze_autoencoder(self) -> None:
        """From the GAN stage on the encoder is fixed, and the decoder too unless trained.

        The codes of all training graphs are computed once here (the critic's real samples).
        """
        self.encoder.eval().requires_grad_(False)
        self.decoder.requires_grad_(self.config.train.train_decoder)
        self.generator.noise_map.requires_grad_(self.config.train.train_generator)
        self._data_codes = encode_graphs(self.encoder, self.graphs)  # [M, Z]
        self._codes = self._real_codes()
        self._frozen = True

    def _real_codes(self) -> torch.Tensor:
        """The critic's real codes ``[M, Z]``: the training codes, or with feedback partly its."""
        if self.feedback is None:
            return self._data_codes
        return self.feedback.real_codes(self._data_codes)

    @torch.no_grad()
    def _feedback_round(self) -> None:
        """One feedback round: G's draws decoded as the model samples them, scored and kept.

        As the model samples them, up to G's weights: the G being trained draws, not its weight
        average.

        ``[reward] feedback_samples`` draws; the best-scoring molecules' codes become the
        critic's real codes.
        """
        left, chunk = self.config.reward.feedback_samples, self.config.train.batch_size
        codes, smiles = [], []
        while left > 0:
            noise = self.generator.sample_z(min(chunk, left), self.rng)
            with autocast(self.config.train.amp, self.device):
                codes.append(self._codes_of(self._moved(noise)))
                ids = logits_to_graph(self._generate(codes[-1]))
            smiles += graphs_to_smiles(MolGraph(ids.atoms.cpu(), ids.bonds.cpu()), self.vocab)
            left -= len(noise)
        self.feedback.add(torch.cat(codes), smiles)  # scored as one set (its uniqueness term)
        self._codes = self._real_codes()

    def _init_from(self, path: str) -> None:
        """Load what a checkpoint has trained.

        The autoencoder always; G (with its refiner, unless ``[train] init_refiner`` is false;
        the weight average's refiner with ``train_refiner = false``) and the critics if its GAN
        stage had begun and ``init_generator`` is true. A checkpoint of the MolGAN family is
        refused.
        """
        checkpoint = load_checkpoint(path, map_location=self.device)
        if checkpoint.config.model.kind != "latent" or checkpoint.vocab != self.vocab:
            raise ValueError(f"init_from {path}: not a latent-family checkpoint of this vocabulary")
        if "encoder" not in checkpoint.weights:
            raise ValueError(f"init_from {path}: holds no encoder (an inference-only export?)")
        weights = checkpoint.weights
        self.encoder.load_state_dict(weights["encoder"])
        trained_gan = checkpoint.step > checkpoint.config.autoencoder.steps
        take_gan = trained_gan and self.config.train.init_generator
        theirs, ours = checkpoint.config.model.conditions, self.config.model.conditions
        if take_gan and theirs != ours:  # G and the critic cannot take other inputs
            warnings.warn(
                f"init_from {path}: its G has conditions {list(theirs)}, this run "
                f"{list(ours)}; only its autoencoder is taken, G and the critic start fresh",
                stacklevel=2,
            )
            take_gan = False
        if take_gan:
            average = weights.get("generator_ema", weights["generator"])
            # A G that stays fixed is the one the checkpoint samples with: its weight average.
            own = weights["generator"] if self.config.train.train_generator else average
            if not self.config.train.train_refiner:  # kept as the checkpoint samples with it
                own = {**own, **{k: v for k, v in average.items() if k.startswith("refiner.")}}
            if not self.config.train.init_refiner:  # this run's refiner starts fresh
                average, own = (
                    {k: v for k, v in part.items() if not k.startswith("refiner.")}
                    for part in (average, own)
                )
            try:
                missing, unexpected = self.generator.load_state_dict(own, strict=False)
            except RuntimeError as err:  # a tensor of another shape
                raise ValueError(
                    f"init_from {path}: its G does not fit this config's [model]"
                    f" ({str(err).splitlines()[1].strip()})"
                ) from None
            # Only a refiner the checkpoint lacks altogether may start fresh.
            fresh_refiner = not any(key.startswith("refiner.") for key in own)
            if fresh_refiner and not self.config.train.train_refiner:
                raise ValueError(
                    f"init_from {path}: holds no refiner for train_refiner = false to keep"
                )
            if unexpected or any(not (fresh_refiner and k.startswith("refiner.")) for k in missing):
                raise ValueError(
                    f"init_from {path}: its G does not fit this config's [model] "
                    f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
                )
            self.critic.load_state_dict(weights["latent_critic"])
            if self.discriminator is not None and "discriminator" in weights:
                self.discriminator.load_state_dict(weights["discriminator"])
            # A new refiner starts the weight average as it starts G: from its fresh weights.
            fresh = {k: v for k, v in self.generator.state_dict().items() if k in missing}
            self.init_weights = {**weights, "generator_ema": {**average, **fresh}}
        else:  # only the decoder of G is trained yet; G's own MLP keeps this run's seed
            if not self.config.train.train_refiner:
                raise ValueError(
                    f"init_from {path}: its G is not trained yet (or takes other conditions), so "
                    "it has no refiner for train_refiner = false to keep"
                )
            decoder = {
                k.removeprefix("decoder."): v
                for k, v in weights["generator"].items()
                if k.startswith("decoder.")
            }
            self.generator.decoder.load_state_dict(decoder)


def one_cycle_lr(step: int, total: int, peak: float) -> float:
    """Linear warm-up over the first 5 % of ``total`` steps, then cosine decay to 0.

    Examples:
        >>> [round(one_cycle_lr(s, 100, 1.0), 3) for s in (0, 4, 5, 52, 100)]
        [0.2, 1.0, 1.0, 0.508, 0.0]
    """
    warmup = max(1, int(_WARMUP * total))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


@torch.no_grad()
def encode_graphs(encoder: GraphEncoder, graphs: MolGraph, batch_size: int = 1024) -> torch.Tensor:
    """The codes ``[M, Z]`` of graphs ``atoms [M, N]``, ``bonds [M, N, N]`` (no noise).

    In batches of ``batch_size``, fewer on the CPU (:func:`molgan.sampling.forward_batch`).
    """
    batch_size = forward_batch(batch_size, encoder.vocab.max_atoms, _device(encoder))
    return torch.cat(
        [encoder(batch.one_hot(encoder.vocab)) for batch in _chunks(graphs, batch_size)]
    )


@torch.no_grad()
def reconstruction_rate(
    encoder: GraphEncoder,
    decoder: torch.nn.Module,
    graphs: MolGraph,
    refiner: GraphRefiner | None = None,
    batch_size: int = 1024,
) -> float:
    """The fraction of graphs whose decoded (and refined) code gives back exactly the same graph.

    Equal class ids in a canonical atom order is equal canonical SMILES (the codec is exact).
    In batches of ``batch_size``, fewer on the CPU (:func:`molgan.sampling.forward_batch`).
    """
    modules = [m for m in (encoder, decoder, refiner) if m is not None]
    was_training = [m.training for m in modules]
    for module in modules:
        module.eval()
    batch_size = forward_batch(batch_size, encoder.vocab.max_atoms, _device(encoder))
    exact = 0
    for batch in _chunks(graphs, batch_size):
        codes = encoder(batch.one_hot(encoder.vocab))
        logits = decoder(codes)
        decoded = logits_to_graph(logits if refiner is None else refiner(logits, codes))
        same_atoms = (decoded.atoms == batch.atoms.long()).all(-1)
        same_bonds = (decoded.bonds == batch.bonds.long()).flatten(1).all(-1)
        exact += int((same_atoms & same_bonds).sum())
    for module, mode in zip(modules, was_training):
        module.train(mode)
    return exact / max(1, len(graphs.atoms))


def _device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def _chunks(graphs: MolGraph, batch_size: int) -> Iterator[MolGraph]:
    """Consecutive slices of at most ``batch_size`` graphs."""
    for start in range(0, len(graphs.atoms), batch_size):
        yield MolGraph(
            graphs.atoms[start : start + batch_size], graphs.bonds[start : start + batch_size]
        )
