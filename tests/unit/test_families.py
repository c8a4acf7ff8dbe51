"""The model families behind one loop: MolGAN's unchanged, the latent family's stages and state."""

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch

from molgan.checkpoint import export_checkpoint, load_checkpoint
from molgan.config import Config, load_config
from molgan.graph import MolGraph, graphs_to_smiles
from molgan.model import MolGAN, load_training_graphs
from molgan.models import (
    GENERATORS,
    Discriminator,
    GraphCritic,
    GraphGenerator,
    LatentGenerator,
    build_generator,
)
from molgan.sampling import ValenceMask, generate_graphs, logits_to_graph
from molgan.training import FAMILIES, LatentFamily, MolGANFamily, Trainer
from molgan.training.acceleration import autocast, compiled

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "tests" / "data" / "tiny.smi")

# The norm of every weight tensor of the generator, discriminator and reward network after 12
# steps of configs/qm9-molgan.toml (then named configs/qm9.toml) on tests/data/tiny.smi, written
# by the single-family Trainer that preceded the family split (commit 05f199b), torch 2.13.0 on
# CPU. On the machine that wrote them, that trainer's weights and today's are bit-identical (sha256
# a5526a5d...; an earlier machine gave ffb25426... for both: the digest depends on the CPU's
# kernels, so the test compares norms, not bytes).
MOLGAN_NORMS = ROOT / "tests" / "data" / "molgan_family_norms.json"
# Float rounding moves a norm by at most 3.4e-7 (relative; measured by scaling the initial weights
# by 1 + 1e-7 N(0, 1)); a 0.1 % change of the learning rate moves one by 1e-3.
NORM_TOLERANCE = 1e-5


