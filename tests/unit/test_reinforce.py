import pytest
import torch

from molgan.config import Config
from molgan.graph import graphs_to_smiles
from molgan.losses import reward_loss
from molgan.reinforce import RewardLearner
from molgan.rewards import Objective, RewardScorer


def learner_for(graphs, vocab, **reward):
    settings = {"terms": ("qed",), "n_jobs": 1, "lr": 3e-3}
    settings.update(reward)
    config = Config().replace(
        model={"conv_dims": (32, 16), "agg_dim": 32, "mlp_dims": (32,)}, reward=settings
    )
    return RewardLearner(config, vocab, graphs, torch.device("cpu"))


def test_real_examples_cycle_through_a_fixed_pool(graph_batch, vocab):
    learner = learner_for(graph_batch, vocab, real_pool=8)
    assert len(learner.real_pool.atoms) == 8
    first = [learner._next_real(3).atoms.argmax(-1) for _ in range(8)]  # 24 = 3 rounds of 8
    assert torch.equal(torch.cat(first[:2])[:4], torch.cat(first[2:5])[2:6])  # offset 8 repeats 0
    assert len(learner_for(graph_batch, vocab, real_pool=0).real_pool.atoms) == 20


def test_reward_network_fits_the_rewards_of_one_batch(graph_batch, vocab):
    # The overfit test: on a fixed batch the MSE to RDKit's QED must fall far below its start.
    torch.manual_seed(0)
    learner = learner_for(graph_batch, vocab, real_pool=20)
    batch = graph_batch.one_hot(vocab)
    with RewardScorer(Objective(("qed",)), n_jobs=1) as scorer:
        target = torch.tensor(
            scorer.score(graphs_to_smiles(graph_batch, vocab)), dtype=torch.float32
        )
    with torch.no_grad():
        start = float(reward_loss(learner.network(batch), target))
    z = torch.zeros(len(batch.atoms), 1)  # only "reinforce" uses the latent codes
    for _ in range(150):
        learner.observe(batch, z)
    learner.flush()
    learner.close()
    with torch.no_grad():
        end = float(reward_loss(learner.network(batch), target))
    assert end < 0.1 * start, (start, end)
    assert learner.pop_mean_reward() == pytest.approx(float(target.mean()), abs=1e-6)
