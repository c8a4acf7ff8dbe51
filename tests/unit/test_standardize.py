import pytest
from rdkit import Chem

from molgan.data import derive_vocabulary, featurize
from molgan.standardize import TRANSFORMS, check_transforms, standardize
from molgan.vocab import Vocabulary


def canon(mol):
    return Chem.MolToSmiles(mol)


@pytest.mark.parametrize(
    "smiles, expected, changed",
    [
        ("C[C@H](N)O", "CC(N)O", ("strip_stereo",)),
        ("C/C=C/C", "CC=CC", ("strip_stereo",)),
        ("CCN.Cl", "CCN", ("largest_fragment",)),
        ("CC(=O)[O-].[Na+]", "CC(=O)[O-]", ("largest_fragment",)),
        ("O.O.C[C@@H](O)c1ccccc1", "CC(O)c1ccccc1", TRANSFORMS),
        ("c1ccccc1", "c1ccccc1", ()),
    ],
)
def test_standardize_reports_what_it_changed(smiles, expected, changed):
    mol = Chem.MolFromSmiles(smiles)
    before = canon(mol)
    out, did = standardize(mol, TRANSFORMS)
    assert (canon(out), did) == (expected, changed)
    assert canon(mol) == before  # the input is never modified


def test_each_transform_runs_only_when_asked():
    mol = Chem.MolFromSmiles("C[C@H](N)O.Cl")
    assert standardize(mol, ())[1] == ()
    assert canon(standardize(mol, ["largest_fragment"])[0]) == "C[C@H](N)O"
    with pytest.raises(ValueError, match="unknown transforms"):
        check_transforms(["neutralize"])


def test_featurize_keeps_cleaned_rows_and_counts_changes():
    rows = ["C[C@H](N)O", "CCN.Cl", "CCO", "C/C=C/C"]
    vocab = Vocabulary.qm9()
    plain = featurize(rows, vocab, n_jobs=1)
    assert plain.smiles == ["CCO"]
    assert plain.skipped == {"round_trip_mismatch": 2, "multi_fragment": 1}
    cleaned = featurize(rows, vocab, transforms=TRANSFORMS, n_jobs=1)
    assert cleaned.smiles == ["CC(N)O", "CCN", "CCO", "CC=CC"]
    assert cleaned.changed == {"strip_stereo": 2, "largest_fragment": 1}
    assert cleaned.skipped == {}


def test_derived_vocabulary_ignores_dropped_counter_ions():
    rows = ["CC(=O)[O-].[Na+]", "CCO"]
    assert [a.label for a in derive_vocabulary(rows).atom_types] == ["C", "O"]  # salt skipped
    cleaned = derive_vocabulary(rows, transforms=["largest_fragment"])
    assert [a.label for a in cleaned.atom_types] == ["C", "O", "O-"]  # no Na+
