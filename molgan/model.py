"""The user-facing model: load a trained MolGAN, sample molecules, train one, save it.

``MolGAN`` mirrors the command line: ``MolGAN.load(path)`` (``molgan sample --checkpoint``),
``.sample(n, seed=...)`` (``molgan sample``), ``MolGAN.train(config)`` (``molgan train``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import torch
from rdkit import Chem
from torch_geometric.data import Batch

from molgan.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from molgan.chem import quiet_rdkit, strict_smiles
from molgan.conditions import resolve_conditions
from molgan.config import Config
from molgan.data import MoleculeDataset, derive_vocabulary, graphs_to_batch
from molgan.distributed import World
from molgan.filters import filter_smiles
from molgan.graph import MolGraph, graphs_to_mols
from molgan.io import atomic_file, read_smiles, write_sample_record
from molgan.models import GraphGenerator, LatentCritic, build_generator
from molgan.models.transport import CriticTransport, configured_transport
from molgan.progress import ProgressBar
from molgan.sampling import ValenceMask, generate_graphs
from molgan.streaming import decode_stream
from molgan.training import Trainer, resolve_device
from molgan.vocab import Vocabulary

__all__ = ["MolGAN", "SHIPPED_MODELS", "DEFAULT_CHECKPOINT", "load_training_graphs"]

logger = logging.getLogger(__name__)

SHIPPED_MODELS = Path(__file__).resolve().parent.parent / "checkpoints"
"""The pretrained models that ship with molgan, one directory each (``qm9``, ``qm9-qed``)."""
DEFAULT_CHECKPOINT = SHIPPED_MODELS / "qm9"


class MolGAN:
    """A trained generator of any model family, with its vocabulary and configuration.

    Args:
        generator: The generator network (``[model] kind`` says which family's).
        vocab: The vocabulary its graphs are written in.
        config: The configuration it was built and trained with.
        critic: The latent family's latent critic, which ``[model] transport_steps`` samples
            with (:class:`molgan.models.transport.CriticTransport`); ``None`` for MolGAN.
    """

    def __init__(
        self,
        generator: GraphGenerator,
        vocab: Vocabulary,
        config: Config,
        critic: torch.nn.Module | None = None,
    ) -> None:
        self.generator, self.vocab, self.config, self.critic = generator, vocab, config, critic

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, device: str | None = "cpu") -> MolGAN:
        """Load a checkpoint directory, or a shipped model by name (default: ``"qm9"``).

        Args:
            path: A checkpoint directory (or a training folder holding ``checkpoint/``), or the
                name of a directory in :data:`SHIPPED_MODELS` such as ``"qm9-qed"``.
            device: Where the generator runs.
        """
        path = Path(path) if path is not None else DEFAULT_CHECKPOINT
        if not path.exists() and (SHIPPED_MODELS / path).is_dir():
            path = SHIPPED_MODELS / path
        checkpoint = load_checkpoint(path)
        generator = build_generator(checkpoint.config.model, checkpoint.vocab)
        # A run with ``train.ema`` samples from the weight average.
        weights = checkpoint.weights.get("generator_ema", checkpoint.weights["generator"])
        generator.load_state_dict(weights)
        device = resolve_device(device)
        critic = None
        if "latent_critic" in checkpoint.weights:
            critic = LatentCritic.for_generator(checkpoint.config.model, generator)
            critic.load_state_dict(checkpoint.weights["latent_critic"])
            critic = critic.to(device).eval().requires_grad_(False)
        return cls(generator.to(device).eval(), checkpoint.vocab, checkpoint.config, critic)

    @classmethod
    def train(
        cls,
        config: Config,
        out_dir: str | os.PathLike | None = None,
        *,
        device: str | None = None,
        resume: bool = False,
        progress: bool = True,
        world: World | None = None,
    ) -> MolGAN:
        """Train from ``config`` (or resume ``out_dir/checkpoint``) and return the model.

        ``world``: this process's rank under ``torchrun`` (:func:`molgan.distributed.init_world`);
        rank 0 featurises and caches the data first, the other ranks then read the cache.
        """
        world = world or World()
        if not world.is_main:
            world.barrier()
        vocab, graphs = load_training_graphs(config, progress=progress and world.is_main)
        if world.is_main:
            world.barrier()
        if resume:
            if out_dir is None or not (Path(out_dir) / "checkpoint").is_dir():
                raise ValueError(f"--resume: no checkpoint under {out_dir}")
            trainer = Trainer.from_checkpoint(
                Path(out_dir) / "checkpoint",
                graphs,
                device=device,
                out_dir=out_dir,
                progress=progress,
                world=world,
            )
            trainer.config = config  # a longer --steps may extend the resumed run
        else:
            trainer = Trainer(
                config,
                vocab,
                graphs,
                device=device,
                out_dir=out_dir,
                progress=progress,
                world=world,
            )
        trainer.fit()
        critic = getattr(trainer.module, "critic", None)  # the latent family's latent critic
        return cls(trainer.sampler.eval(), vocab, config, critic)

    @property
    def conditions(self) -> tuple[str, ...]:
        """The conditions the model can be asked for (``[model] conditions``; may be empty)."""
        return tuple(self.config.model.conditions)

    def sample_graphs(
        self,
        n: int,
        seed: int = 0,
        batch_size: int = 4096,
        condition: Mapping[str, object] | None = None,
        valence_mask: bool = False,
    ) -> Iterator[MolGraph]:
        """Draw ``n`` graphs in chunks of ``batch_size`` (class ids on the CPU).

        ``condition`` fixes some of the model's :attr:`conditions` by value, e.g.
        ``{"heavy_atoms": 7}``; the others follow the training data given them.
        ``valence_mask`` decodes every bond as the likeliest class both atoms' valence allows
        (:class:`molgan.sampling.ValenceMask`): a correction, so what it gives is reported apart
        from the strict numbers.

        Raises:
            ConditionError: A condition the model lacks, a value outside its classes, or a
                combination no training molecule has.
            ValueError: ``valence_mask`` with a vocabulary of aromatic bonds.
        """
        device = next(self.generator.parameters()).device
        rng = torch.Generator(device=device).manual_seed(seed)
        draws = self.sample_draws(n, rng, batch_size, condition, valence_mask)
        return (graphs for graphs, _ in draws)

    def sample_draws(
        self,
        n: int,
        rng: torch.Generator,
        batch_size: int = 4096,
        condition: Mapping[str, object] | None = None,
        valence_mask: bool = False,
        transport: CriticTransport | None = None,
    ) -> Iterator[tuple[MolGraph, torch.Tensor]]:
        """:meth:`sample_graphs`' draws from ``rng``, each chunk with the noise G mapped.

        Every sampling setting is the model's own (temperature, min-p, noise scale, refiner
        passes, transport), so a caller that needs G's codes beside the graphs draws exactly as
        the model samples. ``transport`` replaces the model's own (e.g. one that climbs another
        objective); ``None`` keeps it. ``condition`` and ``valence_mask`` as in
        :meth:`sample_graphs`, checked when called, before the first chunk is drawn.
        """
        model = self.config.model
        fixed = None
        if condition:  # checked here, before any output file is opened
            fixed = resolve_conditions(condition, self.conditions, self.vocab)
            self.generator.prior.restricted(fixed)
        return generate_graphs(
            self.generator,
            n,
            rng,
            model.temperature,
            batch_size,
            min_p=model.min_p,
            noise_scale=model.noise_scale,
            condition=fixed,
            valence_mask=ValenceMask(self.vocab) if valence_mask else None,
            transport=self.transport() if transport is None else transport,
        )

    def transport(self) -> CriticTransport | None:
        """What moves each draw of G's noise when this model samples (``None``: nothing).

        The discriminator optimal transport of ``[model] transport_steps`` up the latent critic,
        which :meth:`sample_draws` applies; :func:`molgan.sampling.draw_noise` takes it to draw G's
        noise alone as the model does.

        Raises:
            ValueError: The model asks for a transport but has no latent critic.
        """
        model = self.config.model
        if model.transport_steps and self.critic is None:
            raise ValueError(
                f"[model] transport_steps = {model.transport_steps}: this model has no latent "
                "critic to move its draws with (export the run with its latent_critic)"
            )
        return configured_transport(model, self.critic)

    def sample_mols(
        self,
        n: int,
        seed: int = 0,
        condition: Mapping[str, object] | None = None,
        valence_mask: bool = False,
    ) -> list[Chem.Mol | None]:
        """``n`` decoded molecules; ``None`` where a sample is not strictly valid."""
        decoded = self._decoded(n, seed, condition, valence_mask)
        return [mol if smiles else None for mol, smiles in decoded]

    def sample(
        self,
        n: int,
        seed: int = 0,
        keep_invalid: bool = False,
        condition: Mapping[str, object] | None = None,
        valence_mask: bool = False,
    ) -> list[str]:
        """Canonical SMILES of ``n`` samples.

        Args:
            n: Samples to draw.
            seed: Seeds the draw; the same seed gives the same molecules.
            keep_invalid: Return exactly ``n`` strings, ``""`` for an invalid sample, instead of
                the valid ones only.
            condition: Classes to fix, by value (see :meth:`sample_graphs`).
            valence_mask: Decode through the valence mask (see :meth:`sample_graphs`).
        """
        decoded = self._decoded(n, seed, condition, valence_mask)
        return [smiles or "" for _, smiles in decoded if smiles or keep_invalid]

    def write_samples(
        self,
        n: int,
        path: str | os.PathLike,
        *,
        seed: int = 0,
        keep_invalid: bool = False,
        sdf: str | os.PathLike | None = None,
        batch_size: int = 4096,
        jobs: int = 1,
        progress: bool = False,
        record: dict | None = None,
        condition: Mapping[str, object] | None = None,
        valence_mask: bool = False,
    ) -> dict[str, int]:
        """Stream ``n`` samples to a SMILES file (and optionally an SDF) chunk by chunk.

        The generator draws chunks of ``batch_size`` here; ``jobs`` worker processes decode them
        with RDKit (:mod:`molgan.streaming`). The output is the same for any ``jobs``. Files are
        written under temporary names and renamed when complete, so an interrupted run never
        leaves a truncated file behind; memory stays bounded whatever ``n`` is.

        Beside ``path`` goes its sample record (``<path>.json``, see
        :func:`molgan.io.sample_record_path`): samples requested, valid and written, and whether
        invalid ones were kept, so that ``molgan evaluate`` measures validity over every sample
        drawn, not over the lines kept; ``record`` adds fields to it. ``condition`` fixes classes
        as in :meth:`sample_graphs`, and the record keeps it; so does ``valence_mask``.

        Returns:
            ``{"valid": ..., "written": ...}`` line counts.
        """
        counts = {"valid": 0, "written": 0}
        chunks = self.sample_graphs(n, seed, batch_size, condition, valence_mask)
        bar = ProgressBar(total=n, desc="sampling", unit="mol", disable=not progress)
        with _maybe_atomic(path) as smi, _maybe_atomic(sdf) as sdf_handle, bar:
            for decoded in decode_stream(chunks, self.vocab, jobs, molblocks=sdf is not None):
                lines = [s or "" for s, _ in decoded if s is not None or keep_invalid]
                smi.write("".join(f"{line}\n" for line in lines))
                counts["written"] += len(lines)
                counts["valid"] += sum(s is not None for s, _ in decoded)
                if sdf_handle is not None:
                    sdf_handle.write("".join(f"{b}$$$$\n" for _, b in decoded if b is not None))
                bar.update(len(decoded))
        sample_record = {
            "format": "molgan.samples/1",
            "n_requested": n,
            "n_valid": counts["valid"],
            "n_written": counts["written"],
            "keep_invalid": keep_invalid,
            "seed": seed,
            **({"condition": dict(condition)} if condition else {}),
            **({"valence_mask": True} if valence_mask else {}),
            **self._sampling_record(),
            **(record or {}),
        }
        write_sample_record(path, sample_record)
        return counts

    def _sampling_record(self) -> dict[str, dict[str, float]]:
        """The sample record's ``transport`` and ``refiner`` fields, when the model uses them."""
        transport, refiner = self.transport(), getattr(self.generator, "refiner", None)
        return {
            **({} if transport is None else {"transport": transport.settings}),
            **({} if refiner is None else {"refiner": {"passes": refiner.passes}}),
        }

    def _decoded(
        self,
        n: int,
        seed: int,
        condition: Mapping[str, object] | None = None,
        valence_mask: bool = False,
    ) -> Iterator[tuple[Chem.Mol | None, str | None]]:
        """Each sample's decoded molecule and its strict canonical SMILES (``None``: invalid)."""
        draws = self.sample_graphs(n, seed, condition=condition, valence_mask=valence_mask)
        for graphs in draws:
            with quiet_rdkit():
                mols = graphs_to_mols(graphs, self.vocab)
                decoded = [(mol, strict_smiles(mol)) for mol in mols]
            yield from decoded

    def sample_pyg(self, n: int, seed: int = 0) -> Batch:
        """``n`` samples as a torch_geometric ``Batch`` with the dataset's features."""
        graphs = list(self.sample_graphs(n, seed))
        atoms = torch.cat([g.atoms for g in graphs])
        bonds = torch.cat([g.bonds for g in graphs])
        return graphs_to_batch(MolGraph(atoms, bonds), self.vocab)

    def save(self, path: str | os.PathLike) -> Path:
        """Write an inference checkpoint (generator weights, config, vocabulary)."""
        weights = {"generator": self.generator.state_dict()}
        return save_checkpoint(path, Checkpoint(self.config, self.vocab, weights))


