import pytest
from rdkit import Chem

from molgan.chem import (
    InvalidSmilesError,
    canonical_smiles,
    smiles_to_mol,
    strict_smiles,
    write_sdf,
)


@pytest.mark.parametrize("bad", ["", "   ", "C1CC", "C(C)(C)(C)(C)C", "not a smiles"])
def test_smiles_to_mol_raises_on_bad_input(bad):
    with pytest.raises(InvalidSmilesError):
        smiles_to_mol(bad)


@pytest.mark.parametrize(
    "smiles, expected",
    [
        ("OCC", "CCO"),
        ("CC.O", None),  # two fragments
        ("*CC", None),  # dummy atom
        ("[*]CC", None),
        ("[1*]CC", None),
        ("*.*.CCO", None),  # what MolGAN's code counted as valid
        ("[NH3+]CC(=O)[O-]", "[NH3+]CC(=O)[O-]"),  # zwitterion: one component, valid
        ("[Na+].[Cl-]", None),
    ],
)
def test_strict_smiles(smiles, expected):
    assert strict_smiles(Chem.MolFromSmiles(smiles)) == expected


def test_strict_smiles_of_none_and_empty_mol():
    assert strict_smiles(None) is None
    assert strict_smiles(Chem.Mol()) is None


def test_canonical_smiles():
    assert canonical_smiles("C(O)C") == "CCO"
    assert canonical_smiles("") is None
    assert canonical_smiles("C1CC") is None


def test_write_sdf_writes_titled_records_with_properties(tmp_path):
    path = tmp_path / "out.sdf"
    assert write_sdf(path, ["CCO", "c1ccccc1"], properties={"qed": [0.41, 0.44]}) == 2
    records = [m for m in Chem.SDMolSupplier(str(path))]
    assert [m.GetProp("_Name") for m in records] == ["CCO", "c1ccccc1"]
    assert [m.GetProp("qed") for m in records] == ["0.41", "0.44"]
    assert records[1].GetConformer().Is3D() is False  # 2D depiction coordinates
    with pytest.raises(InvalidSmilesError):
        write_sdf(tmp_path / "bad.sdf", ["CCO", "C1CC"])
    assert not (tmp_path / "bad.sdf").exists()  # nothing half-written
