import math

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import QED, Crippen
from rdkit.Contrib.SA_Score import sascorer

from molgan.rewards import (
    REWARDS,
    Objective,
    RewardScorer,
    logp_reward,
    mean_rewards,
    novelty_reward,
    np_reward,
    qed_reward,
    remap,
    sa_reward,
    uniqueness_reward,
    validity_reward,
)

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def mol(smiles):
    return Chem.MolFromSmiles(smiles)


def test_aspirin_qed_is_bickertons_value():
    # Bickerton et al. 2012 report QED 0.55 for aspirin; RDKit's implementation gives 0.5501.
    assert qed_reward(mol(ASPIRIN)) == pytest.approx(0.5501, abs=1e-4)


def test_benzene_is_trivially_synthesizable():
    assert sascorer.calculateScore(mol("c1ccccc1")) == pytest.approx(1.0, abs=1e-3)
    assert sa_reward(mol("c1ccccc1")) == 1.0


def test_sa_remap_follows_molgan():
    # remap(SA, 5, 1.5): SA 3.25 lies halfway.
    for smiles in ("CC1(C)C2CCC1(C)C(=O)C2", "OC1C2CC3CC1C3O2", ASPIRIN):
        sa = sascorer.calculateScore(mol(smiles))
        assert sa_reward(mol(smiles)) == pytest.approx(min(max((5 - sa) / 3.5, 0), 1))


def test_logp_reward_uses_molgans_qm9_range():
    logp = Crippen.MolLogP(mol("CCCCCC"))
    assert logp == pytest.approx(2.5866, abs=1e-4)
    assert logp_reward(mol("CCCCCC")) == pytest.approx((logp + 2.12178879609) / 8.16469513849)
    assert logp_reward(mol("OCC(O)C(O)C(O)C(O)CO")) == 0.0  # sorbitol, logP -3.6: clipped


def test_np_reward_ranks_a_sugar_above_a_sulfonamide():
    assert np_reward(mol("OCC1OC(O)C(O)C(O)C1O")) == 1.0  # glucose, NP score 2.6
    assert np_reward(mol("NS(=O)(=O)c1ccc(C(F)(F)F)cc1")) == pytest.approx(0.3194, abs=1e-3)


def test_every_molecule_reward_is_in_unit_interval():
    for smiles in ("C", "CCO", ASPIRIN, "FC(F)(F)F", "C1CC2CC1C2", "N#CC#N"):
        for name, reward in REWARDS.items():
            assert 0.0 <= reward(mol(smiles)) <= 1.0, (name, smiles)
    assert validity_reward(mol("C")) == 1.0


def test_remap_clips_and_reverses():
    assert remap(0.0, -1.0, 1.0) == 0.5
    assert remap(-5.0, -1.0, 1.0) == 0.0
    assert remap(1.0, 5.0, 1.5) == 1.0


def test_uniqueness_penalises_every_duplicate():
    assert uniqueness_reward(["C", "C", "C", "CC"]).tolist() == pytest.approx([1 / 3] * 3 + [1])
    assert uniqueness_reward(["C"], recent=["C"]).tolist() == [0.5]


def test_novelty_is_zero_for_training_molecules():
    assert novelty_reward(["CCO", "CCC", None], {"CCO"}).tolist() == [0.0, 1.0, 0.0]


def test_objective_rejects_unknown_names_listing_the_valid_ones():
    with pytest.raises(KeyError, match="unknown reward 'qedd'; valid names: validity, qed"):
        Objective(("qedd",))
    with pytest.raises(ValueError, match="at least one"):
        Objective(())


def test_product_and_weighted_mean():
    scores = np.array([[0.5, 0.4], [1.0, 0.0]])
    assert Objective(("qed", "sa")).combine_scores(scores).tolist() == [0.2, 0.0]
    mean = Objective(("qed", "sa"), "mean", (1, 3)).combine_scores(scores)
    assert mean.tolist() == pytest.approx([0.425, 0.25])