def load_training_graphs(config: Config, progress: bool = True) -> tuple[Vocabulary, MolGraph]:
    """The vocabulary and dense training graphs that ``config.data`` names."""
    data = config.data
    if data.vocabulary == "qm9":
        vocab = Vocabulary.qm9(data.aromatic)
    else:
        smiles = read_smiles(data.path)[: data.limit]
        vocab = derive_vocabulary(
            smiles, data.max_atoms, transforms=data.transforms, aromatic=data.aromatic
        )
    dataset = MoleculeDataset(
        data.path,
        vocab,
        progress=progress,
        atom_order=data.atom_order,
        transforms=data.transforms,
        limit=data.limit,
    )
    if not data.filters:
        return vocab, dataset.graphs
    keep = filter_smiles(dataset.smiles, data.filters, progress).passed_all  # names checked
    if not keep.any():
        raise ValueError(f"[data] filters {list(data.filters)}: no training molecule passes")
    logger.info(
        "[data] filters %s: training on %d of %d molecules",
        list(data.filters),
        int(keep.sum()),
        len(keep),
    )
    rows = torch.from_numpy(keep).nonzero().squeeze(1)
    return vocab, MolGraph(dataset.graphs.atoms[rows], dataset.graphs.bonds[rows])


def _maybe_atomic(path: str | os.PathLike | None) -> AbstractContextManager:
    """An atomic text file at ``path``, or ``None`` when there is no path."""
    return nullcontext() if path is None else atomic_file(path, "w")
