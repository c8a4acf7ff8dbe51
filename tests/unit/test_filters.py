from pathlib import Path

import pytest
from rdkit import Chem

from molgan.filters import (
    filter_smiles,
    lipinski_violations,
    passes_brenk,
    passes_lipinski,
    passes_moses,
    passes_pains,
    threshold_filter,
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
        "invalid_empty": 1,
        "invalid_unparsable": 1,
        "n_valid": 4,
        "n_duplicates": 0,
        "rejected_lipinski": 0,
        "rejected_pains": 1,
        "rejected_brenk": 2,
        "n_passed": 2,
    }


def test_unknown_filter_lists_valid_names():
    with pytest.raises(KeyError, match="valid names: lipinski, pains, brenk"):
        filter_smiles(["C"], ["lipinksi"])


def test_threshold_filters_compare_the_raw_property():
    aspirin = mol("CC(=O)Oc1ccccc1C(=O)O")  # QED 0.550, MW 180.16
    assert threshold_filter("qed>=0.5")(aspirin)
    assert not threshold_filter("qed >= 0.6")(aspirin)
    assert threshold_filter("mol_weight<=180.2")(aspirin)
    assert not threshold_filter("mol_weight<=1.8e2")(aspirin)
    assert threshold_filter("logp<=+1.5")(aspirin)  # Crippen logP 1.31


@pytest.mark.parametrize("spec", ["qed>0.5", "qed>=", "qed>=high", ">=0.5", "qed=>0.5"])
def test_malformed_threshold_is_a_clear_error(spec):
    with pytest.raises((ValueError, KeyError), match="threshold|unknown filter"):
        filter_smiles(["C"], [spec])


def test_threshold_on_unknown_property_lists_the_valid_ones():
    with pytest.raises(KeyError, match="unknown property 'qde'.*valid names: qed, sa, logp"):
        filter_smiles(["C"], ["qde>=0.5"])


def test_threshold_filters_count_like_named_ones():
    report = filter_smiles(["CC(=O)Oc1ccccc1C(=O)O", "C", "", "CC=O"], ["pains", "qed>=0.5"])
    assert report.kept == ["CC(=O)Oc1ccccc1C(=O)O"]
    assert report.counts() == {
        "n_input": 4,
        "invalid_empty": 1,
        "n_valid": 3,
        "n_duplicates": 0,
        "rejected_pains": 0,
        "rejected_qed>=0.5": 2,
        "n_passed": 1,
    }


def test_duplicates_are_counted_and_can_be_dropped():
    report = filter_smiles(["OCC", "CCO", "CC=O", "CCN", "C(C)O", ""], ["pains"])
    assert report.n_duplicates == 2 and report.counts()["n_duplicates"] == 2
    assert report.kept == ["CCO", "CCO", "CC=O", "CCN", "CCO"]
    assert report.kept_unique == ["CCO", "CC=O", "CCN"]


def test_a_report_prints_as_a_summary_not_its_molecules():
    report = filter_smiles(["CCO"] * 5000, ["pains"])
    text = repr(report)
    assert len(text) < 200 and "n_passed=5000" in text and "n_duplicates=4999" in text


@pytest.mark.parametrize(
    "smiles, passes",
    [
        ("CC(=O)Nc1ccc(O)cc1", True),  # paracetamol
        ("CC1CO1", False),  # epoxide: MCF5
        ("CC[NH3+]", False),  # charged
        ("CCI", False),  # iodine is outside MOSES's elements
        ("C1CCCCCCC1", False),  # an 8-membered ring
        ("O=C1C=CC(=O)C=C1", False),  # quinone: PAINS
    ],
)
def test_moses_filter(smiles, passes):
    assert passes_moses(mol(smiles)) is passes


def test_moses_filter_passes_the_moses_data():
    rows = (Path(__file__).resolve().parents[1] / "data" / "druglike.smi").read_text().split()
    assert all(passes_moses(mol(s)) for s in rows[:200])
