import pytest
from rdkit import Chem

from molgan.filters import (
    filter_smiles,
    lipinski_violations,
    passes_brenk,
    passes_lipinski,
    passes_pains,
)


def mol(smiles):
    return Chem.MolFromSmiles(smiles)


def test_lipinski_counts_each_limit():
    assert lipinski_violations(mol("CC(=O)Oc1ccccc1C(=O)O")) == 0  # aspirin
    long_acid = "C" * 40 + "C(=O)O"  # MW 606 and logP 14: two violations
    assert lipinski_violations(mol(long_acid)) == 2
    assert not passes_lipinski(mol(long_acid))
    assert lipinski_violations(mol("C" * 20)) == 1  # icosane: logP 7.9, MW 282
    assert passes_lipinski(mol("C" * 20))  # one violation is allowed


@pytest.mark.parametrize(
    "smiles, pains, brenk",
    [
        ("CCO", True, True),
        ("O=C1C=CC(=O)C=C1", False, False),  # p-benzoquinone: PAINS quinone, Brenk Michael acceptor
        ("Oc1ccccc1N=Nc1ccccc1", False, False),  # hydroxyphenyl azo dye
        ("CC=O", True, False),  # aldehyde: Brenk only
    ],
)
def test_substructure_filters(smiles, pains, brenk):
    assert passes_pains(mol(smiles)) is pains
    assert passes_brenk(mol(smiles)) is brenk


def test_filter_report_counts_and_keeps_in_order():
    report = filter_smiles(["OCC", "CC=O", "", "C1CC", "O=C1C=CC(=O)C=C1", "CCN"])
    assert report.kept == ["CCO", "CCN"]
    assert report.counts() == {
        "n_input": 6,
        "n_valid": 4,
        "rejected_lipinski": 0,
        "rejected_pains": 1,
        "rejected_brenk": 2,
        "n_passed": 2,
    }


def test_unknown_filter_lists_valid_names():
    with pytest.raises(KeyError, match="valid names: lipinski, pains, brenk"):
        filter_smiles(["C"], ["lipinksi"])
