"""Conditions: labels, the data's mix of classes, fixed classes, and a conditioned latent run."""

import sys
from pathlib import Path

import pytest
import torch
from rdkit import Chem

from molgan.checkpoint import load_checkpoint
from molgan.conditions import (
    ConditionError,
    condition_specs,
    label_molecules,
    resolve_conditions,
)
from molgan.config import Config
from molgan.graph import graphs_to_mols
from molgan.model import MolGAN, load_training_graphs
from molgan.models import ConditionPrior
from molgan.rewards import Objective, RewardScorer
from molgan.training import Trainer
from molgan.vocab import Vocabulary

sys.path.insert(0, str(Path(__file__).parent))
from test_families import latent_config  # noqa: E402

NAMES = ("heavy_atoms", "aromatic_ring", "triple_bond")


def conditioned_config(**sections):
    config = latent_config(**sections)
    return config.replace(model={"conditions": NAMES})


def test_labels_are_the_documented_classes():
    mols = [Chem.MolFromSmiles(s) for s in ("C", "C#Cc1ccoc1", "OCC=O")]
    assert label_molecules(mols, NAMES).tolist() == [[0, 0, 0], [6, 1, 1], [3, 0, 0]]


def test_the_prior_reproduces_the_joint_mix_and_fixed_classes_follow_the_data():
    labels = torch.tensor([[2, 1]] * 30 + [[2, 0]] * 10 + [[5, 0]] * 60)  # [M, 2]
    prior = ConditionPrior(["heavy_atoms", "aromatic_ring"], (9, 2))
    prior.fit(labels)
    rng = torch.Generator().manual_seed(0)
    drawn = prior.draw(20_000, rng)  # [n, 11]
    assert drawn.shape == (20_000, 11) and bool((drawn.sum(1) == 2).all())
    share = drawn[:, 9:].argmax(1).float().mean().item()  # the aromatic share, 0.30 in the data
    assert abs(share - 0.30) < 4 * (0.3 * 0.7 / 20_000) ** 0.5
    # Fixing "aromatic" leaves only its combination: 3 heavy atoms (class 2), every time.
    fixed = prior.draw(500, rng, fixed={"aromatic_ring": 1})
    assert bool((fixed[:, :9].argmax(1) == 2).all() and (fixed[:, 10] == 1).all())
    # Fixing 3 heavy atoms draws the aromatic class as the data does given it: 30 of 40.
    given = prior.draw(20_000, rng, fixed={"heavy_atoms": 2})[:, 10].mean().item()
    assert abs(given - 0.75) < 4 * (0.75 * 0.25 / 20_000) ** 0.5
    with pytest.raises(ConditionError, match="no training molecule has heavy_atoms=6, aromatic"):
        prior.draw(5, rng, fixed={"heavy_atoms": 5, "aromatic_ring": 1})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"heavy_atoms": 10}, "from 1 to 9"),
        ({"heavy_atoms": 0}, "from 1 to 9"),
        ({"aromatic_ring": "yes"}, "an integer from 0 to 1"),
        ({"charge": 1}, "this model's conditions are: heavy_atoms, aromatic_ring, triple_bond"),
    ],
)
def test_bad_condition_values_are_named(values, message):
    with pytest.raises(ConditionError, match=message):
        resolve_conditions(values, NAMES, Vocabulary.qm9())


def test_command_line_specs():
    assert condition_specs(["heavy_atoms=7"]) == {"heavy_atoms": "7"}
    with pytest.raises(ConditionError, match="NAME=VALUE"):
        condition_specs(["heavy_atoms"])
    with pytest.raises(ConditionError, match="given twice"):
        condition_specs(["triple_bond=1", "triple_bond=0"])


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"kind": "molgan", "conditions": ("heavy_atoms",)}, 'only kind = "latent"'),
        ({"kind": "latent", "conditions": ("charge",)}, "unknown \\['charge'\\]"),
        ({"kind": "latent", "conditions": ("triple_bond", "triple_bond")}, "repeated"),
    ],
)
def test_config_refuses_conditions_it_cannot_build(model, message):
    with pytest.raises(ValueError, match=message):
        Config().replace(model=model)


