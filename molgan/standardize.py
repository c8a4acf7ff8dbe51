"""Optional clean-up of input molecules before encoding: drop stereo, keep the largest fragment.

molgan's graphs carry no stereochemistry and hold one connected molecule, so a user's file with
``C[C@H](N)O`` or a salt such as ``CCN.Cl`` cannot round-trip as written. These transforms make such
rows usable, and every caller counts what they changed (``data stats`` reports it), so nothing is
altered silently. Both lean on RDKit: ``Chem.RemoveStereochemistry`` and MolStandardize's
``LargestFragmentChooser`` (largest by atom count, then molecular weight, then SMILES order).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rdkit import Chem
from rdkit.Chem.MolStandardize import rdMolStandardize

__all__ = ["TRANSFORMS", "check_transforms", "standardize"]

TRANSFORMS = ("strip_stereo", "largest_fragment")
"""The transforms, in the order they run; ``[data]`` turns each on or off."""


def check_transforms(names: Sequence[str]) -> tuple[str, ...]:
    """Validate transform names and return them in :data:`TRANSFORMS` order.

    Examples:
        >>> check_transforms(["largest_fragment", "strip_stereo"])
        ('strip_stereo', 'largest_fragment')
    """
    unknown = sorted(set(names) - set(TRANSFORMS))
    if unknown:
        raise ValueError(f"unknown transforms {unknown}; choose from {list(TRANSFORMS)}")
    return tuple(t for t in TRANSFORMS if t in names)


def standardize(mol: Chem.Mol, transforms: Sequence[str]) -> tuple[Chem.Mol, tuple[str, ...]]:
    """Apply ``transforms`` to a sanitised molecule; returns it and the transforms that changed it.

    The input is never modified. ``strip_stereo`` removes chiral tags and double-bond stereo;
    ``largest_fragment`` drops every fragment but the largest (counter-ions, solvents).

    Examples:
        >>> mol, changed = standardize(Chem.MolFromSmiles("C[C@H](N)O.Cl"), TRANSFORMS)
        >>> Chem.MolToSmiles(mol), changed
        ('CC(N)O', ('strip_stereo', 'largest_fragment'))
        >>> standardize(Chem.MolFromSmiles("CCO"), TRANSFORMS)[1]
        ()
    """
    changed = []
    if "strip_stereo" in transforms and _has_stereo(mol):
        mol = Chem.Mol(mol)
        Chem.RemoveStereochemistry(mol)
        changed.append("strip_stereo")
    if "largest_fragment" in transforms and len(Chem.GetMolFrags(mol)) > 1:
        mol = _chooser().choose(mol)
        changed.append("largest_fragment")
    return mol, tuple(changed)


def _has_stereo(mol: Chem.Mol) -> bool:
    unspecified_atom = Chem.ChiralType.CHI_UNSPECIFIED
    unspecified_bond = Chem.BondStereo.STEREONONE
    return any(a.GetChiralTag() != unspecified_atom for a in mol.GetAtoms()) or any(
        b.GetStereo() != unspecified_bond for b in mol.GetBonds()
    )


@lru_cache(maxsize=1)
def _chooser() -> rdMolStandardize.LargestFragmentChooser:
    return rdMolStandardize.LargestFragmentChooser()
