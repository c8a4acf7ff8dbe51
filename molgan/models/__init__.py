"""Neural networks of molgan: the generator, the discriminator and reward network, their layers."""

from molgan.models.discriminator import Discriminator, RewardNetwork
from molgan.models.generator import Generator
from molgan.models.layers import MLP, GraphAggregation, RelationalGraphConv

__all__ = [
    "Generator",
    "Discriminator",
    "RewardNetwork",
    "RelationalGraphConv",
    "GraphAggregation",
    "MLP",
]