def _digest(*modules: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for module in modules:
        for name, tensor in sorted(module.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def latent_config(**sections):
    config = Config().replace(
        data={"path": TINY, "atom_order": "smiles"},
        model={
            "kind": "latent",
            "z_dim": 8,
            "hidden": (16,),
            "latent_dim": 16,
            "ae_dim": 32,
            "ae_layers": 2,
            "ae_heads": 2,
            "critic_hidden": (16,),
            "conv_dims": (16,),
            "agg_dim": 16,
            "mlp_dims": (16,),
        },
        autoencoder={"steps": 10, "batch_size": 20, "lr": 3e-3, "latent_noise": 0.0},
        train={
            "steps": 10,
            "batch_size": 8,
            "n_critic": 2,
            "log_every": 5,
            "eval_every": 10,
            "eval_samples": 16,
            "checkpoint_every": 10,
        },
    )
    return config.replace(**sections)


def test_weight_average_starts_from_the_trained_autoencoder():
    # The decoder is fixed in the GAN stage, so the weight average must hold it exactly; averaged
    # from the initial weights, it kept 36 % of a random decoder after 1,000 G updates on a GPU.
    torch.manual_seed(0)
    config = latent_config(autoencoder={"steps": 4, "batch_size": 20, "latent_noise": 0.0})
    config = config.replace(train={"steps": 4, "ema": 0.999})
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    for _ in range(6):
        trainer.train_step()
    trained = trainer.generator.decoder.state_dict()
    averaged = trainer.sampler.decoder.state_dict()
    for name, tensor in trained.items():
        assert torch.equal(averaged[name], tensor), name


def test_set_up_steps_stay_out_of_the_progress_bars_rate(monkeypatch):
    # The first GAN step encodes every training code (290 s for 500,000 MOSES molecules on two
    # threads): counted as one step, it made the bar print 292 s/step and an ETA of 64,856 hours.
    # The loop restarts the bar's clock after the run's first step and after the stage switch.
    restarted = []
    monkeypatch.setattr(
        "molgan.training.loop.ProgressBar.unpause", lambda bar: restarted.append(trainer.step)
    )
    config = latent_config(autoencoder={"steps": 4, "batch_size": 20, "latent_noise": 0.0})
    config = config.replace(train={"steps": 4, "eval_samples": 4, "log_every": 4})
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    trainer.fit()
    assert restarted == [1, 5]  # after step 0 (the run's first) and step 4 (the GAN's first)
    trainer.fit(steps=10)  # as a resume does: the run's first step sets up again
    assert restarted == [1, 5, 9]


def test_registries_know_both_families():
    assert set(FAMILIES) == set(GENERATORS) == {"molgan", "latent"}
    assert FAMILIES["molgan"] is MolGANFamily and FAMILIES["latent"] is LatentFamily
    with pytest.raises(ValueError, match="kind must be one of"):
        Config().replace(model={"kind": "vae"})


def test_molgan_family_weights_match_the_single_family_trainer():
    torch.set_num_threads(1)
    config = load_config(ROOT / "configs" / "qm9-molgan.toml").replace(
        data={"path": TINY}, train={"steps": 12, "eval_samples": 200, "log_every": 4}
    )
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    trainer.fit()
    reference = json.loads(MOLGAN_NORMS.read_text())
    modules = {
        "generator": trainer.generator,
        "discriminator": trainer.discriminator,
        "reward_network": trainer.rewards.network,
    }
    norms = {
        f"{prefix}.{name}": float(tensor.double().norm())
        for prefix, module in modules.items()
        for name, tensor in module.state_dict().items()
    }
    assert norms.keys() == reference.keys()
    for name, norm in norms.items():
        assert norm == pytest.approx(reference[name], rel=NORM_TOLERANCE), name


def test_autoencoder_overfits_a_small_set_to_exact_reconstruction():
    # 1,000 steps end at a loss near 5e-4, far from the edge: 600 ended at 0.017 with 2 of 20
    # graphs one bond short on one machine and exact on another (float sums in another order).
    # One thread all the same; the conftest fixture restores the count.
    torch.set_num_threads(1)
    config = latent_config(
        autoencoder={"steps": 1000, "lr": 5e-3, "batch_size": 40},
        train={"steps": 1, "eval_every": 1000},
    )
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    trainer.fit(steps=1000)
    assert trainer.history[-1]["reconstruction"] == 1.0
    assert trainer.history[-1]["loss_ae"] < 0.05


def test_a_latent_run_with_aromatic_bonds_trains_both_stages_and_samples():
    config = latent_config(data={"vocabulary": "data", "aromatic": True})
    vocab, graphs = load_training_graphs(config, progress=False)
    assert vocab.aromatic and vocab.atom_id("N", 0, 1) is not None  # pyrrole-type [nH]
    assert bool((graphs.bonds == vocab.bond_types.index("AROMATIC") + 1).any())
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    history = trainer.fit(steps=20)
    assert 0.0 <= history[-1]["validity"] <= 1.0
    model = MolGAN(trainer.generator, vocab, config)
    assert len(model.sample(8, seed=0, keep_invalid=True)) == 8


def test_the_kl_term_packs_a_variational_autoencoders_codes_around_the_origin():
    torch.set_num_threads(1)
    spread = {}
    for kl_weight in (1.0, 1e-4):
        config = latent_config(
            model={"variational": True}, autoencoder={"kl_weight": kl_weight, "steps": 60}
        )
        trainer = _train(config, steps=60)
        encoder, graphs = trainer.module.encoder, trainer.module.graphs
        mean, log_var = encoder.posterior(
            MolGraph(graphs.atoms, graphs.bonds).one_hot(encoder.vocab)
        )
        spread[kl_weight] = (mean.square().sum(-1).mean().item(), log_var.exp().mean().item())
    # A strong pull gives codes near 0 with unit variance; a weak one spreads them, narrower.
    assert spread[1.0][0] < 0.1 * spread[1e-4][0]
    assert spread[1.0][1] > 0.9 > spread[1e-4][1]


def test_a_variational_latent_run_saves_loads_and_samples_the_same(tmp_path):
    config = latent_config(model={"variational": True}, autoencoder={"kl_weight": 0.01})
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False, out_dir=tmp_path / "run")
    trainer.fit()
    before = MolGAN(trainer.sampler.eval(), vocab, config).sample(50, seed=2, keep_invalid=True)
    loaded = MolGAN.load(tmp_path / "run")
    assert loaded.config.model.variational and loaded.generator.variational
    assert loaded.sample(50, seed=2, keep_invalid=True) == before


def test_latent_family_refuses_the_input_atom_order(graph_batch, vocab):
    config = latent_config(data={"atom_order": "input"})
    with pytest.raises(ValueError, match="needs a canonical order"):
        Trainer(config, vocab, graph_batch, device="cpu", progress=False)


def test_gan_stage_trains_g_and_critics_and_leaves_the_autoencoder_alone():
    config = latent_config(train={"graph_weight": 1.0, "structure_weight": 0.5})
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    trainer.fit(steps=10)  # the autoencoder stage
    family = trainer.module
    before = {
        "encoder": _digest(family.encoder),
        "decoder": _digest(family.decoder),
        "g": _digest(family.generator.noise_map),
        "critic": _digest(family.critic),
        "graph critic": _digest(family.discriminator),
    }
    history = trainer.fit()
    after = {
        "encoder": _digest(family.encoder),
        "decoder": _digest(family.decoder),
        "g": _digest(family.generator.noise_map),
        "critic": _digest(family.critic),
        "graph critic": _digest(family.discriminator),
    }
    assert {k for k in before if before[k] != after[k]} == {"g", "critic", "graph critic"}
    last = history[-1]
    assert {"loss_d", "loss_g", "loss_graph_d", "validity", "reconstruction"} <= set(last)


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_the_reconstruction_term_is_what_moves_a_trained_decoder_without_graph_terms(weight):
    config = latent_config(train={"train_decoder": True, "reconstruction_weight": weight})
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    trainer.fit(steps=10)  # the autoencoder stage
    before = _digest(trainer.module.decoder)
    history = trainer.fit()
    assert (_digest(trainer.module.decoder) != before) == bool(weight)
    assert history[-1]["reconstruction"] >= 0.0


def _over_valence(trainer: Trainer, vocab) -> float:
    """Share of G's decoded atoms (256 draws, seed 0) whose bond orders exceed their valence."""
    graphs, _ = next(generate_graphs(trainer.generator, 256, torch.Generator().manual_seed(0)))
    return ValenceMask(vocab).over_valence(graphs).float().mean().item()


def test_the_valence_target_teaches_the_decoder_the_masks_repairs():
    train = {"train_decoder": True, "valence_target_weight": 5.0, "lr_generator": 3e-3, "steps": 40}
    config = latent_config(train=train)
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    trainer.fit(steps=10)  # the autoencoder stage
    with torch.no_grad():  # a decoder that puts triple bonds everywhere
        trainer.module.decoder.bond_head[-1].bias[3] += 10.0
    before = _over_valence(trainer, vocab)
    trainer.fit()
    after = _over_valence(trainer, vocab)
    assert before > 0.05 and after < before / 2, (before, after)


def test_the_graph_terms_judge_what_the_transport_makes_and_train_g_there():
    config = latent_config(
        model={"transport_steps": 5, "transport_lipschitz": 0.01},
        reward={"terms": ("validity",), "estimator": "reinforce", "n_jobs": 1},
    )
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    trainer.fit(steps=10)  # the autoencoder stage
    family, g = trainer.module, trainer.module.generator
    noise = g.sample_z(4, torch.Generator().manual_seed(0))
    codes = g.codes(noise)
    judged = family._graph_codes(codes, noise)
    moved = g.codes(family.transport(g, noise))
    assert torch.allclose(judged, moved) and not torch.allclose(moved, codes)
    weight = g.noise_map[-1].weight
    (grad,) = torch.autograd.grad(judged.sum(), weight)
    assert grad.abs().sum() > 0  # G learns at the moved noise
    assert trainer.fit()[-1]["validity"] >= 0.0  # the RL stage runs on the moved graphs


def test_the_valence_target_refuses_aromatic_bonds():
    config = latent_config(
        data={"vocabulary": "data", "aromatic": True}, train={"valence_target_weight": 1.0}
    )
    vocab, graphs = load_training_graphs(config, progress=False)
    with pytest.raises(ValueError, match="needs Kekulé bonds"):
        Trainer(config, vocab, graphs, device="cpu", progress=False)


@pytest.mark.parametrize("estimator", ["reinforce", "code", "feedback"])
def test_latent_resume_is_exact(tmp_path, estimator):
    reward = {"terms": ("validity",), "estimator": estimator, "n_jobs": 1, "feedback_every": 3}
    # Feedback keeps only valid draws: an autoencoder trained longer makes some.
    ae_steps = 100 if estimator == "feedback" else 10
    config = latent_config(reward=reward, autoencoder={"steps": ae_steps})
    vocab, graphs = load_training_graphs(config, progress=False)
    straight = Trainer(config, vocab, graphs, device="cpu", progress=False)
    straight.fit()
    first = Trainer(config, vocab, graphs, device="cpu", progress=False, out_dir=tmp_path)
    first.fit(steps=ae_steps + 4)  # mid-way through the GAN stage
    first.save(tmp_path / "checkpoint")
    resumed = Trainer.from_checkpoint(tmp_path / "checkpoint", graphs, device="cpu", progress=False)
    resumed.fit()
    assert _digest(resumed.generator) == _digest(straight.generator)
    assert _digest(resumed.module.critic) == _digest(straight.module.critic)
    if estimator == "feedback":
        assert len(first.module.feedback) > 0  # the checkpoint held a memory
        assert resumed.module.feedback.smiles == straight.module.feedback.smiles


@pytest.mark.parametrize("draws", [1, 4])
def test_code_policy_moves_g_alone_and_checkpoints_its_draws(tmp_path, draws):
    reward = {
        "terms": ("validity",),
        "estimator": "code",
        "n_jobs": 1,
        "warmup": 0.0,
        "code_draws": draws,
        "gan_weight": 0.0,  # once a batch is scored, the RL term alone moves G
    }
    config = latent_config(reward=reward, train={"n_critic": 1})
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    trainer.fit(steps=12)  # the autoencoder's 10 steps, then two GAN steps (a batch is scored)
    decoder = {k: v.clone() for k, v in trainer.generator.decoder.state_dict().items()}
    noise_map = {k: v.clone() for k, v in trainer.generator.noise_map.state_dict().items()}
    history = trainer.fit(steps=16)
    assert 0.0 <= history[-1]["reward"] <= 1.0  # the logged mean of the scored draws
    after = trainer.generator.state_dict()
    assert all(torch.equal(after[f"decoder.{k}"], v) for k, v in decoder.items())
    assert any(not torch.equal(after[f"noise_map.{k}"], v) for k, v in noise_map.items())
    trainer.save(tmp_path / "ckpt")
    policy = load_checkpoint(tmp_path / "ckpt").weights["reward_policy"]
    assert policy["action"].shape == (8, config.model.latent_dim)
    assert policy["z"].shape == (8, config.model.z_dim)
    # Each G code is drawn ``draws`` times in a row: its noise repeats, its draws differ.
    assert torch.equal(policy["z"][::draws].repeat_interleave(draws, 0), policy["z"])
    assert len(set(map(tuple, policy["action"].tolist()))) == 8


def test_feedback_codes_decode_to_their_molecules_and_become_real_codes(tmp_path):
    reward = {
        "terms": ("qed",),
        "estimator": "feedback",
        "n_jobs": 1,
        "feedback_every": 4,
        "feedback_samples": 64,
        "feedback_size": 6,
    }
    config = latent_config(
        reward=reward,
        autoencoder={"steps": 100},  # enough for some draws to decode
        train={"keep_best": "eval_reward"},  # evaluations score with the memory's scorer
    )
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False, out_dir=tmp_path)
    assert trainer.rewards is None  # no gradient estimator
    assert 0.0 <= trainer.fit()[-1]["eval_reward"] <= 1.0
    memory = trainer.module.feedback
    assert 0 < len(memory) <= 6
    # The kept codes are exactly codes from which the decoder makes the kept molecules.
    with torch.no_grad():
        ids = logits_to_graph(trainer.generator.decode(memory.codes))
    assert graphs_to_smiles(ids, vocab) == memory.smiles
    assert torch.equal(trainer.module._codes[: len(memory)], memory.codes)
    assert torch.equal(
        trainer.module._codes[len(memory) :], trainer.module._data_codes[len(memory) :]
    )
    trainer.save(tmp_path / "ckpt")
    saved = load_checkpoint(tmp_path / "ckpt")
    assert saved.extra["feedback_smiles"] == memory.smiles
    assert torch.equal(saved.weights["feedback"]["codes"], memory.codes)


