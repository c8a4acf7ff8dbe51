"""The feedback memory: the codes of the best distinct molecules, standing in for training codes."""

import torch

from molgan.feedback import FeedbackMemory
from molgan.rewards import Objective

# RDKit's QED ranks them propanol (0.464), benzene (0.443), ethanol (0.407), methane (0.360).
SMILES = ["CCO", "c1ccccc1", "C", "CCCO"]


def test_it_keeps_the_best_distinct_molecules_with_their_first_codes():
    memory = FeedbackMemory(Objective(("qed",)), size=3, n_jobs=1)
    memory.add(torch.arange(4.0).unsqueeze(1), SMILES)
    assert len(memory) == 3 and "C" not in memory.smiles  # the lowest QED drops out
    assert memory.smiles == ["CCCO", "c1ccccc1", "CCO"]  # best first
    assert memory.codes.squeeze(1).tolist() == [3.0, 1.0, 0.0]
    memory.add(torch.tensor([[9.0], [8.0]]), ["CCCO", None])  # a known molecule, an invalid one
    assert memory.codes.squeeze(1).tolist() == [3.0, 1.0, 0.0]


def test_kept_codes_replace_training_codes_up_to_their_count():
    memory = FeedbackMemory(Objective(("qed",)), size=8, n_jobs=1)
    data = torch.full((3, 2), -1.0)
    assert torch.equal(memory.real_codes(data), data)
    memory.add(torch.tensor([[1.0, 1.0], [2.0, 2.0]]), SMILES[:2])
    real = memory.real_codes(data)
    assert real.shape == (3, 2) and torch.equal(real[2], data[2])
    assert {tuple(row) for row in real[:2].tolist()} == {(1.0, 1.0), (2.0, 2.0)}
    memory.add(torch.tensor([[3.0, 3.0], [4.0, 4.0]]), SMILES[2:])
    assert torch.equal(memory.real_codes(data), memory.codes[:3])  # the best three, no data


def test_state_round_trips():
    memory = FeedbackMemory(Objective(("qed",)), size=3, n_jobs=1)
    memory.add(torch.arange(8.0).view(4, 2), SMILES)
    weights, smiles = memory.state()
    restored = FeedbackMemory(Objective(("qed",)), size=3, n_jobs=1)
    restored.load_state(weights, smiles)
    assert restored.smiles == memory.smiles
    assert torch.equal(restored.codes, memory.codes)
    assert torch.equal(restored.rewards, memory.rewards)
