"""Read and write SMILES files (``.smi``/``.txt`` or CSV with a ``smiles`` column, gzip or not).

No RDKit here: these functions move text only.

Every line of a SMILES file, and every data row of a CSV, is one entry; an empty line is kept as
``""`` so that a file of generated samples keeps its sample count. Problems with the file itself
raise :class:`InputFileError`, whose message names the file (and line where one is known).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = [
    "InputFileError",
    "read_smiles",
    "read_smiles_lines",
    "write_smiles",
    "atomic_write_text",
    "atomic_write_bytes",
    "atomic_file",
    "sample_record_path",
    "write_sample_record",
    "read_sample_record",
    "shard_path",
    "merge_sample_shards",
]

_CSV_SUFFIXES = (".csv", ".csv.gz")
_SMILES_COLUMN = "smiles"
_SHARD_KEYS = ("seed", "rank", "world_size", "base_seed")  # a shard's own, not the merged file's
_SHARDS_AGREE_ON = {
    "keep_invalid": "some shards kept invalid samples and some did not",
    "valence_mask": "some shards were decoded with the valence mask, some not",
    "transport": "the shards were sampled with different transports",
    "refiner": "the shards were sampled with different refiner passes",
}
"""Record fields every shard of one sample must share, and what a merge says when they differ."""
_UTF16_BOMS = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


class InputFileError(ValueError):
    """A file molgan cannot read: missing, unreadable, empty, binary, badly encoded or malformed."""


def read_smiles(path: str | os.PathLike, column: str = _SMILES_COLUMN) -> list[str]:
    """Read every entry of a SMILES or CSV file, in order.

    Args:
        path: A ``.smi``/``.txt`` file (first whitespace-separated token of each line; the rest,
            such as a name, is ignored; lines starting with ``#`` are comments, not entries) or
            a ``.csv`` file (RFC 4180) with a header naming ``column`` (matched
            case-insensitively, padding ignored). Gzip data is detected by its magic bytes;
            UTF-8 and UTF-16 text with a byte-order mark are read.
        column: The CSV column holding SMILES.

    Returns:
        One string per line (SMILES files) or data row (CSV); empty entries are ``""``.

    Raises:
        InputFileError: If the file is missing, unreadable, not text, has no entries, or (CSV)
            has no ``column`` column, two of them, or a row with a different number of fields
            than its header.
    """
    return read_smiles_lines(path, column)[0]


def read_smiles_lines(
    path: str | os.PathLike, column: str = _SMILES_COLUMN
) -> tuple[list[str], list[int]]:
    r""":func:`read_smiles`, plus the 1-based line of the file where each entry starts.

    Examples:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.smi"
        >>> _ = path.write_text("# made by hand\nCCO ethanol\n\nC#N\n")
        >>> read_smiles_lines(path)
        (['CCO', '', 'C#N'], [2, 3, 4])
    """
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise InputFileError(f"{path}: the file is empty")
    if path.name.lower().endswith(_CSV_SUFFIXES):
        return _parse_csv(text, path, column)
    smiles, lines = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):  # no SMILES starts with a bond symbol
            continue
        smiles.append(line.split()[0] if line.strip() else "")
        lines.append(number)
    if not smiles:
        raise InputFileError(f"{path}: only comment lines, no entries")
    return smiles, lines


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


def shard_path(path: str | os.PathLike, rank: int, size: int) -> Path:
    """The file rank ``rank`` of ``size`` writes when a sample is drawn under ``torchrun``.

    Examples:
        >>> shard_path("runs/s.smi", 1, 4).as_posix()
        'runs/s.rank1-of-4.smi'
    """
    path = Path(path)
    return path.with_name(f"{path.stem}.rank{rank}-of-{size}{path.suffix}")


def merge_sample_shards(path: str | os.PathLike, sdf: str | os.PathLike | None = None) -> dict:
    """Join the shards that ``molgan sample`` wrote under ``torchrun`` into ``path``.

    The shards (:func:`shard_path`) are concatenated in rank order, and so are the SD file's
    shards when ``sdf`` is given; their sample records are summed into ``path``'s record, and
    the shards are deleted. This is the same as ``cat`` of the shards in rank order.

    Returns:
        The merged sample record.

    Raises:
        InputFileError: If no shards are found, some are missing, or their records disagree.
    """
    path = Path(path)
    pattern = re.compile(re.escape(path.stem) + r"\.rank(\d+)-of-(\d+)" + re.escape(path.suffix))
    found = {}
    for candidate in path.parent.glob(f"{path.stem}.rank*-of-*{path.suffix}"):
        match = pattern.fullmatch(candidate.name)
        if match:
            found[(int(match[1]), int(match[2]))] = candidate
    sizes = {size for _, size in found}
    if not found:
        raise InputFileError(f"{path}: no shards {shard_path(path, 0, 2).name}, ... to merge")
    if len(sizes) > 1:
        raise InputFileError(f"{path}: shards of runs with {sorted(sizes)} ranks; keep one run's")
    size = sizes.pop()
    missing = [rank for rank in range(size) if (rank, size) not in found]
    if missing:
        raise InputFileError(f"{path}: shards of ranks {missing} of {size} are missing")
    shards = [found[(rank, size)] for rank in range(size)]
    records = []
    for shard in shards:
        record = read_sample_record(shard)
        if record is None:
            raise InputFileError(f"{shard}: no sample record; was it written by molgan sample?")
        records.append(record)
    for key, differ in _SHARDS_AGREE_ON.items():  # absent, false and empty are the same
        if len({json.dumps(r.get(key) or None, sort_keys=True) for r in records}) > 1:
            raise InputFileError(f"{path}: {differ}")
    sdfs = [shard_path(sdf, rank, size) for rank in range(size)] if sdf is not None else []
    for part in sdfs:
        if not part.is_file():
            raise InputFileError(f"{part}: no such SD shard")
    for target, parts in ((path, shards), (sdf, sdfs)):
        if parts:
            with atomic_file(target) as out:
                for part in parts:
                    out.write(part.read_bytes())
    merged = {
        **{k: v for k, v in records[0].items() if k not in _SHARD_KEYS},
        **{key: sum(r[key] for r in records) for key in ("n_requested", "n_valid", "n_written")},
        "seed": records[0].get("base_seed", records[0]["seed"]),
        "shards": size,
    }
    write_sample_record(path, merged)
    for leftover in (*shards, *map(sample_record_path, shards), *sdfs):
        leftover.unlink()
    return merged


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
    for bom, codec in _UTF16_BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(codec)
            except UnicodeDecodeError as err:
                raise InputFileError(f"{path}: not {codec.upper()} text ({err.reason})") from None
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


def _parse_csv(text: str, path: Path, column: str) -> tuple[list[str], list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as err:
        raise InputFileError(f"{path}:1: malformed CSV header ({err})") from None
    names = [h.strip().lower() for h in header]
    matches = [k for k, name in enumerate(names) if name == column.lower()]
    if not matches:
        raise InputFileError(f"{path}:1: no {column!r} column (columns: {', '.join(header)})")
    if len(matches) > 1:
        found = " and ".join(repr(header[k]) for k in matches)
        raise InputFileError(f"{path}:1: {len(matches)} {column!r} columns ({found}); keep one")
    index = matches[0]
    smiles, lines = [], []
    line = reader.line_num + 1
    try:
        for row in reader:
            if row and len(row) != len(header):
                raise InputFileError(
                    f"{path}:{line}: {len(row)} fields where the header has {len(header)} "
                    "(quote fields that contain commas)"
                )
            smiles.append(row[index].strip() if row else "")
            lines.append(line)
            line = reader.line_num + 1
    except csv.Error as err:
        raise InputFileError(f"{path}:{reader.line_num}: malformed CSV ({err})") from None
    if not smiles:
        raise InputFileError(f"{path}: a header but no rows")
    return smiles, lines
