"""molgan: MolGAN-style graph GANs for drug-like molecules, measured with strict metrics.

The public names below are imported on first use (PEP 562 module ``__getattr__``), so that
``import molgan`` and ``molgan --version`` do not pay for torch, RDKit, PyG, SciPy or ChemNet until
a command needs them.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if sys.version_info < (3, 11):  # noqa: UP036  (pip refuses such an install; a source checkout)
    raise ImportError(
        "molgan needs Python 3.11 or newer (it reads TOML configs with the standard library's "
        f"tomllib); this is Python {sys.version_info[0]}.{sys.version_info[1]}"
    )

_EXPORTS = {
    "canonical_smiles": "molgan.chem",
    "mol_to_smiles": "molgan.chem",
    "smiles_to_mol": "molgan.chem",
    "strict_smiles": "molgan.chem",
    "write_sdf": "molgan.chem",
    "Config": "molgan.config",
    "load_config": "molgan.config",
    "QM9_PATH": "molgan.data",
    "QM9_SPLITS": "molgan.data",
    "MOSES_SPLITS": "molgan.data",
    "MoleculeDataset": "molgan.data",
    "molecule_grid": "molgan.demo",
    "FILTERS": "molgan.filters",
    "filter_smiles": "molgan.filters",
    "DenseGraph": "molgan.graph",
    "MolGraph": "molgan.graph",
    "graph_to_mol": "molgan.graph",
    "mol_to_graph": "molgan.graph",
    "read_smiles": "molgan.io",
    "write_smiles": "molgan.io",
    "evaluate": "molgan.metrics",
    "canonical_training_set": "molgan.metrics",
    "MolGAN": "molgan.model",
    "REWARDS": "molgan.rewards",
    "Objective": "molgan.rewards",
    "RewardScorer": "molgan.rewards",
    "mean_rewards": "molgan.rewards",
    "molecule_properties": "molgan.rewards",
    "Trainer": "molgan.training",
    "Vocabulary": "molgan.vocab",
}

__all__ = [
    "__version__",
    "Config",
    "DenseGraph",
    "FILTERS",
    "MolGAN",
    "MolGraph",
    "MOSES_SPLITS",
    "MoleculeDataset",
    "Objective",
    "QM9_PATH",
    "QM9_SPLITS",
    "REWARDS",
    "RewardScorer",
    "Trainer",
    "Vocabulary",
    "canonical_smiles",
    "canonical_training_set",
    "evaluate",
    "filter_smiles",
    "graph_to_mol",
    "load_config",
    "mean_rewards",
    "mol_to_graph",
    "mol_to_smiles",
    "molecule_grid",
    "molecule_properties",
    "read_smiles",
    "smiles_to_mol",
    "strict_smiles",
    "write_sdf",
    "write_smiles",
]

if TYPE_CHECKING:  # what static tools and IDEs see
    from molgan.chem import (
        canonical_smiles,
        mol_to_smiles,
        smiles_to_mol,
        strict_smiles,
        write_sdf,
    )
    from molgan.config import Config, load_config
    from molgan.data import MOSES_SPLITS, QM9_PATH, QM9_SPLITS, MoleculeDataset
    from molgan.demo import molecule_grid
    from molgan.filters import FILTERS, filter_smiles
    from molgan.graph import DenseGraph, MolGraph, graph_to_mol, mol_to_graph
    from molgan.io import read_smiles, write_smiles
    from molgan.metrics import canonical_training_set, evaluate
    from molgan.model import MolGAN
    from molgan.rewards import REWARDS, Objective, RewardScorer, mean_rewards, molecule_properties
    from molgan.training import Trainer
    from molgan.vocab import Vocabulary


def __getattr__(name: str) -> Any:
    """Import a public name (or a submodule such as ``molgan.metrics``) on first access."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        try:
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