def test_latent_save_load_export_and_fine_tune(tmp_path):
    config = latent_config()
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False, out_dir=tmp_path / "run")
    trainer.fit()
    checkpoint = load_checkpoint(tmp_path / "run")
    assert checkpoint.config.model.kind == "latent" and checkpoint.extra["family"] == "latent"
    model = MolGAN(trainer.sampler.eval(), vocab, config)
    before = model.sample(100, seed=3, keep_invalid=True)
    loaded = MolGAN.load(tmp_path / "run")
    assert isinstance(loaded.generator, LatentGenerator)
    assert loaded.sample(100, seed=3, keep_invalid=True) == before

    export_checkpoint(tmp_path / "run", tmp_path / "shipped")
    shipped = load_checkpoint(tmp_path / "shipped")
    assert set(shipped.weights) == {"generator", "encoder", "latent_critic"}
    assert MolGAN.load(tmp_path / "shipped").sample(100, seed=3, keep_invalid=True) == before

    # The truncation trick at its limit: zero noise, one graph drawn again and again.
    export_checkpoint(tmp_path / "run", tmp_path / "zero", sampling={"noise_scale": 0.0})
    assert load_checkpoint(tmp_path / "zero").config.model.noise_scale == 0.0
    graphs = next(MolGAN.load(tmp_path / "zero").sample_graphs(50, seed=1))
    assert (graphs.atoms == graphs.atoms[0]).all() and (graphs.bonds == graphs.bonds[0]).all()
    with pytest.raises(ValueError, match="not sampling settings"):
        export_checkpoint(tmp_path / "run", tmp_path / "bad", sampling={"z_dim": 3})

    # Fine-tuning from the export starts from its trained G, critic and autoencoder.
    tuned = latent_config(
        autoencoder={"steps": 0}, train={"init_from": str(tmp_path / "shipped"), "seed": 5}
    )
    fresh = Trainer(tuned, vocab, graphs, device="cpu", progress=False)
    assert _digest(fresh.generator) == _digest(loaded.generator)
    encoder, critic = _digest(fresh.module.encoder), _digest(fresh.module.critic)
    fresh.fit()
    # Or from its autoencoder alone: a new GAN stage, G and the critic from this run's seed.
    anew = tuned.replace(train={"init_generator": False})
    restarted = Trainer(anew, vocab, graphs, device="cpu", progress=False)
    assert _digest(restarted.module.encoder) == encoder
    assert _digest(restarted.module.decoder) == _digest(loaded.generator.decoder)
    assert _digest(restarted.generator.noise_map) != _digest(loaded.generator.noise_map)
    assert _digest(restarted.module.critic) != critic
    with pytest.raises(ValueError, match="init_generator = false takes only the autoencoder"):
        latent_config(train={"init_generator": False})
    with pytest.raises(ValueError, match="keep train_generator and train_refiner true"):
        anew.replace(train={"train_generator": False, "train_decoder": True})