def test_scorer_combines_terms_and_zeroes_invalid_samples():
    with RewardScorer(Objective(("qed", "sa")), n_jobs=1) as scorer:
        got = scorer.score([ASPIRIN, None])
    expected = QED.qed(mol(ASPIRIN)) * sa_reward(mol(ASPIRIN))
    assert got.tolist() == pytest.approx([expected, 0.0])


def test_user_callable_runs_in_workers():
    def heavy_atoms(m):
        return m.GetNumAtoms() / 10

    smiles = ["C", "CC", "CCC", "CCCC", "CCCCC", "CCCCCC"]
    with RewardScorer(Objective((heavy_atoms,)), n_jobs=2) as scorer:
        assert scorer.score(smiles).tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])


def test_parallel_scorer_equals_serial():
    smiles = [ASPIRIN, "CCO", "c1ccccc1", None, "OC1COC1", "CC#N", "CCO", "NC(=O)C1CC1"] * 3
    objective = Objective(("qed", "sa", "logp", "np"), "mean", (1, 2, 3, 4))
    with RewardScorer(objective, n_jobs=1) as serial, RewardScorer(objective, n_jobs=2) as pool:
        a, b = serial.score_terms(smiles), pool.score_terms(smiles)
    np.testing.assert_array_equal(a, b)
    assert pool._pool is None  # closed by the context manager


def test_scorer_window_counts_recent_generated_samples_only():
    scorer = RewardScorer(Objective(("uniqueness",)), n_jobs=1, window=2)
    assert scorer.score(["C"], generated=False).tolist() == [1.0]
    assert scorer.score(["C"]).tolist() == [1.0]
    assert scorer.score(["C"]).tolist() == [0.5]
    scorer.score(["CC", "CCC"])  # pushes both C out of the two-sample window
    assert scorer.score(["C"]).tolist() == [1.0]


def test_novelty_needs_the_training_set():
    with pytest.raises(ValueError, match="needs the training set"):
        RewardScorer(Objective(("novelty",)))
    scorer = RewardScorer(Objective(("novelty",)), train={"CCO"}, n_jobs=1)
    assert scorer.score(["CCO", "CCC"]).tolist() == [0.0, 1.0]


def test_structure_match_pays_for_the_classes_the_generator_is_short_of():
    with pytest.raises(ValueError, match="needs the training set"):
        RewardScorer(Objective(("structure_match",)))
    # The data: half aromatic 5-atom rings, half saturated 5-atom chains.
    train = {"c1ccoc1", "c1ccsc1", "CCCCO", "CCCCN"}
    scorer = RewardScorer(Objective(("structure_match",)), train=train, n_jobs=1, window=8)
    # Only chains so far: a chain is over-produced (p 1.0 against 0.5), a ring is not.
    assert scorer.score(["CCCCC", "OCCCC"]).tolist() == [0.5, 0.5]
    # Pyridine has 6 atoms, a class the data never has: 0. Chains are now 3 of 4: 0.5 / 0.75.
    assert scorer.score(["c1ccncc1", "CCCCF", None]).tolist() == pytest.approx([0.0, 2 / 3, 0.0])
    assert scorer.score(["c1cc[nH]c1"]).tolist() == [1.0]  # 1 of 6 generated, half of the data


def test_mean_rewards_is_over_valid_molecules():
    means = mean_rewards([ASPIRIN, "", "C1CC", "CC(=O)Oc1ccccc1C(O)=O"], ["qed"], n_jobs=1)
    assert means["n_samples"] == 4 and means["n_valid"] == 2
    assert (means["invalid_empty"], means["invalid_unparsable"]) == (1, 1)  # what was left out
    assert means["qed"] == pytest.approx(QED.qed(mol(ASPIRIN)))
    assert mean_rewards([""], ["qed"], n_jobs=1)["qed"] is None
    with pytest.raises(KeyError, match="novelty"):
        mean_rewards(["C"], ["novelty"])
    assert not math.isnan(mean_rewards(["C"], ["np"], n_jobs=1)["np"])
