"""molgan: MolGAN-style graph GANs for drug-like molecules, measured with strict metrics."""

__version__ = "0.1.0"

from molgan.chem import mol_to_smiles, smiles_to_mol, strict_smiles
from molgan.config import Config, load_config
from molgan.data import MoleculeDataset
from molgan.graph import DenseGraph, MolGraph, graph_to_mol, mol_to_graph
from molgan.io import read_smiles, write_smiles
from molgan.metrics import evaluate
from molgan.model import MolGAN
from molgan.training import Trainer
from molgan.vocab import Vocabulary

__all__ = [
    "__version__",
    "Config",
    "DenseGraph",
    "MolGAN",
    "MolGraph",
    "MoleculeDataset",
    "Trainer",
    "Vocabulary",
    "evaluate",
    "graph_to_mol",
    "load_config",
    "mol_to_graph",
    "mol_to_smiles",
    "read_smiles",
    "smiles_to_mol",
    "strict_smiles",
    "write_smiles",
]