def test_init_from_an_autoencoder_only_checkpoint_keeps_this_runs_g(tmp_path):
    config = latent_config(train={"steps": 1})
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    trainer.fit(steps=10)  # the autoencoder stage only
    trainer.save(tmp_path / "ae")
    seeded = latent_config(
        autoencoder={"steps": 0}, train={"init_from": str(tmp_path / "ae"), "seed": 7}
    )
    fresh = Trainer(seeded, vocab, graphs, device="cpu", progress=False)
    assert _digest(fresh.module.encoder) == _digest(trainer.module.encoder)
    assert _digest(fresh.module.decoder) == _digest(trainer.module.decoder)
    assert _digest(fresh.generator.noise_map) != _digest(trainer.generator.noise_map)
    molgan = Config().replace(model={"hidden": (16,)})
    assert isinstance(build_generator(molgan.model, vocab), torch.nn.Module)
    with pytest.raises(ValueError, match="not a latent-family checkpoint"):
        Trainer(
            latent_config(train={"init_from": str(ROOT / "checkpoints" / "qm9-molgan")}),
            vocab,
            graphs,
            device="cpu",
            progress=False,
        )


def test_both_generators_and_the_graph_critic_meet_the_protocols(vocab):
    config = latent_config()
    for kind in ("molgan", "latent"):
        generator = build_generator(dataclasses.replace(config.model, kind=kind), vocab)
        assert isinstance(generator, GraphGenerator)
        logits = generator(generator.sample_z(2, torch.Generator().manual_seed(0)))
        assert logits.atoms.shape == (2, 9, 9) and logits.bonds.shape == (2, 9, 9, 4)
    assert isinstance(Discriminator.from_config(config.model, vocab), GraphCritic)


