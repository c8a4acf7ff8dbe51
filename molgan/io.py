"""Read and write SMILES files (``.smi``/``.txt`` or CSV with a ``smiles`` column, gzip or not).

No RDKit here: these functions move text only.

Every line of a SMILES file, and every data row of a CSV, is one entry; an empty line is kept as
``""`` so that a file of generated samples keeps its sample count. Problems with the file itself
raise :class:`InputFileError`, whose message names the file (and line where one is known).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = [
    "InputFileError",
    "read_smiles",
    "write_smiles",
    "atomic_write_text",
    "atomic_write_bytes",
    "atomic_file",
    "sample_record_path",
    "write_sample_record",
    "read_sample_record",
]

_CSV_SUFFIXES = (".csv", ".csv.gz")
_SMILES_COLUMN = "smiles"


class InputFileError(ValueError):
    """A file molgan cannot read: missing, unreadable, empty, binary, badly encoded or malformed."""


def read_smiles(path: str | os.PathLike, column: str = _SMILES_COLUMN) -> list[str]:
    """Read every entry of a SMILES or CSV file, in order.

    Args:
        path: A ``.smi``/``.txt`` file (first whitespace-separated token of each line; the rest,
            such as a name, is ignored) or a ``.csv`` file with a header naming ``column``
            (matched case-insensitively). ``.gz`` compression is detected by suffix.
        column: The CSV column holding SMILES.

    Returns:
        One string per line (SMILES files) or data row (CSV); empty entries are ``""``.

    Raises:
        InputFileError: If the file is missing, unreadable, not UTF-8 text, has no entries, or
            (CSV) has no ``column`` column or a malformed row.
    """
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise InputFileError(f"{path}: the file is empty")
    name = path.name.lower()
    if name.endswith(_CSV_SUFFIXES):
        return _parse_csv(text, path, column)
    lines = text.splitlines()
    return [line.split()[0] if line.strip() else "" for line in lines]


def write_smiles(path: str | os.PathLike, smiles: Iterable[str]) -> None:
    """Write one SMILES per line (``""`` becomes an empty line), atomically.

    Examples:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.smi"
        >>> write_smiles(out, ["CCO", "", "C#N"]); read_smiles(out)
        ['CCO', '', 'C#N']
    """
    atomic_write_text(path, "".join(f"{s}\n" for s in smiles))


def sample_record_path(path: str | os.PathLike) -> Path:
    """Where ``molgan sample`` records the denominators of the samples file ``path``.

    Examples:
        >>> sample_record_path("runs/s.smi").as_posix()
        'runs/s.smi.json'
    """
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_sample_record(path: str | os.PathLike, record: dict) -> None:
    """Write the sample record of the samples file ``path`` (JSON beside it), atomically."""
    atomic_write_text(sample_record_path(path), json.dumps(record, indent=2) + "\n")


def read_sample_record(path: str | os.PathLike) -> dict | None:
    """The sample record of ``path`` written by :func:`write_sample_record`, ``None`` if absent.

    Raises:
        InputFileError: If the record exists but is not a molgan sample record.
    """
    record_path = sample_record_path(path)
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputFileError(f"{record_path}: unreadable sample record ({err})") from None
    keys = {"n_requested", "n_valid", "n_written", "keep_invalid"}
    if not isinstance(record, dict) or not keys <= record.keys():
        raise InputFileError(f"{record_path}: not a molgan sample record (needs {sorted(keys)})")
    return record


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` as UTF-8 via a temporary file and a rename, so readers never see half."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename, so readers never see half."""
    with atomic_file(path) as handle:
        handle.write(data)


@contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it to ``path``, else delete it.

    Readers never see a half-written file, and a failed write never clobbers the old one.

    Args:
        path: The file to (re)write; its folder is created.
        mode: ``"wb"`` or ``"w"`` (UTF-8 text).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a directory, expected a SMILES or CSV file") from None
    except OSError as err:
        raise InputFileError(f"{path}: cannot read ({err.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise InputFileError(f"{path}: corrupt gzip data ({err})") from None
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise InputFileError(f"{path}:{line}: binary data (NUL byte), expected text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise InputFileError(
            f"{path}:{line}: not UTF-8 text (byte {raw[err.start]:#04x})"
        ) from None


def _parse_csv(text: str, path: Path, column: str) -> list[str]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as err:
        raise InputFileError(f"{path}:1: malformed CSV header ({err})") from None
    names = [h.strip().lower() for h in header]
    if column.lower() not in names:
        raise InputFileError(f"{path}:1: no {column!r} column (columns: {', '.join(header)})")
    index = names.index(column.lower())
    smiles: list[str] = []
    try:
        for row in reader:
            smiles.append(row[index].strip() if index < len(row) else "")
    except csv.Error as err:
        raise InputFileError(f"{path}:{reader.line_num}: malformed CSV ({err})") from None
    if not smiles:
        raise InputFileError(f"{path}: a header but no rows")
    return smiles
