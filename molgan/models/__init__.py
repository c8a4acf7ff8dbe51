"""Neural networks of molgan: generators, critics, the graph autoencoder, their layers."""

from molgan.models.autoencoder import GraphDecoder, GraphEncoder, LatentCritic, LatentGenerator
from molgan.models.base import GraphCritic, GraphGenerator
from molgan.models.conditioning import ConditionPrior
from molgan.models.discriminator import Discriminator, RewardNetwork
from molgan.models.generator import Generator
from molgan.models.layers import MLP, GraphAggregation, RelationalGraphConv
from molgan.models.refiner import GraphRefiner
from molgan.models.registry import GENERATORS, build_generator

__all__ = [
    "GraphGenerator",
    "GraphCritic",
    "Generator",
    "LatentGenerator",
    "GraphEncoder",
    "GraphDecoder",
    "GraphRefiner",
    "LatentCritic",
    "ConditionPrior",
    "Discriminator",
    "RewardNetwork",
    "RelationalGraphConv",
    "GraphAggregation",
    "MLP",
    "GENERATORS",
    "build_generator",
]
