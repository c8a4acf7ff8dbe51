import gzip

import pytest

from molgan.io import InputFileError, read_smiles, write_smiles


def test_smi_keeps_empty_lines_and_drops_names(tmp_path):
    path = tmp_path / "g.smi"
    path.write_text("CCO ethanol\n\nC1CC\n  \nC#N\n")
    assert read_smiles(path) == ["CCO", "", "C1CC", "", "C#N"]


def test_csv_with_smiles_column_any_case_and_gzip(tmp_path):
    path = tmp_path / "g.csv.gz"
    path.write_bytes(gzip.compress(b"id,SMILES\n1,CCO\n2,\n3,C#N\n"))
    assert read_smiles(path) == ["CCO", "", "C#N"]


def test_write_then_read(tmp_path):
    write_smiles(tmp_path / "out" / "x.smi", ["C", "", "N"])
    assert read_smiles(tmp_path / "out" / "x.smi") == ["C", "", "N"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.smi", b"", "empty.smi: the file is empty"),
        ("blank.smi", b"\n \n", "the file is empty"),
        ("latin1.smi", b"CCO\nC\xe9C\n", "latin1.smi:2: not UTF-8"),
        ("binary.smi", b"CC\nC\x00C\n", "binary.smi:2: binary data"),
        ("nocol.csv", b"id,name\n1,x\n", "nocol.csv:1: no 'smiles' column"),
        ("header.csv", b"smiles\n", "a header but no rows"),
        ("bad.csv.gz", b"\x1f\x8bnot gzip", "corrupt gzip"),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=message):
        read_smiles(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        read_smiles(tmp_path / "nope.smi")
    with pytest.raises(InputFileError, match="is a directory"):
        read_smiles(tmp_path)


def test_bom_padded_column_and_gzip_behind_a_smi_name(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffid, SMILES \n1,CCO\n".encode())
    assert read_smiles(bom) == ["CCO"]
    disguised = tmp_path / "samples.smi"
    disguised.write_bytes(gzip.compress(b"CCO\nCCN\n"))
    assert read_smiles(disguised) == ["CCO", "CCN"]
