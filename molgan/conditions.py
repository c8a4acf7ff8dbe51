"""Conditions: class labels of molecules that a generator can be asked for.

A condition names a property of a molecule with a few classes (:data:`CONDITIONS`): its heavy-atom
count, whether it has an aromatic ring, whether it has a triple bond. A model built with
``[model] conditions`` (the latent family) takes the one-hot classes of its conditions after its
noise; its critic sees them beside the codes (a conditional GAN, Mirza & Osindero 2014), so G
learns each class's share of the data. Sampling draws the classes from the training data's joint
distribution, held by the generator's :class:`~molgan.models.ConditionPrior`, so an
unconditioned draw reproduces the data's mix; fixing some classes (``molgan sample --condition
aromatic_ring=1``) draws the others from the data given them.

Classes have user-facing values (``heavy_atoms=7``, ``triple_bond=1``; :func:`resolve_conditions`)
and are stored as indices ``0 .. classes - 1``. This module needs RDKit only (the reward workers
use its labels); the prior, a torch module, lives with the models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem

from molgan.aromatic import has_aromatic_ring
from molgan.vocab import Vocabulary

__all__ = [
    "Condition",
    "CONDITIONS",
    "ConditionError",
    "condition_sizes",
    "condition_specs",
    "label_molecules",
    "one_hot_values",
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
        "1 if the molecule has an aromatic ring, else 0",
        lambda vocab: 2,
        lambda mol: int(has_aromatic_ring(mol)),
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


def label_molecules(mols: Sequence[Chem.Mol], names: Sequence[str]) -> np.ndarray:
    """Class indices ``[M, C]`` (int64) of sanitised molecules under each named condition.

    Examples:
        >>> label_molecules([Chem.MolFromSmiles("C#Cc1ccccc1")], ["heavy_atoms", "triple_bond"])
        array([[7, 1]])
    """
    conditions = [_condition(name) for name in names]
    rows = [[c.label(mol) for c in conditions] for mol in mols]
    return np.array(rows, dtype=np.int64).reshape(len(mols), len(conditions))


def one_hot_values(
    one_hot: np.ndarray, names: Sequence[str], vocab: Vocabulary
) -> list[dict[str, int]]:
    """Concatenated one-hot rows ``[B, sum(classes)]`` as user-facing ``{name: value}`` per row.

    Examples:
        >>> one_hot_values(np.array([[0, 1, 1, 0]]), ["aromatic_ring", "triple_bond"],
        ...                Vocabulary.qm9())
        [{'aromatic_ring': 1, 'triple_bond': 0}]
    """
    sizes = condition_sizes(names, vocab)
    blocks = np.split(np.asarray(one_hot), np.cumsum(sizes)[:-1], axis=1)
    indices = np.stack([block.argmax(1) for block in blocks], axis=1).tolist()  # [B, C]
    offsets = [CONDITIONS[name].offset for name in names]
    return [
        {name: i + o for name, i, o in zip(names, row, offsets, strict=True)} for row in indices
    ]


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


def _condition(name: str) -> Condition:
    if name not in CONDITIONS:
        raise ConditionError(f"unknown condition {name!r}; choose from {list(CONDITIONS)}")
    return CONDITIONS[name]
