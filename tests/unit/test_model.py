import pytest
from rdkit import Chem

from molgan.config import Config
from molgan.model import MolGAN
from molgan.training import Trainer


def test_save_load_gives_identical_samples(tmp_path, graph_batch, vocab):
    config = Config().replace(
        model={
            "hidden": (32,),
            "conv_dims": (16,),
            "agg_dim": 16,
            "mlp_dims": (16,),
            "temperature": 1.0,
        },
        train={"steps": 5, "batch_size": 8, "log_every": 5, "eval_every": 5, "eval_samples": 8},
    )
    trainer = Trainer(config, vocab, graph_batch, device="cpu", progress=False)
    trainer.fit()
    model = MolGAN(trainer.generator.eval(), vocab, config)
    before = model.sample(200, seed=11, keep_invalid=True)
    model.save(tmp_path / "ckpt")
    loaded = MolGAN.load(tmp_path / "ckpt")
    assert loaded.config == config and loaded.vocab == vocab
    assert loaded.sample(200, seed=11, keep_invalid=True) == before
    assert len(loaded.sample(200, seed=11)) == sum(1 for s in before if s)


def test_an_interrupted_sample_file_leaves_nothing_behind(tmp_path, monkeypatch):
    model = MolGAN.load("qm9-molgan")

    def interrupted(self, n, seed, batch_size=4096):
        yield Chem.MolFromSmiles("CCO"), "CCO"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(MolGAN, "_decoded", interrupted)
    with pytest.raises(OSError, match="No space left"):
        model.write_samples(10, tmp_path / "s.smi", sdf=tmp_path / "s.sdf")
    assert list(tmp_path.iterdir()) == []  # no partial file, no temporary, no sample record