# -- [train] compile: the compiled step of each family trains the same weights as the eager one


def test_compiled_is_the_network_itself_when_off_and_unknown_modes_are_refused():
    net = torch.nn.Linear(2, 1)
    assert compiled(net, "") is net
    with pytest.raises(ValueError, match="compile must be one of"):
        Config().replace(train={"compile": "fast"})


def test_autocast_is_off_on_the_cpu():
    with autocast(True, torch.device("cpu")):
        assert not torch.is_autocast_enabled("cpu")


def _train(config: Config, steps: int) -> Trainer:
    torch.set_num_threads(1)
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    trainer.fit(steps=steps)
    return trainer


def _assert_same_run(eager: Trainer, fast: Trainer) -> None:
    """Every logged loss of every step agrees (Adam may turn a float difference in a gradient
    near 0 into a step of the full learning rate, so weights are not compared)."""
    assert fast.step == eager.step and len(fast.history) == len(eager.history)
    for mine, theirs in zip(fast.history, eager.history, strict=True):
        losses = [k for k in theirs if k.startswith("loss_")]
        assert losses and [k for k in mine if k.startswith("loss_")] == losses
        assert [mine[k] for k in losses] == pytest.approx([theirs[k] for k in losses], rel=1e-3)


def test_compiled_molgan_step_with_gradient_penalty_matches_eager():
    # WGAN-GP differentiates the critic twice: the penalty must run on the eager network.
    config = (
        Config()
        .replace(
            data={"path": TINY},
            model={"conv_dims": (16,), "agg_dim": 16, "mlp_dims": (16,), "hidden": (16, 32)},
            train={"steps": 6, "batch_size": 8, "n_critic": 2, "structure_weight": 1.0},
        )
        .replace(train={"log_every": 1, "eval_every": 100})
    )
    eager = _train(config, 6)
    _assert_same_run(eager, _train(config.replace(train={"compile": "default"}), 6))


def test_compiled_latent_steps_match_eager_in_both_stages(monkeypatch):
    # TorchDynamo and AOTAutograd, as with Inductor, without its C++ builds (minutes on 2 cores);
    # the MolGAN test above runs Inductor itself.
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, mode: real_compile(fn, backend="aot_eager"))
    config = latent_config(autoencoder={"steps": 3}, train={"steps": 4, "log_every": 1})
    eager = _train(config, 7)
    _assert_same_run(eager, _train(config.replace(train={"compile": "default"}), 7))
