import json
import math
import operator

import pytest
import torch

from molgan.checkpoint import CheckpointError, export_checkpoint, load_checkpoint
from molgan.config import Config
from molgan.graph import MolGraph
from molgan.model import MolGAN
from molgan.training import NonFiniteLossError, Trainer, max_net_charge, max_valence

RL = {"terms": ("qed", "uniqueness"), "warmup": 0.25, "n_jobs": 1}


def small_config(reward=None, **train):
    settings = {
        "steps": 12,
        "batch_size": 8,
        "log_every": 4,
        "eval_every": 12,
        "eval_samples": 16,
        "checkpoint_every": 6,
    }
    settings.update(train)
    return Config().replace(
        model={"hidden": (32, 32), "conv_dims": (16, 8), "agg_dim": 16, "mlp_dims": (16,)},
        train=settings,
        reward=reward or {},
    )


def test_max_valence_is_read_from_the_data(graph_batch, vocab):
    caps = max_valence(graph_batch, vocab).tolist()
    # padding, C, C-, N, N-, N+, O, O-, F in tests/data/tiny.smi
    assert caps == [0.0, 4.0, 3.0, 3.0, 0.0, 1.0, 2.0, 1.0, 1.0]
    assert max_net_charge(graph_batch, vocab) == 1.0  # C[C-](C#N)C#N has net charge -1


def test_max_valence_is_computed_where_the_graphs_are(vocab):
    # The trainer reads the caps off graphs already on the GPU; the meta device stands in for it
    # (a CPU lookup table indexed by them put the result on the CPU, or failed on CUDA).
    graphs = MolGraph(
        torch.zeros(2, 9, dtype=torch.int8, device="meta"),
        torch.zeros(2, 9, 9, dtype=torch.int8, device="meta"),
    )
    assert max_valence(graphs, vocab).device.type == "meta"


@pytest.mark.parametrize("loss", ["wgan-gp", "minimax", "nonsaturating"])
def test_each_loss_trains_and_logs(graph_batch, vocab, loss):
    trainer = Trainer(
        small_config(loss=loss, entropy_weight=0.1, structure_weight=1.0),
        vocab,
        graph_batch,
        device="cpu",
        progress=False,
    )
    history = trainer.fit()
    assert [row["step"] for row in history] == [4, 8, 12]
    assert all(math.isfinite(row["loss_d"]) for row in history)
    assert 0.0 <= history[-1]["validity"] <= 1.0


def test_rl_trains_the_reward_network_and_logs_the_reward(graph_batch, vocab):
    trainer = Trainer(small_config(reward=RL), vocab, graph_batch, device="cpu", progress=False)
    before = {k: v.clone() for k, v in trainer.rewards.network.state_dict().items()}
    history = trainer.fit()
    after = trainer.rewards.network.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert all(0.0 <= row["reward"] <= 1.0 for row in history)
    assert trainer.rewards.scorer._pool is None  # fit() closes the workers


def test_rl_checkpoint_holds_the_reward_network(tmp_path, graph_batch, vocab):
    trainer = Trainer(small_config(reward=RL), vocab, graph_batch, device="cpu", progress=False)
    trainer.fit(steps=3)
    trainer.save(tmp_path / "ckpt")
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert set(loaded.weights) == {"generator", "discriminator", "reward", "reward_queue"}
    assert loaded.config.reward.terms == ("qed", "uniqueness")
    assert len(loaded.extra["rewards"]["recent_samples"]) <= 3 * 8


def test_reinforce_fits_no_network_and_checkpoints_its_policy_batch(tmp_path, graph_batch, vocab):
    config = small_config(reward={**RL, "estimator": "reinforce"})
    trainer = Trainer(config, vocab, graph_batch, device="cpu", progress=False)
    assert trainer.rewards.network is None
    history = trainer.fit(steps=5)
    assert all(0.0 <= row["reward"] <= 1.0 for row in history)
    trainer.save(tmp_path / "ckpt")
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert set(loaded.weights) == {"generator", "discriminator", "reward_queue", "reward_policy"}
    assert loaded.weights["reward_policy"]["z"].shape == (8, config.model.z_dim)


