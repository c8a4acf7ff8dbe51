"""Write the hostile-input corpus in this folder (run once; the files are committed).

Each file exercises one case of docs/robustness.md; tests/integration/test_hostile.py runs every
input command on each file, and benchmarks/hostile.py times them.
"""

import codecs
import gzip
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHEMISTRY = [
    "CCO ordinary",
    "C[NH3+] charged",
    "CC(=O)[O-].[Na+] salt",
    "CCO.CCN mixture",
    "[13CH4] isotope",
    "[2H]OC deuterium",
    "[CH4] explicit_hydrogens",
    "[H][H] no_heavy_atom",
    "[H+] proton",
    "C[C@H](N)O stereo_centre",
    "C/C=C/C stereo_bond",
    "[CH3] radical",
    "c1cccc1 not_kekulizable",
    "C(C)(C)(C)(C)C pentavalent",
    "C1CC unclosed_ring",
    "[Xe] noble_gas",
    "[U+6] uranium",
    "C" * 40 + " forty_carbons",
    "* dummy",
]

TEXT = {
    "empty.smi": b"",
    "blank_only.smi": b"\n   \n\t\n",
    "header_only.csv": b"smiles,name\n",
    "no_smiles_column.csv": b"id,structure\n1,CCO\n",
    "padded_upper_column.csv": b"id, SMILES \n1,CCO\n2,CCN\n",
    "two_smiles_columns.csv": b"smiles,SMILES\nCCO,CCN\n",
    "ragged_rows.csv": b"name,smiles\na,CCO\nb\nc,CCN,extra\n",
    "rfc4180_quoting.csv": (
        b'name,smiles\n"ethanol, absolute",CCO\n"two\nlines",CCN\n"say ""hi""",C#N\n'
    ),
    "crlf.smi": b"CCO\r\nCCN\r\n",
    "cr_only.csv": b"smiles,name\rCCO,a\rCCN,b\r",
    "utf8_bom.csv": codecs.BOM_UTF8 + b"smiles\nCCO\nCCN\n",
    "utf16_bom.csv": codecs.BOM_UTF16_LE + "smiles,name\r\nCCO,a\r\nCCN,b\r\n".encode("utf-16-le"),
    "latin1.smi": "CCO café\n".encode("latin-1"),
    "nul_bytes.smi": b"CCO\nCC\x00N\n",
    "chemistry.smi": ("\n".join(CHEMISTRY) + "\n").encode(),
    "duplicates.smi": b"CCO\nOCC\nC(C)O\nCCN\n",
    "comments_and_names.smi": b"# made by hand\nCCO ethanol\nCCN\tethylamine\n# the end\n",
    "malformed.smi": b"C1CC\n)(\nC==C\n[C\nCCO\n",
}


def main() -> None:
    for name, data in TEXT.items():
        (HERE / name).write_bytes(data)
    (HERE / "random_bytes.smi").write_bytes(random.Random(0).randbytes(4096))
    (HERE / "gzip_behind_smi_name.smi").write_bytes(gzip.compress(b"CCO\nCCN\n", mtime=0))
    text = "".join(f"C{'C' * (k % 7)}O{k}\n" for k in range(2000)).encode()
    packed = gzip.compress(text, mtime=0)
    (HERE / "corrupt_gzip.smi").write_bytes(packed[: len(packed) // 2])  # truncated mid-stream
    # 1 MiB lines, stored compressed (about 1 KiB each): RDKit would take hours on them.
    line = b"CCO\n" + b"C" * (1 << 20) + b"\nCCN\n"
    (HERE / "megabyte_line.smi.gz").write_bytes(gzip.compress(line, mtime=0))
    aromatic = b"CCO\n" + b"c" * 30_000 + b"\nCCN\n"
    (HERE / "aromatic_30k.smi.gz").write_bytes(gzip.compress(aromatic, mtime=0))


if __name__ == "__main__":
    main()
