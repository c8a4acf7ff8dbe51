import json

import pytest

from molgan.demo import run_demo
from molgan.model import MolGAN

pytestmark = pytest.mark.integration


def test_shipped_model_loads_and_samples_reproducibly():
    model = MolGAN.load()
    first = model.sample(300, seed=7, keep_invalid=True)
    assert len(first) == 300
    assert first == model.sample(300, seed=7, keep_invalid=True)
    assert first != model.sample(300, seed=8, keep_invalid=True)
    batch = model.sample_pyg(16, seed=0)
    assert batch.num_graphs == 16 and batch.x.shape[1] == model.vocab.n_atom_classes - 1


def test_demo_writes_samples_metrics_and_picture(tmp_path):
    metrics = run_demo(tmp_path, n=300)
    assert metrics["n_samples"] == 300
    assert len((tmp_path / "samples.smi").read_text().split("\n")) == 301
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert (tmp_path / "molecules.png").read_bytes()[:4] == b"\x89PNG"
    # The shipped model is far better than an untrained one (strict validity near 0).
    assert metrics["validity"] > 0.9
