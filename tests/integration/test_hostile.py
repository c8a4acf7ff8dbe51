"""Every input command on every file of the hostile corpus (tests/data/hostile, docs/robustness.md).

A file either reads (exit 0, bad rows counted by reason) or gives one line, ``molgan: error:``,
naming the file, with exit code 1; never a traceback.
"""

from pathlib import Path

import pytest

from molgan.cli import main

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile"
TINY = CORPUS.parent / "tiny.smi"

# file -> None (it reads) or the error message it must give
OUTCOMES = {
    "empty.smi": "the file is empty",
    "blank_only.smi": "the file is empty",
    "header_only.csv": "a header but no rows",
    "no_smiles_column.csv": ":1: no 'smiles' column (columns: id, structure)",
    "padded_upper_column.csv": None,
    "two_smiles_columns.csv": ":1: 2 'smiles' columns",
    "ragged_rows.csv": ":3: 1 fields where the header has 2",
    "rfc4180_quoting.csv": None,
    "crlf.smi": None,
    "cr_only.csv": None,
    "utf8_bom.csv": None,
    "utf16_bom.csv": None,
    "latin1.smi": ":1: not UTF-8 text (byte 0xe9)",
    "nul_bytes.smi": ":2: binary data (NUL byte)",
    "random_bytes.smi": "binary data (NUL byte)",
    "gzip_behind_smi_name.smi": None,
    "corrupt_gzip.smi": "corrupt gzip data",
    "chemistry.smi": None,
    "duplicates.smi": None,
    "comments_and_names.smi": None,
    "malformed.smi": None,
    "megabyte_line.smi.gz": None,
    "aromatic_30k.smi.gz": None,
}

COMMANDS = {
    "evaluate": lambda f, out: ["evaluate", f, "--train", str(TINY), "--test", str(TINY)],
    "data stats": lambda f, out: ["data", "stats", f, "--vocab", "data"],
    "filter": lambda f, out: ["filter", f, "-o", str(out / "kept.smi")],
    "score": lambda f, out: ["score", f, "--rewards", "qed"],
}


def test_the_corpus_is_what_make_py_writes():
    made = {p.name for p in CORPUS.iterdir() if p.name not in ("make.py", "README.md")}
    assert made == set(OUTCOMES)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", OUTCOMES)
def test_each_hostile_file_reads_or_fails_in_one_line(tmp_path, capsys, command, name):
    path = str(CORPUS / name)
    code = main(COMMANDS[command](path, tmp_path))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    expected = OUTCOMES[name]
    if expected is None:
        assert code == 0, err
    else:
        assert code == 1
        last = err.strip().splitlines()[-1]
        assert last.startswith(f"molgan: error: {path}") and expected in last


@pytest.mark.parametrize("name", [n for n, outcome in OUTCOMES.items() if outcome is not None])
def test_training_on_a_hostile_file_fails_before_it_starts(tmp_path, capsys, name):
    path = str(CORPUS / name)
    assert main(["train", "--data", path, "--out", str(tmp_path / "run")]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"molgan: error: {path}") and OUTCOMES[name] in last
    assert not (tmp_path / "run" / "checkpoint").exists()


def test_the_chemistry_file_is_counted_by_reason(capsys):
    assert main(["data", "stats", str(CORPUS / "chemistry.smi"), "--vocab", "qm9"]) == 0
    out = capsys.readouterr().out
    for reason in (
        "unknown_atom: 2",  # Xe, U6+: not among QM9's classes
        "too_many_atoms: 1",
        "dummy_atom: 1",
        "no_heavy_atoms: 2",
        "isotope: 2",
        "radical: 1",
        "fails_sanitization: 2",
        "unparsable: 1",
        "multi_fragment: 2",
    ):
        assert f"skipped {reason}" in out
    assert "changed by strip_stereo: 2" in out