def test_init_from_starts_with_a_checkpoints_weights(tmp_path, graph_batch, vocab):
    pretrained = Trainer(small_config(), vocab, graph_batch, device="cpu", progress=False)
    pretrained.fit()
    pretrained.save(tmp_path / "base")
    tuned = Trainer(
        small_config(init_from=str(tmp_path / "base"), seed=7), vocab, graph_batch, progress=False
    )
    for name in ("generator", "discriminator"):
        a, b = getattr(pretrained, name).state_dict(), getattr(tuned, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert tuned.step == 0 and not tuned.module.opt_g.state_dict()["state"]
    wider = small_config(init_from=str(tmp_path / "base")).replace(model={"z_dim": 8})
    with pytest.raises(ValueError, match="layers differ"):
        Trainer(wider, vocab, graph_batch, progress=False)
    MolGAN(pretrained.generator, vocab, pretrained.config).save(tmp_path / "inference")
    with pytest.raises(ValueError, match="inference-only checkpoint"):
        Trainer(small_config(init_from=str(tmp_path / "inference")), vocab, graph_batch)


def test_keep_best_saves_the_best_evaluation(tmp_path, graph_batch, vocab):
    config = small_config(reward=RL, keep_best="eval_reward", eval_every=4)
    trainer = Trainer(config, vocab, graph_batch, device="cpu", out_dir=tmp_path, progress=False)
    history = trainer.fit()
    evaluated = [row for row in history if "eval_reward" in row]
    best = max(evaluated, key=lambda row: row["eval_reward"])
    assert len(evaluated) == 3 and trainer.best == {
        "value": best["eval_reward"],
        "step": best["step"],
    }
    saved = load_checkpoint(tmp_path / "best")
    assert saved.step == best["step"]
    assert json.dumps(saved.extra["history"][-1]) == json.dumps(best)  # NaN-safe
    with pytest.raises(ValueError, match="keep_best must be"):
        Trainer(small_config(keep_best="fcd"), vocab, graph_batch)
    with pytest.raises(ValueError, match="needs \\[reward\\] terms"):
        Trainer(small_config(keep_best="eval_reward"), vocab, graph_batch)


def test_ema_generator_averages_the_weights(tmp_path, graph_batch, vocab):
    trainer = Trainer(small_config(ema=0.9, n_critic=1), vocab, graph_batch, progress=False)
    before = [p.detach().clone() for p in trainer.sampler.parameters()]
    trainer.train_step()
    for old, avg, new in zip(before, trainer.sampler.parameters(), trainer.generator.parameters()):
        torch.testing.assert_close(avg, 0.9 * old + 0.1 * new)
    assert not any(p.requires_grad for p in trainer.sampler.parameters())
    trainer.save(tmp_path / "ckpt")
    loaded = MolGAN.load(tmp_path / "ckpt")
    assert all(
        torch.equal(a, b)
        for a, b in zip(loaded.generator.parameters(), trainer.sampler.parameters())
    )


def test_clip_grad_bounds_the_generator_gradient(graph_batch, vocab):
    trainer = Trainer(small_config(clip_grad=0.01, n_critic=1), vocab, graph_batch, progress=False)
    norms = []
    step = trainer.module.opt_g.step

    def record_then_step():
        grads = [p.grad for p in trainer.generator.parameters() if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))
        step()

    trainer.module.opt_g.step = record_then_step
    trainer.fit(steps=3)
    assert len(norms) == 3 and max(norms) <= 0.01 + 1e-6


