"""molgan: MolGAN-style graph GANs for drug-like molecules, measured with strict metrics."""

__version__ = "0.1.0"

from molgan.chem import canonical_smiles, mol_to_smiles, smiles_to_mol, strict_smiles, write_sdf
from molgan.config import Config, load_config
from molgan.data import QM9_PATH, QM9_SPLITS, MoleculeDataset
from molgan.demo import molecule_grid
from molgan.filters import FILTERS, filter_smiles
from molgan.graph import DenseGraph, MolGraph, graph_to_mol, mol_to_graph
from molgan.io import read_smiles, write_smiles
from molgan.metrics import evaluate
from molgan.model import MolGAN
from molgan.rewards import REWARDS, Objective, RewardScorer, mean_rewards, molecule_properties
from molgan.training import Trainer
from molgan.vocab import Vocabulary

__all__ = [
    "__version__",
    "Config",
    "DenseGraph",
    "FILTERS",
    "MolGAN",
    "MolGraph",
    "MoleculeDataset",
    "Objective",
    "QM9_PATH",
    "QM9_SPLITS",
    "REWARDS",
    "RewardScorer",
    "Trainer",
    "Vocabulary",
    "canonical_smiles",
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
