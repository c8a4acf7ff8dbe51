import pytest

from molgan.chem import smiles_to_mol
from molgan.vocab import AtomType, Vocabulary


def test_qm9_vocabulary_sizes(vocab):
    assert vocab.n_atom_classes == 9  # padding + C, C-, N, N-, N+, O, O-, F
    assert vocab.n_bond_classes == 4  # none, single, double, triple
    assert vocab.max_atoms == 9


def test_atom_ids_start_at_one_and_unknown_is_none(vocab):
    assert vocab.atom_id("C") == 1
    assert vocab.atom_id("N", 1) == 5
    assert vocab.atom_id("Cl") is None
    assert vocab.atom_id("O", 1) is None


def test_from_mols_is_data_driven_and_sorted_by_atomic_number():
    mols = [smiles_to_mol(s) for s in ["ClCCl", "[NH3+]CC(=O)[O-]", "CCO"]]
    derived = Vocabulary.from_mols(mols)
    assert [a.label for a in derived.atom_types] == ["C", "N+", "O", "O-", "Cl"]
    assert derived.max_atoms == 5
    assert Vocabulary.from_mols(mols, max_atoms=20).max_atoms == 20


def test_dict_round_trip_and_fingerprint(vocab):
    again = Vocabulary.from_dict(vocab.to_dict())
    assert again == vocab
    assert again.fingerprint == vocab.fingerprint
    other = Vocabulary(vocab.atom_types, max_atoms=12)
    assert other.fingerprint != vocab.fingerprint


@pytest.mark.parametrize(
    "atoms, max_atoms, message",
    [
        ((), 9, "at least one atom type"),
        ((AtomType("C"), AtomType("C")), 9, "duplicate"),
        ((AtomType("*"),), 9, "not a chemical element"),
        ((AtomType("C"),), 0, "max_atoms"),
        ((AtomType("N", 0, -1),), 9, "hydrogens"),
    ],
)
def test_bad_vocabularies_are_rejected(atoms, max_atoms, message):
    with pytest.raises(ValueError, match=message):
        Vocabulary(atoms, max_atoms)


def test_from_dict_rejects_garbage():
    with pytest.raises(ValueError, match="not a vocabulary"):
        Vocabulary.from_dict({"atom_types": "C"})
    with pytest.raises(ValueError, match="not a vocabulary"):  # a fourth field
        Vocabulary.from_dict({"atom_types": [["N", 0, 1, 2]], "bond_types": [], "max_atoms": 9})


def test_aromatic_vocabulary_adds_the_aromatic_bond_and_hydrogen_classes():
    aromatic = Vocabulary.qm9(aromatic=True)
    assert aromatic.aromatic and not Vocabulary.qm9().aromatic
    assert aromatic.bond_types == ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
    assert aromatic.bond_orders[-1] == 1.5
    labels = [a.label for a in aromatic.atom_types]
    assert labels == ["C", "C-", "CH-", "N", "NH", "N-", "N+", "NH+", "O", "O-", "F"]
    assert Vocabulary.from_dict(aromatic.to_dict()) == aromatic
    assert aromatic.fingerprint != Vocabulary.qm9().fingerprint


def test_a_kekulized_vocabulary_is_described_as_before(vocab):
    """Hydrogens appear in the description only where there are any, so the fingerprints (the
    cache keys of every dataset and checkpoint written before aromatic vocabularies) hold."""
    assert vocab.to_dict()["atom_types"][:3] == [["C", 0], ["C", -1], ["N", 0]]
    assert vocab.fingerprint == "10abcab82d82"


def test_from_mols_with_aromatic_keeps_pyrrole_nh_apart():
    mols = [smiles_to_mol(s) for s in ["c1cc[nH]c1", "CCN"]]
    assert [a.label for a in Vocabulary.from_mols(mols).atom_types] == ["C", "N"]
    derived = Vocabulary.from_mols(mols, aromatic=True)
    assert [a.label for a in derived.atom_types] == ["C", "N", "NH"]
