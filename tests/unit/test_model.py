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