def test_same_seed_same_weights(graph_batch, vocab):
    runs = []
    for _ in range(2):
        trainer = Trainer(small_config(), vocab, graph_batch, device="cpu", progress=False)
        trainer.fit()
        runs.append(trainer.generator.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


@pytest.mark.parametrize(
    "config",
    [
        small_config(),
        small_config(reward=RL, diversity_weight=0.1, ema=0.9),
        small_config(reward={**RL, "estimator": "reinforce"}),
    ],
    ids=["gan", "gan+rl+ema", "gan+reinforce"],
)
def test_resume_continues_exactly(tmp_path, graph_batch, vocab, config):
    straight = Trainer(config, vocab, graph_batch, device="cpu", progress=False)
    straight.fit()
    interrupted = Trainer(
        config, vocab, graph_batch, device="cpu", out_dir=tmp_path, progress=False
    )
    step = interrupted.train_step

    def crash_at_step_8():
        if interrupted.step == 7:
            raise KeyboardInterrupt  # killed after the step-6 checkpoint
        step()

    interrupted.train_step = crash_at_step_8
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit()
    resumed = Trainer.from_checkpoint(
        tmp_path, graph_batch, device="cpu", out_dir=tmp_path, progress=False
    )
    assert resumed.step == 6
    resumed.fit()
    modules = ["generator", "discriminator"]
    if straight.rewards and straight.rewards.network is not None:
        modules += ["rewards.network", "sampler"]
    for name in modules:
        a = operator.attrgetter(name)(straight).state_dict()
        b = operator.attrgetter(name)(resumed).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert straight.module.opt_g.state_dict()["state"][0]["exp_avg"].equal(
        resumed.module.opt_g.state_dict()["state"][0]["exp_avg"]
    )
    assert [r["step"] for r in resumed.history] == [4, 8, 12]

    def timeless(history):  # wall times differ between runs; everything else must not
        return json.dumps([{k: v for k, v in row.items() if k != "seconds"} for row in history])

    assert timeless(resumed.history) == timeless(straight.history)  # NaN-safe equality
    assert 0 <= resumed.history[0]["seconds"] <= resumed.history[-1]["seconds"]
    assert resumed.history[-1]["seconds"] > 0
    assert (tmp_path / "training.png").stat().st_size > 0
    assert (tmp_path / "log.csv").read_text().count("\n") == 4  # header + 3 rows


def test_non_finite_loss_stops_with_the_step(graph_batch, vocab):
    trainer = Trainer(small_config(), vocab, graph_batch, device="cpu", progress=False)
    trainer.fit(steps=5)
    with torch.no_grad():
        trainer.generator.atom_head.bias.fill_(math.nan)  # poison: the next fake batch is NaN
    with pytest.raises(NonFiniteLossError, match="at step 6;"):
        trainer.fit(steps=12)


def test_checkpoint_files_are_safetensors_and_json(tmp_path, graph_batch, vocab):
    trainer = Trainer(small_config(), vocab, graph_batch, device="cpu", progress=False)
    trainer.save(tmp_path / "ckpt")
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert names == [
        "config.json",
        "model.safetensors",
        "optimizer.safetensors",
        "state.json",
        "vocab.json",
    ]
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert loaded.config == trainer.config and loaded.vocab == vocab


def test_export_keeps_generator_and_discriminator_only(tmp_path, graph_batch, vocab):
    trainer = Trainer(small_config(reward=RL), vocab, graph_batch, device="cpu", progress=False)
    trainer.fit(steps=4)
    trainer.save(tmp_path / "run")
    export_checkpoint(tmp_path / "run", tmp_path / "shipped")
    shipped = load_checkpoint(tmp_path / "shipped")
    assert set(shipped.weights) == {"generator", "discriminator"}
    assert not shipped.optimizers and not shipped.rng and shipped.step == 4
    assert not (tmp_path / "shipped" / "optimizer.safetensors").exists()
    MolGAN.save(MolGAN(trainer.generator, vocab, trainer.config), tmp_path / "inference")
    with pytest.raises(CheckpointError, match="no discriminator weights"):
        export_checkpoint(tmp_path / "inference", tmp_path / "again")


def test_broken_checkpoints_give_clear_errors(tmp_path, graph_batch, vocab):
    trainer = Trainer(small_config(), vocab, graph_batch, device="cpu", progress=False)
    trainer.save(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="unreadable checkpoint"):
        load_checkpoint(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "vocab.json").unlink()
    with pytest.raises(CheckpointError, match="missing vocab.json"):
        load_checkpoint(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nothing")
