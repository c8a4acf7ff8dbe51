import pytest

from molgan.config import Config
from molgan.data import QM9_SPLITS
from molgan.model import load_training_graphs
from molgan.training import Trainer

pytestmark = pytest.mark.integration


def test_200_steps_raise_strict_validity_well_above_untrained():
    config = Config().replace(
        data={"path": str(QM9_SPLITS["train"]), "limit": 2000},
        model={"temperature": 0.0},
        train={
            "steps": 200,
            "loss": "nonsaturating",
            "n_critic": 1,
            "structure_weight": 1.0,
            "log_every": 100,
            "eval_every": 200,
            "eval_samples": 500,
        },
    )
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    before = trainer.evaluate_sample(500)["validity"]
    after = trainer.fit()[-1]["validity"]
    assert before <= 0.01 and after >= 0.1, (before, after)  # seen: 0.0 -> 0.18
