"""Training: a module per model family (its networks, optimisers and step) and one shared loop.

``FAMILIES`` maps ``[model] kind`` to the family's module; :class:`Trainer` is the loop that
drives any of them (schedule, EMA, evaluation, keep-best, logs, checkpoints).
"""

from molgan.training.graph_game import GraphGame, max_net_charge, max_valence
from molgan.training.latent_family import LatentFamily
from molgan.training.loop import (
    FamilyModule,
    NonFiniteLossError,
    RunFolderBusyError,
    Trainer,
    resolve_device,
)
from molgan.training.molgan_family import MolGANFamily

__all__ = [
    "FAMILIES",
    "FamilyModule",
    "GraphGame",
    "LatentFamily",
    "MolGANFamily",
    "NonFiniteLossError",
    "RunFolderBusyError",
    "Trainer",
    "max_net_charge",
    "max_valence",
    "resolve_device",
]

FAMILIES = {"molgan": MolGANFamily, "latent": LatentFamily}
"""``[model] kind`` -> the family module the loop trains."""
