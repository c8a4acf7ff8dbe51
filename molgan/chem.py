"""The RDKit boundary: parse SMILES, write canonical SMILES, judge strict validity, mute RDKit.

Everything that turns text into an RDKit ``Mol`` or back goes through here, so the rules (what is a
valid molecule, which SMILES is canonical) are written once.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import NamedTuple

from rdkit import Chem, RDLogger

__all__ = [
    "MAX_SMILES_LENGTH",
    "InvalidSmilesError",
    "parse_smiles",
    "read_molecule",
    "StrictMolecule",
    "strict_molecule",
    "smiles_to_mol",
    "mol_to_smiles",
    "canonical_smiles",
    "strict_smiles",
    "write_sdf",
    "quiet_rdkit",
]


MAX_SMILES_LENGTH = 2048
"""The longest SMILES string molgan hands to RDKit. Drug-like molecules need under 200 characters;
RDKit parses some strings super-linearly (30,000 aromatic ``c`` take about 100 s), so a longer
entry is treated as invalid (``evaluate``) or skipped as ``too_long`` (``featurize``) without
parsing it, and a stray megabyte line cannot hang the tool."""


def parse_smiles(smiles: str) -> Chem.Mol | None:
    """RDKit's sanitised molecule, or ``None`` for an empty, over-long or rejected string.

    Every SMILES molgan reads from a file goes through here (or :func:`read_molecule`).

    Examples:
        >>> parse_smiles("OCC").GetNumAtoms(), parse_smiles("C1CC"), parse_smiles("C" * 5000)
        (3, None, None)
    """
    return read_molecule(smiles)[0]


def read_molecule(smiles: str) -> tuple[Chem.Mol | None, str]:
    """Parse ``smiles`` as :func:`parse_smiles` does, and say why when it fails.

    Returns:
        ``(mol, "")``, or ``(None, reason)`` with reason ``"empty"``, ``"too_long"`` (over
        :data:`MAX_SMILES_LENGTH`, never parsed), ``"unparsable"`` (not SMILES syntax) or
        ``"fails_sanitization"`` (a valence RDKit rejects, or aromatic rings it cannot kekulize).

    Examples:
        >>> [read_molecule(s)[1] for s in ("CCO", "", "C1CC", "c1cccc1", "C(C)(C)(C)(C)C")]
        ['', 'empty', 'unparsable', 'fails_sanitization', 'fails_sanitization']
    """
    if not smiles:
        return None, "empty"
    if len(smiles) > MAX_SMILES_LENGTH:
        return None, "too_long"
    mol = Chem.MolFromSmiles(smiles)
    if mol is not None:
        return (mol, "") if mol.GetNumAtoms() else (None, "empty")
    syntax_ok = Chem.MolFromSmiles(smiles, sanitize=False) is not None
    return None, "fails_sanitization" if syntax_ok else "unparsable"


class StrictMolecule(NamedTuple):
    """What :func:`strict_molecule` says of one SMILES."""

    mol: Chem.Mol | None
    """The molecule if it is strictly valid, else ``None``."""
    reason: str
    """Why it is not strictly valid; ``""`` when it is."""
    smiles: str | None
    """Its canonical SMILES if it is strictly valid, else ``None``."""


def strict_molecule(smiles: str) -> StrictMolecule:
    """Parse ``smiles`` and judge strict validity (:func:`strict_smiles`), saying why not.

    Returns:
        ``(mol, "", canonical SMILES)`` for a strictly valid molecule, else
        ``(None, reason, None)``: a reason of :func:`read_molecule`, then ``"dummy_atom"`` (a
        ``*``) or ``"multi_fragment"``.

    Examples:
        >>> [strict_molecule(s)[1] for s in ("CCO", "CC.O", "*CC", "C1CC")]
        ['', 'multi_fragment', 'dummy_atom', 'unparsable']
    """
    mol, reason = read_molecule(smiles)
    if mol is None:
        return StrictMolecule(None, reason, None)
    canonical = Chem.MolToSmiles(mol)
    reason = _strict_failure(canonical)
    return StrictMolecule(None, reason, None) if reason else StrictMolecule(mol, "", canonical)


class InvalidSmilesError(ValueError):
    """RDKit could not parse or sanitise a SMILES string."""

    def __init__(self, smiles: str) -> None:
        if len(smiles) > MAX_SMILES_LENGTH:
            message = f"SMILES of {len(smiles)} characters, over the limit of {MAX_SMILES_LENGTH}"
        else:
            message = f"RDKit cannot parse SMILES {smiles!r}"
        super().__init__(message)
        self.smiles = smiles


def smiles_to_mol(smiles: str) -> Chem.Mol:
    """Parse and sanitise a SMILES string.

    Raises:
        InvalidSmilesError: If RDKit rejects it (syntax, valence) or it is empty.

    Examples:
        >>> smiles_to_mol("c1ccoc1").GetNumAtoms()
        5
    """
    mol = parse_smiles(smiles.strip()) if smiles else None
    if mol is None:
        raise InvalidSmilesError(smiles)
    return mol


def mol_to_smiles(mol: Chem.Mol) -> str:
    """RDKit's canonical SMILES of ``mol`` (the identity used for uniqueness and novelty).

    Examples:
        >>> mol_to_smiles(smiles_to_mol("OCC"))
        'CCO'
    """
    return Chem.MolToSmiles(mol)


def canonical_smiles(smiles: str) -> str | None:
    """Canonical SMILES of a parsable string, or ``None`` if RDKit rejects it.

    Examples:
        >>> canonical_smiles("C(C)O"), canonical_smiles("C1CC")
        ('CCO', None)
    """
    mol = parse_smiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def strict_smiles(mol: Chem.Mol | None) -> str | None:
    """Canonical SMILES of a strictly valid molecule, else ``None``.

    Strictly valid (molgan's definition, stricter than MolGAN's code, which kept padding as ``*``
    atoms and disconnected fragments): ``mol`` is a sanitised molecule (as returned by
    ``Chem.MolFromSmiles`` or :func:`molgan.graph.graph_to_mol`; ``None`` means sanitisation
    failed) with at least one atom, no dummy (atomic number 0) atoms, and a single connected
    component. No valency correction is ever applied.

    Examples:
        >>> strict_smiles(Chem.MolFromSmiles("OCC")), strict_smiles(Chem.MolFromSmiles("CC.O"))
        ('CCO', None)
        >>> strict_smiles(Chem.MolFromSmiles("*CC")) is None
        True
    """
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    smiles = Chem.MolToSmiles(mol)
    return None if _strict_failure(smiles) else smiles


def _strict_failure(canonical: str) -> str:
    """Why a sanitised molecule's canonical SMILES is not strictly valid, ``""`` if it is.

    Dummy atoms always print as ``*`` (bare, bracketed or isotope-labelled) and fragments as ``.``.
    """
    if "*" in canonical:
        return "dummy_atom"
    return "multi_fragment" if "." in canonical else ""


def write_sdf(
    path: str | os.PathLike,
    smiles: Iterable[str],
    properties: Mapping[str, Sequence[object]] | None = None,
) -> int:
    """Write molecules (with 2D coordinates) to an SD file, atomically; returns how many.

    Args:
        path: The ``.sdf`` file to write.
        smiles: Valid SMILES; each becomes one record, titled with its SMILES.
        properties: Optional ``name -> one value per molecule``, written as SD data fields.

    Raises:
        InvalidSmilesError: If a SMILES does not parse (nothing is written then).
    """
    from rdkit.Chem import rdDepictor

    from molgan.io import atomic_write_text

    buffer = io.StringIO()
    writer = Chem.SDWriter(buffer)
    count = 0
    try:
        for i, text in enumerate(smiles):
            mol = smiles_to_mol(text)
            rdDepictor.Compute2DCoords(mol)
            mol.SetProp("_Name", text)
            for name, values in (properties or {}).items():
                mol.SetProp(name, str(values[i]))
            writer.write(mol)
            count += 1
    finally:  # RDKit's writer must let go of the buffer, even when a SMILES is rejected
        writer.close()
    atomic_write_text(path, buffer.getvalue())
    return count


@contextmanager
def quiet_rdkit() -> Iterator[None]:
    """Mute RDKit's warnings and errors inside the block (for expected failures such as decoding).

    Examples:
        >>> with quiet_rdkit():
        ...     Chem.MolFromSmiles("C(C)(C)(C)(C)C") is None
        True
    """
    RDLogger.DisableLog("rdApp.*")
    try:
        yield
    finally:
        RDLogger.EnableLog("rdApp.*")
