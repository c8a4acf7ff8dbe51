"""The vocabulary: which atom classes, bond classes and how many atoms a graph may hold.

Every encoder, decoder, layer width and metric reads these numbers from one ``Vocabulary``; nothing
else in molgan spells out element lists. Atom classes are (element, formal charge) pairs so that
zwitterions such as ``[NH3+]CC(=O)[O-]`` survive encoding. Id 0 is reserved for padding (atoms) and
for "no bond" (bonds).

Rings are written in one of two ways. By default (MolGAN's choice for its generator, and molgan's
until 2026-12) aromatic rings are kekulized into alternating single and double bonds. A vocabulary
with an ``AROMATIC`` bond class (``Vocabulary.qm9(aromatic=True)``, ``[data] aromatic = true``)
keeps them aromatic instead: every bond of a benzene ring is the same class, so a one-shot decoder
need not choose one of two alternations consistently around the ring. Its atom classes then also
record the explicit hydrogens of aromatic atoms (pyrrole's ``[nH]``), without which RDKit cannot
kekulize the decoded ring.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from rdkit import Chem

__all__ = ["AtomType", "Vocabulary", "BOND_TYPES", "AROMATIC_BOND_TYPES", "atom_type_of"]

# Kekulized bond classes. Aromatic rings are written as alternating single/double bonds, and RDKit
# re-aromatises them on sanitisation, so four classes (with "none") cover all of QM9 and MOSES.
BOND_TYPES: tuple[str, ...] = ("SINGLE", "DOUBLE", "TRIPLE")
# The bond classes of a vocabulary that keeps aromatic rings aromatic.
AROMATIC_BOND_TYPES: tuple[str, ...] = (*BOND_TYPES, "AROMATIC")
# Valence contributed by each RDKit bond type.
_BOND_ORDERS = {"SINGLE": 1.0, "DOUBLE": 2.0, "TRIPLE": 3.0, "QUADRUPLE": 4.0, "AROMATIC": 1.5}

# The aromatic atom classes of QM9 with an explicit hydrogen ([cH-], [nH], [nH+]): (element,
# charge, hydrogens).
_QM9_AROMATIC_H = [("C", -1, 1), ("N", 0, 1), ("N", 1, 1)]

_ELEMENTS = frozenset(Chem.GetPeriodicTable().GetElementSymbol(z) for z in range(1, 119))


@dataclass(frozen=True, order=True)
class AtomType:
    """One atom class: an element with a formal charge.

    Hydrogens stay implicit, except ``hydrogens``: the explicit hydrogens of an aromatic atom in
    a vocabulary with aromatic bonds (1 for pyrrole's ``[nH]``; 0 everywhere else).
    """

    element: str
    charge: int = 0
    hydrogens: int = 0

    @property
    def label(self) -> str:
        """A short human-readable name, e.g. ``"N+"``, ``"O-"`` or ``"NH"`` (pyrrole's ``[nH]``).

        Examples:
            >>> AtomType("N", 1).label, AtomType("O", -1).label, AtomType("N", 0, 1).label
            ('N+', 'O-', 'NH')
        """
        label = self.element + "H" * self.hydrogens
        if self.charge == 0:
            return label
        sign = "+" if self.charge > 0 else "-"
        return label + sign * abs(self.charge)


def atom_type_of(atom: Chem.Atom, aromatic: bool = False) -> AtomType:
    """The class of an RDKit atom; ``aromatic``: a vocabulary with aromatic bonds.

    Examples:
        >>> mol = Chem.MolFromSmiles("c1cc[nH]c1")
        >>> atom_type_of(mol.GetAtomWithIdx(3)), atom_type_of(mol.GetAtomWithIdx(3), aromatic=True)
        (AtomType(element='N', charge=0, hydrogens=0), AtomType(element='N', charge=0, hydrogens=1))
    """
    hydrogens = atom.GetNumExplicitHs() if aromatic and atom.GetIsAromatic() else 0
    return AtomType(atom.GetSymbol(), atom.GetFormalCharge(), hydrogens)


@dataclass(frozen=True)
class Vocabulary:
    """Atom classes, bond classes and the maximum number of heavy atoms of a graph.

    Attributes:
        atom_types: The atom classes; class id ``i + 1`` is ``atom_types[i]`` and id 0 is padding.
        max_atoms: ``N``, the number of nodes of every dense graph.
        bond_types: RDKit bond-type names; class id ``i + 1`` is ``bond_types[i]``, 0 is no bond.
    """

    atom_types: tuple[AtomType, ...]
    max_atoms: int
    bond_types: tuple[str, ...] = BOND_TYPES
    _atom_ids: dict[AtomType, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.atom_types:
            raise ValueError("a vocabulary needs at least one atom type")
        if len(set(self.atom_types)) != len(self.atom_types):
            raise ValueError(f"duplicate atom types in {self.atom_types}")
        if self.max_atoms < 1:
            raise ValueError(f"max_atoms must be positive, got {self.max_atoms}")
        for atom in self.atom_types:
            if atom.element not in _ELEMENTS:
                raise ValueError(f"atom type {atom.element!r} is not a chemical element")
            if not 0 <= atom.hydrogens <= 4:
                raise ValueError(f"atom type {atom.label!r}: hydrogens must be 0 to 4")
        unknown = [b for b in self.bond_types if b not in _BOND_ORDERS]
        if unknown:
            raise ValueError(f"unknown RDKit bond types {unknown}")
        ids = {atom: i + 1 for i, atom in enumerate(self.atom_types)}
        object.__setattr__(self, "_atom_ids", ids)

    @classmethod
    def qm9(cls, aromatic: bool = False) -> Vocabulary:
        """The vocabulary of all 133,885 QM9 molecules.

        Equal to ``Vocabulary.from_mols`` over ``data/qm9.csv.gz`` (a test checks this): C, N, O, F
        plus the charged states of QM9's 1,845 zwitterions, at most 9 heavy atoms. With
        ``aromatic``, bonds keep their aromaticity and three aromatic classes with a hydrogen are
        added (``[cH-]``, ``[nH]``, ``[nH+]``).
        """
        atoms = [("C", 0), ("C", -1), ("N", 0), ("N", -1), ("N", 1), ("O", 0), ("O", -1), ("F", 0)]
        if not aromatic:
            return cls(tuple(AtomType(e, c) for e, c in atoms), max_atoms=9)
        types = [AtomType(e, c) for e, c in atoms]
        types += [AtomType(e, c, h) for e, c, h in _QM9_AROMATIC_H]
        return cls.from_atom_types(types, 9, aromatic=True)

    @classmethod
    def from_mols(
        cls, mols: Iterable[Chem.Mol], max_atoms: int | None = None, aromatic: bool = False
    ) -> Vocabulary:
        """Derive the vocabulary from data: every atom class seen, sorted by atomic number.

        Args:
            mols: Sanitised molecules.
            max_atoms: ``N``; defaults to the largest heavy-atom count seen.
            aromatic: Keep aromatic bonds (and the aromatic atoms' explicit hydrogens).
        """
        seen: set[AtomType] = set()
        largest = 0
        for mol in mols:
            largest = max(largest, mol.GetNumAtoms())
            seen.update(atom_type_of(a, aromatic) for a in mol.GetAtoms())
        return cls.from_atom_types(seen, max_atoms or largest, aromatic)

    @classmethod
    def from_atom_types(
        cls, atom_types: Iterable[AtomType], max_atoms: int, aromatic: bool = False
    ) -> Vocabulary:
        """A vocabulary of the given atom classes, sorted by atomic number, then ``|charge|``.

        ``aromatic`` adds the ``AROMATIC`` bond class.

        Examples:
            >>> v = Vocabulary.from_atom_types([AtomType("O"), AtomType("N", 1), AtomType("C")], 5)
            >>> [a.label for a in v.atom_types]
            ['C', 'N+', 'O']
        """
        table = Chem.GetPeriodicTable()
        ordered = sorted(
            set(atom_types),
            key=lambda t: (table.GetAtomicNumber(t.element), abs(t.charge), t.charge, t.hydrogens),
        )
        bonds = AROMATIC_BOND_TYPES if aromatic else BOND_TYPES
        return cls(tuple(ordered), max_atoms=max_atoms, bond_types=bonds)

    @property
    def aromatic(self) -> bool:
        """Whether aromatic rings keep aromatic bonds (else they are kekulized).

        Examples:
            >>> Vocabulary.qm9().aromatic, Vocabulary.qm9(aromatic=True).aromatic
            (False, True)
        """
        return "AROMATIC" in self.bond_types

    @property
    def n_atom_classes(self) -> int:
        """``T``: atom classes including padding."""
        return len(self.atom_types) + 1

    @property
    def n_bond_classes(self) -> int:
        """``Y``: bond classes including "no bond"."""
        return len(self.bond_types) + 1

    def atom_id(self, element: str, charge: int = 0, hydrogens: int = 0) -> int | None:
        """The class id of an atom class, or ``None`` when it is not in the vocabulary."""
        return self._atom_ids.get(AtomType(element, charge, hydrogens))

    @cached_property
    def rdkit_bond_types(self) -> tuple[Chem.BondType, ...]:
        """RDKit bond types indexed by class id (index 0 is ``None``: no bond)."""
        return (None, *(getattr(Chem.BondType, b) for b in self.bond_types))

    @property
    def bond_orders(self) -> tuple[float, ...]:
        """Valence of each bond class id (0.0 for "no bond").

        Examples:
            >>> Vocabulary.qm9().bond_orders
            (0.0, 1.0, 2.0, 3.0)
        """
        return (0.0, *(_BOND_ORDERS[b] for b in self.bond_types))

    @property
    def atom_charges(self) -> tuple[int, ...]:
        """Formal charge of each atom class id (0 for padding).

        Examples:
            >>> Vocabulary.qm9().atom_charges
            (0, 0, -1, 0, -1, 1, 0, -1, 0)
        """
        return (0, *(a.charge for a in self.atom_types))

    @property
    def max_valences(self) -> tuple[float, ...]:
        """The most bond orders each atom class id may carry (0.0 for padding), from RDKit.

        The largest of RDKit's allowed valences for the element with the same number of
        electrons (a charge shifts it: ``N+`` counts as C, ``O-`` as F), less the class's explicit
        hydrogens; ``inf`` where RDKit allows any valence.

        Examples:
            >>> Vocabulary.qm9().max_valences
            (0.0, 4.0, 3.0, 3.0, 2.0, 4.0, 2.0, 1.0, 1.0)
        """
        table = Chem.GetPeriodicTable()
        caps = [0.0]
        for atom in self.atom_types:
            electrons = table.GetAtomicNumber(atom.element) - atom.charge
            allowed = list(table.GetValenceList(electrons)) if electrons > 0 else [0]
            cap = math.inf if -1 in allowed else float(max(allowed))
            caps.append(max(0.0, cap - atom.hydrogens))
        return tuple(caps)

    def bond_id(self, bond_type: Chem.BondType) -> int | None:
        """The class id of an RDKit bond type, or ``None`` when it is not in the vocabulary."""
        return self._bond_ids.get(bond_type)

    @cached_property
    def _bond_ids(self) -> dict[Chem.BondType, int]:
        return {bt: i for i, bt in enumerate(self.rdkit_bond_types) if i > 0}

    def to_dict(self) -> dict:
        """A JSON-ready description (saved beside every checkpoint and dataset cache)."""
        # [element, charge], and the hydrogens only where there are any: a kekulized vocabulary's
        # description (and so its fingerprint, and every cache keyed by it) is as it always was.
        return {
            "atom_types": [
                [a.element, a.charge, *([a.hydrogens] if a.hydrogens else [])]
                for a in self.atom_types
            ],
            "bond_types": list(self.bond_types),
            "max_atoms": self.max_atoms,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        """Rebuild a vocabulary written by :meth:`to_dict`."""
        try:
            atoms = tuple(
                AtomType(str(e), int(c), *(int(h) for h in rest))
                for e, c, *rest in data["atom_types"]
            )
            return cls(atoms, int(data["max_atoms"]), tuple(str(b) for b in data["bond_types"]))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a vocabulary description: {err}") from err

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the vocabulary, used to key caches so a change never reuses them."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]
