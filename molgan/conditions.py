"""Conditions: class labels of molecules that a generator can be asked for.

A condition names a property of a molecule with a few classes (:data:`CONDITIONS`): its heavy-atom
count, whether it has an aromatic ring, whether it has a triple bond. A model built with
``[model] conditions`` (the latent family) takes the one-hot classes of its conditions after its
noise; its critic sees them beside the codes (a conditional GAN, Mirza & Osindero 2014), so G
learns each class's share of the data. Sampling draws the classes from the training data's joint
distribution, held by the generator's :class:`ConditionPrior`, so an unconditioned draw
reproduces the data's mix; fixing some classes (``molgan sample --condition aromatic_ring=1``)
draws the others from the data given them.

Classes have user-facing values (``heavy_atoms=7``, ``triple_bond=1``; :func:`resolve_conditions`)
and are stored as indices ``0 .. classes - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from rdkit import Chem
from torch import nn

from molgan.vocab import Vocabulary

__all__ = [
    "Condition",
    "CONDITIONS",
    "ConditionError",
    "ConditionPrior",
    "condition_sizes",
    "condition_specs",
    "label_molecules",
    "resolve_conditions",
]


class ConditionError(ValueError):
    """A condition name or value that the model cannot take (the message says which)."""


@dataclass(frozen=True)
class Condition:
    """A categorical property of a molecule.

    Attributes:
        description: What the classes mean, for messages and docs.
        classes: The number of classes under a vocabulary.
        label: A sanitised molecule's class index.
        offset: The user-facing value of class 0 (``heavy_atoms``: 1).
    """

    description: str
    classes: Callable[[Vocabulary], int]
    label: Callable[[Chem.Mol], int]
    offset: int = 0


def _has_aromatic_ring(mol: Chem.Mol) -> int:
    return int(any(atom.GetIsAromatic() for atom in mol.GetAtoms()))


def _has_triple_bond(mol: Chem.Mol) -> int:
    return int(any(bond.GetBondType() == Chem.BondType.TRIPLE for bond in mol.GetBonds()))


CONDITIONS: dict[str, Condition] = {
    "heavy_atoms": Condition(
        "heavy-atom count, 1 to max_atoms",
        lambda vocab: vocab.max_atoms,
        lambda mol: mol.GetNumAtoms() - 1,
        offset=1,
    ),
    "aromatic_ring": Condition(
        "1 if the molecule has an aromatic ring, else 0", lambda vocab: 2, _has_aromatic_ring
    ),
    "triple_bond": Condition(
        "1 if the molecule has a triple bond, else 0", lambda vocab: 2, _has_triple_bond
    ),
}
"""The conditions a model can be built with, by ``[model] conditions`` name."""


def condition_sizes(names: Sequence[str], vocab: Vocabulary) -> tuple[int, ...]:
    """The number of classes of each named condition.

    Examples:
        >>> condition_sizes(["heavy_atoms", "triple_bond"], Vocabulary.qm9())
        (9, 2)
    """
    return tuple(_condition(name).classes(vocab) for name in names)


def label_molecules(mols: Sequence[Chem.Mol], names: Sequence[str]) -> torch.Tensor:
    """Class indices ``[M, C]`` (int64) of sanitised molecules under each named condition.

    Examples:
        >>> label_molecules([Chem.MolFromSmiles("C#Cc1ccccc1")], ["heavy_atoms", "triple_bond"])
        tensor([[7, 1]])
    """
    conditions = [_condition(name) for name in names]
    return torch.tensor(
        [[c.label(mol) for c in conditions] for mol in mols], dtype=torch.long
    ).reshape(len(mols), len(conditions))


def condition_specs(specs: Sequence[str]) -> dict[str, str]:
    """Command-line ``["NAME=VALUE", ...]`` as ``{NAME: VALUE}``.

    Raises:
        ConditionError: A spec without ``=``, or a name given twice.

    Examples:
        >>> condition_specs(["heavy_atoms=7", "triple_bond = 1"])
        {'heavy_atoms': '7', 'triple_bond': '1'}
    """
    values: dict[str, str] = {}
    for spec in specs:
        name, sep, text = (part.strip() for part in spec.partition("="))
        if not sep:
            raise ConditionError(f"condition {spec!r}: write it as NAME=VALUE")
        if name in values:
            raise ConditionError(f"condition {name!r} is given twice")
        values[name] = text
    return values


def resolve_conditions(
    values: Mapping[str, object], names: Sequence[str], vocab: Vocabulary
) -> dict[str, int]:
    """User-facing values ``{name: value}`` as class indices, checked against a model's conditions.

    Raises:
        ConditionError: A name the model was not built with, or a value that is not one of the
            condition's classes.

    Examples:
        >>> resolve_conditions({"heavy_atoms": 7}, ["heavy_atoms"], Vocabulary.qm9())
        {'heavy_atoms': 6}
    """
    indices: dict[str, int] = {}
    for name, value in values.items():
        if name not in names:
            have = ", ".join(names) if names else "none"
            raise ConditionError(f"condition {name!r}: this model's conditions are: {have}")
        condition = CONDITIONS[name]
        low, high = condition.offset, condition.offset + condition.classes(vocab) - 1
        try:
            number = int(str(value))
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise ConditionError(
                f"condition {name}={value}: must be an integer from {low} to {high} "
                f"({condition.description})"
            )
        indices[name] = number - low
    return indices


class ConditionPrior(nn.Module):
    """The training data's joint distribution of condition classes, and draws of one-hots.

    The weights of every combination of classes (``prod(sizes)`` of them, in mixed radix) are a
    buffer, so they are saved with the generator and a loaded model samples the same mix.

    Args:
        names: The conditions, in the order of the one-hot blocks.
        sizes: Their numbers of classes.

    Examples:
        >>> prior = ConditionPrior(["aromatic_ring"], (2,))
        >>> prior.fit(torch.tensor([[1], [1], [1], [0]]))
        >>> prior.weights.tolist()
        [0.25, 0.75]
        >>> prior.draw(2, torch.Generator().manual_seed(0), fixed={"aromatic_ring": 0}).tolist()
        [[1.0, 0.0], [1.0, 0.0]]
    """

    def __init__(self, names: Sequence[str], sizes: Sequence[int]) -> None:
        super().__init__()
        self.names, self.sizes = tuple(names), tuple(sizes)
        self.dim = sum(self.sizes)
        combos = math.prod(self.sizes)
        self.register_buffer("weights", torch.full((combos,), 1.0 / combos))  # [K]
        strides = [math.prod(self.sizes[i + 1 :]) for i in range(len(self.sizes))]
        index = torch.arange(combos)[:, None]  # [K, 1]
        classes = (index // torch.tensor(strides)) % torch.tensor(self.sizes)  # [K, C]
        self.register_buffer("_classes", classes, persistent=False)

    def fit(self, labels: torch.Tensor) -> None:
        """Set the weights to the frequencies of the class rows ``labels [M, C]``."""
        strides = torch.tensor(
            [math.prod(self.sizes[i + 1 :]) for i in range(len(self.sizes))], device=labels.device
        )
        combo = (labels * strides).sum(1)  # [M]
        counts = torch.bincount(combo, minlength=len(self.weights)).to(self.weights)
        self.weights.copy_(counts / counts.sum())

    def one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        """Class indices ``[B, C]`` as concatenated one-hot blocks ``[B, sum(sizes)]``."""
        blocks = [
            nn.functional.one_hot(labels[:, i], size).float() for i, size in enumerate(self.sizes)
        ]
        return torch.cat(blocks, dim=1) if blocks else labels.new_zeros(len(labels), 0).float()

    def values(self, one_hot: torch.Tensor) -> list[dict[str, int]]:
        """One-hot rows ``[B, sum(sizes)]`` as user-facing values, ``{name: value}`` per row."""
        blocks = one_hot.split(self.sizes, dim=1)
        indices = torch.stack([block.argmax(1) for block in blocks], dim=1).tolist()  # [B, C]
        offsets = [CONDITIONS[name].offset for name in self.names]
        return [
            {name: i + o for name, i, o in zip(self.names, row, offsets, strict=True)}
            for row in indices
        ]

    def restricted(self, fixed: Mapping[str, int] | None = None) -> torch.Tensor:
        """The weights ``[K]`` of the combinations with the ``fixed`` classes (others 0).

        Raises:
            ConditionError: If no training molecule has the fixed classes.
        """
        weights = self.weights.clone()
        for name, index in (fixed or {}).items():
            weights = weights * (self._classes[:, self.names.index(name)] == index)
        if not weights.sum() > 0:
            wanted = ", ".join(f"{k}={v + CONDITIONS[k].offset}" for k, v in fixed.items())
            raise ConditionError(f"no training molecule has {wanted}")
        return weights

    def draw(
        self,
        n: int,
        generator: torch.Generator | None = None,
        fixed: Mapping[str, int] | None = None,
    ) -> torch.Tensor:
        """``n`` one-hot rows ``[n, sum(sizes)]`` drawn from the weights, on ``generator``'s device.

        ``fixed`` (``{name: class index}``) keeps only the combinations with those classes, so the
        other conditions follow the data given them.

        Raises:
            ConditionError: If no training molecule has the fixed classes.
        """
        weights = self.restricted(fixed)
        device = generator.device if generator is not None else weights.device
        combo = torch.multinomial(weights.to(device), n, replacement=True, generator=generator)
        return self.one_hot(self._classes.to(device)[combo])


def _condition(name: str) -> Condition:
    if name not in CONDITIONS:
        raise ConditionError(f"unknown condition {name!r}; choose from {list(CONDITIONS)}")
    return CONDITIONS[name]