def test_a_conditioned_latent_run_learns_the_data_mix_saves_it_and_samples_fixed_classes(
    tmp_path,
):
    config = conditioned_config()
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False, out_dir=tmp_path / "run")
    labels = label_molecules(graphs_to_mols(graphs, vocab), NAMES)
    generator = trainer.generator
    assert generator.condition_dim == 9 + 2 + 2
    assert trainer.module.critic.body[0].in_features == 16 + 13  # codes, then the conditions
    counts = torch.zeros(9, 2, 2)
    for row in labels.tolist():  # numpy [M, 3]
        counts[tuple(row)] += 1
    assert torch.allclose(generator.prior.weights, (counts / counts.sum()).flatten())
    history = trainer.fit()
    assert 0.0 <= history[-1]["validity"] <= 1.0

    loaded = MolGAN.load(tmp_path / "run")
    assert loaded.conditions == NAMES
    assert torch.equal(loaded.generator.prior.weights, generator.prior.weights)
    rng = torch.Generator().manual_seed(0)
    noise = loaded.generator.sample_z(64, rng, condition={"heavy_atoms": 2})  # 3 heavy atoms
    assert bool((loaded.generator.conditions_of(noise)[:, :9].argmax(1) == 2).all())
    assert len(loaded.sample(12, seed=1, keep_invalid=True, condition={"triple_bond": 1})) == 12
    with pytest.raises(ConditionError, match="no training molecule has heavy_atoms=9"):
        loaded.sample(4, condition={"heavy_atoms": 9})  # tiny.smi stops at 8 heavy atoms
    with pytest.raises(ConditionError, match="trained without conditions"):
        MolGAN.load("qm9").generator.sample_z(2, condition={"heavy_atoms": 0})
    with pytest.raises(ConditionError, match="this model's conditions are: none"):
        MolGAN.load("qm9").sample(2, condition={"heavy_atoms": 9})


def test_init_from_an_unconditioned_gan_takes_its_autoencoder_only(tmp_path):
    plain = latent_config()
    vocab, graphs = load_training_graphs(plain, progress=False)
    Trainer(plain, vocab, graphs, device="cpu", progress=False, out_dir=tmp_path / "plain").fit()
    source = load_checkpoint(tmp_path / "plain")
    tuned = conditioned_config(
        autoencoder={"steps": 0}, train={"init_from": str(tmp_path / "plain")}
    )
    with pytest.warns(UserWarning, match="only its autoencoder is taken"):
        trainer = Trainer(tuned, vocab, graphs, device="cpu", progress=False)
    for name, tensor in trainer.generator.decoder.state_dict().items():
        assert torch.equal(tensor, source.weights["generator"][f"decoder.{name}"])
    trainer.fit(steps=2)


def test_condition_match_pays_samples_with_the_classes_they_were_asked_for():
    scorer = RewardScorer(Objective(("validity", "condition_match")), n_jobs=1)
    asked = [{"heavy_atoms": 5, "aromatic_ring": 1}, {"aromatic_ring": 1}, {"triple_bond": 1}]
    assert scorer.score(["c1ccoc1", "C1CCOC1", None], asked=asked).tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="needs a conditioned generator"):
        scorer.score(["CCO"])


def test_a_conditioned_run_trains_with_the_condition_match_reward():
    reward = {"terms": ("validity", "condition_match"), "estimator": "reinforce", "n_jobs": 1}
    reward.update(warmup=0.0)
    config = conditioned_config(reward=reward)
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    history = trainer.fit(steps=20)
    assert 0.0 <= history[-1]["reward"] <= 1.0
    with pytest.raises(ValueError, match="needs \\[model\\] conditions and estimator"):
        Trainer(latent_config(reward=reward), vocab, graphs, device="cpu", progress=False)
