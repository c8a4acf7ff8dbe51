import gzip

import pytest

from molgan.io import (
    InputFileError,
    merge_sample_shards,
    read_smiles,
    read_smiles_lines,
    shard_path,
    write_sample_record,
    write_smiles,
)


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


@pytest.mark.parametrize("codec, bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
def test_utf16_with_a_byte_order_mark_is_read(tmp_path, codec, bom):
    path = tmp_path / "excel.csv"
    path.write_bytes(bom + "name,smiles\r\na,CCO\r\nb,CCN\r\n".encode(codec))
    assert read_smiles(path) == ["CCO", "CCN"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending_gives_the_same_entries_and_lines(tmp_path, newline):
    smi = tmp_path / "a.smi"
    smi.write_bytes(newline.join(["# made by hand", "CCO ethanol", "", "C#N\tname", ""]).encode())
    assert read_smiles_lines(smi) == (["CCO", "", "C#N"], [2, 3, 4])
    csv_path = tmp_path / "a.csv"
    csv_path.write_bytes(newline.join(["smiles,name", "CCO,a", "CCN,b", ""]).encode())
    assert read_smiles_lines(csv_path) == (["CCO", "CCN"], [2, 3])


def test_rfc4180_quoting_and_the_line_each_row_starts_on(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('name,smiles\n"ethanol, absolute",CCO\n"two\nlines",CCN\n"say ""hi""",C#N\n')
    assert read_smiles_lines(path) == (["CCO", "CCN", "C#N"], [2, 3, 5])


@pytest.mark.parametrize(
    "content, message",
    [
        ("smiles,SMILES\nCCO,CCN\n", r"q.csv:1: 2 'smiles' columns \('smiles' and 'SMILES'\)"),
        ("name,smiles\na,CCO\nb\n", "q.csv:3: 1 fields where the header has 2"),
        ("name,smiles\na,CCO\nb,CCN,extra\n", "q.csv:3: 3 fields where the header has 2"),
    ],
)
def test_ambiguous_columns_and_ragged_rows_are_errors_with_the_line(tmp_path, content, message):
    path = tmp_path / "q.csv"
    path.write_text(content)
    with pytest.raises(InputFileError, match=message):
        read_smiles(path)


def test_a_file_of_comments_only_is_an_error(tmp_path):
    path = tmp_path / "c.smi"
    path.write_text("# nothing here\n#\n")
    with pytest.raises(InputFileError, match="c.smi: only comment lines"):
        read_smiles(path)


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"valence_mask": True}, "decoded with the valence mask, some not"),
        ({"transport": {"steps": 10, "lipschitz": 0.3, "lr": 0.05}}, "different transports"),
        ({"refiner": {"passes": 2}}, "different refiner passes"),
    ],
)
def test_merge_refuses_shards_sampled_differently(tmp_path, extra, message):
    out = tmp_path / "s.smi"
    for rank, more in enumerate(({}, extra)):
        shard = shard_path(out, rank, 2)
        shard.write_text("C\n")
        record = {"n_requested": 1, "n_valid": 1, "n_written": 1, "keep_invalid": True, "seed": 0}
        write_sample_record(shard, {**record, **more})
    with pytest.raises(InputFileError, match=message):
        merge_sample_shards(out)
    assert not out.exists()
