"""The refiner: a second pass that reads the decoder's argmax graph and corrects its logits."""

import json
import sys
from pathlib import Path

import pytest
import torch

import molgan.models.refiner as refiner_module
from molgan.checkpoint import export_checkpoint, load_checkpoint
from molgan.config import Config
from molgan.graph import DenseGraph, MolGraph, same_piece
from molgan.model import MolGAN, load_training_graphs
from molgan.models import GraphDecoder, GraphRefiner, LatentGenerator
from molgan.models.autoencoder import edit_weights, reconstruction_loss, valence_target_loss
from molgan.sampling import ValenceMask, logits_to_graph
from molgan.training import Trainer, latent_family
from molgan.training.latent_family import reconstruction_rate
from molgan.vocab import Vocabulary

sys.path.insert(0, str(Path(__file__).parent))
from test_families import _digest, latent_config  # noqa: E402


def _symmetric_logits(batch: int, vocab: Vocabulary, seed: int = 0) -> DenseGraph:
    rng = torch.Generator().manual_seed(seed)
    n, t, y = vocab.max_atoms, vocab.n_atom_classes, vocab.n_bond_classes
    bonds = torch.randn(batch, n, n, y, generator=rng)
    bonds = bonds + bonds.transpose(1, 2)
    bonds[..., 0] += 3.0  # most pairs unbonded, as in molecules
    return DenseGraph(torch.randn(batch, n, t, generator=rng), bonds)


def _active(refiner: GraphRefiner) -> GraphRefiner:
    """The refiner with its zero-initialised output layers drawn at random."""
    with torch.no_grad():
        for head in (refiner.atom_head, refiner.bond_head[-1]):
            head.weight.normal_(0.0, 0.5)
    return refiner


def test_refined_bonds_stay_symmetric_and_keep_the_decoders_diagonal():
    vocab = Vocabulary.qm9()
    refiner = _active(GraphRefiner(vocab, latent_dim=8, dim=16, layers=1, heads=2))
    logits = _symmetric_logits(4, vocab)
    refined = refiner(logits, torch.randn(4, 8))
    assert not torch.allclose(refined.bonds, logits.bonds)
    assert torch.allclose(refined.bonds, refined.bonds.transpose(1, 2), atol=1e-6)
    diagonal = torch.eye(vocab.max_atoms, dtype=torch.bool)
    assert torch.equal(refined.bonds[:, diagonal], logits.bonds[:, diagonal])


def test_the_refiner_reads_the_decoders_discrete_choices():
    """Flipping one bond's argmax by a hair moves the refined logits of other pairs by far more.

    A one-shot decoder's pairs cannot see each other's choices; this is what the refiner adds.
    """
    vocab = Vocabulary.qm9()
    refiner = _active(GraphRefiner(vocab, latent_dim=8, dim=16, layers=1, heads=2))
    logits = _symmetric_logits(1, vocab)
    bonds = logits.bonds.clone()
    bonds[0, 0, 1, :] = bonds[0, 1, 0, :] = torch.tensor([1.0, 1.0 + 1e-4, -5.0, -5.0])
    flipped = bonds.clone()
    flipped[0, 0, 1, 1] = flipped[0, 1, 0, 1] = 1.0 - 1e-4  # argmax: single bond -> no bond
    codes = torch.zeros(1, 8)
    a = refiner(DenseGraph(logits.atoms, bonds), codes).bonds
    b = refiner(DenseGraph(logits.atoms, flipped), codes).bonds
    assert (a[0, 2:, 2:] - b[0, 2:, 2:]).abs().max() > 1e-2


def test_a_refiner_learns_the_valence_repairs_that_need_other_bonds_choices():
    """Random decoder logits over-fill valences; trained on the valence target, the refiner
    learns to drop bonds (which one depends on the others), so its argmax exceeds far fewer."""
    torch.manual_seed(0)
    vocab = Vocabulary.qm9()
    refiner = GraphRefiner(vocab, latent_dim=8, dim=32, layers=2, heads=2)
    mask, optimizer = ValenceMask(vocab), torch.optim.Adam(refiner.parameters(), lr=3e-3)

    def over_valence(logits: DenseGraph) -> float:
        return mask.over_valence(logits_to_graph(logits)).float().mean().item()

    held_out = _symmetric_logits(256, vocab, seed=99)
    codes = torch.zeros(256, 8)
    with torch.no_grad():
        before = over_valence(refiner(held_out, codes))
    for step in range(150):
        logits = _symmetric_logits(64, vocab, seed=step)
        loss = valence_target_loss(refiner(logits, torch.zeros(64, 8)), mask, source=logits)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = over_valence(refiner(held_out, codes))
    assert before > 0.3 and after < before / 2, (before, after)


def test_each_pass_reads_the_argmax_of_the_one_before():
    vocab = Vocabulary.qm9()
    once = _active(GraphRefiner(vocab, latent_dim=8, dim=16, layers=1, heads=2))
    twice = GraphRefiner(vocab, latent_dim=8, dim=16, layers=1, heads=2, passes=2)
    twice.load_state_dict(once.state_dict())
    logits, codes = _symmetric_logits(3, vocab), torch.randn(3, 8)
    expected = once(once(logits, codes), codes)
    assert torch.allclose(twice(logits, codes).bonds, expected.bonds)
    assert not torch.allclose(expected.bonds, once(logits, codes).bonds)
    first, second = twice.every_pass(logits, codes)  # what deep supervision judges
    assert torch.allclose(first.bonds, once(logits, codes).bonds)
    assert torch.allclose(second.bonds, expected.bonds)


def test_warm_passes_run_first_without_gradient_and_are_not_returned():
    vocab = Vocabulary.qm9()
    refiner = _active(GraphRefiner(vocab, latent_dim=8, dim=16, layers=1, heads=2, passes=2))
    logits, codes = _symmetric_logits(3, vocab), torch.randn(3, 8)
    warm = refiner.every_pass(logits, codes, warm=3)
    assert len(warm) == 2
    start = logits
    for _ in range(3):
        start = refiner.refine_once(start, codes)
    for got, expected in zip(warm, refiner.every_pass(start, codes)):
        assert torch.allclose(got.bonds, expected.bonds, atol=1e-6)
    assert not torch.allclose(warm[-1].bonds, refiner(logits, codes).bonds)
    # The gradient reaches the judged passes' weights, never the input through the warm ones.
    source = DenseGraph(logits.atoms.requires_grad_(), logits.bonds.requires_grad_())
    refiner.every_pass(source, codes, warm=3)[-1].bonds.sum().backward()
    assert source.bonds.grad is None and refiner.bond_head[-1].weight.grad.abs().sum() > 0


def test_the_valence_target_of_a_refiner_is_the_repair_of_the_decoders_logits():
    vocab, mask = Vocabulary.qm9(), ValenceMask(Vocabulary.qm9())
    decoded, refined = _symmetric_logits(8, vocab, seed=1), _symmetric_logits(8, vocab, seed=2)
    target = mask.decode(decoded)
    one_hot = DenseGraph(
        torch.nn.functional.one_hot(target.atoms, vocab.n_atom_classes).float(),
        torch.nn.functional.one_hot(target.bonds, vocab.n_bond_classes).float(),
    )
    loss = valence_target_loss(refined, mask, source=decoded)
    assert torch.allclose(loss, reconstruction_loss(refined, one_hot))
    assert not torch.allclose(loss, valence_target_loss(refined, mask))


def test_a_latent_generator_refines_only_when_it_has_a_refiner():
    vocab = Vocabulary.qm9()
    decoder = GraphDecoder(vocab, latent_dim=8, dim=16, layers=1, heads=2)
    plain = LatentGenerator(vocab, decoder, z_dim=4, hidden=(16,), latent_dim=8)
    assert not any(key.startswith("refiner.") for key in plain.state_dict())
    refiner = _active(GraphRefiner(vocab, latent_dim=8, dim=16, layers=1, heads=2))
    refined = LatentGenerator(vocab, decoder, 4, (16,), 8, refiner=refiner)
    refined.noise_map.load_state_dict(plain.noise_map.state_dict())
    noise = plain.sample_z(3, torch.Generator().manual_seed(0))
    codes = plain.codes(noise)
    assert torch.equal(plain(noise).bonds, decoder(codes).bonds)
    assert torch.equal(refined(noise).bonds, refiner(decoder(codes), codes).bonds)


class _Oracle(torch.nn.Module):
    """A "refiner" that emits the given graphs' own classes, whatever it is fed."""

    def __init__(self, graphs, vocab):
        super().__init__()
        self.target = graphs.one_hot(vocab)

    def forward(self, logits, codes):
        return DenseGraph(self.target.atoms * 50.0, self.target.bonds * 50.0)


def test_reconstruction_rate_counts_what_the_refiner_gives():
    config = latent_config()
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False)
    trainer.fit(steps=10)  # the autoencoder stage, far from reconstructing every graph
    family = trainer.module
    identity = GraphRefiner(vocab, latent_dim=16, dim=16, layers=1, heads=2)
    plain = reconstruction_rate(family.encoder, family.decoder, graphs)
    assert plain < 1.0
    assert reconstruction_rate(family.encoder, family.decoder, graphs, identity) == plain
    oracle = _Oracle(graphs, vocab)
    assert reconstruction_rate(family.encoder, family.decoder, graphs, oracle) == 1.0


def test_a_fixed_g_needs_a_trained_g_and_a_term_to_learn_from(tmp_path):
    config = latent_config()
    vocab, graphs = load_training_graphs(config, progress=False)
    Trainer(config, vocab, graphs, device="cpu", progress=False, out_dir=tmp_path / "gan").fit()
    fixed = {"train_generator": False, "reconstruction_weight": 1.0}
    refiner = {"refiner_layers": 1}
    with pytest.raises(ValueError, match="set init_from to a checkpoint"):
        Trainer(latent_config(model=refiner, train=fixed), vocab, graphs, device="cpu")
    start = {**fixed, "init_from": str(tmp_path / "gan"), "reconstruction_weight": 0.0}
    with pytest.raises(ValueError, match="no term trains the decoder or refiner"):
        Trainer(
            latent_config(model=refiner, autoencoder={"steps": 0}, train=start),
            vocab,
            graphs,
            device="cpu",
        )


def test_a_refiner_stage_trains_the_refiner_alone_on_a_trained_latent_gan(tmp_path, monkeypatch):
    config = latent_config(train={"ema": 0.9})
    vocab, graphs = load_training_graphs(config, progress=False)
    Trainer(config, vocab, graphs, device="cpu", progress=False, out_dir=tmp_path / "gan").fit()
    stage = latent_config(
        model={
            "refiner_layers": 1,
            "transport_steps": 2,
            "refiner_pieces": True,
            "refiner_passes": 2,
        },
        autoencoder={"steps": 0},
        train={
            "init_from": str(tmp_path / "gan" / "checkpoint"),
            "train_generator": False,
            "reconstruction_weight": 1.0,
            "valence_target_weight": 1.0,
            "valence_target_joins": True,
            "valence_target_every_pass": True,
            "valence_target_aromatize": True,
            "refiner_warm_passes": 2,
            "valence_target_edit_weight": 5.0,
            "ema": 0.9,
            "steps": 6,
        },
    )
    weighed = []  # the edit weights every judged target gets

    def recorded(source, target, weight):
        weighed.append(weight)
        return edit_weights(source, target, weight)

    monkeypatch.setattr(latent_family, "edit_weights", recorded)
    trainer = Trainer(stage, vocab, graphs, device="cpu", progress=False, out_dir=tmp_path / "ref")
    family = trainer.module
    state = family.rng.get_state()
    assert {family._warm_passes() for _ in range(60)} == {0, 1, 2}
    family.rng.set_state(state)
    gan = MolGAN.load(tmp_path / "gan")
    # A fixed G is the weight average the GAN samples with.
    assert _digest(family.generator.noise_map) == _digest(gan.generator.noise_map)
    parts = {
        "encoder": family.encoder,
        "decoder": family.decoder,
        "g": family.generator.noise_map,
        "refiner": family.refiner,
    }
    before = {name: _digest(part) for name, part in parts.items()}
    trainer.fit()
    assert weighed and set(weighed) == {5.0}
    assert {name for name, part in parts.items() if _digest(part) != before[name]} == {"refiner"}
    assert _digest(trainer.sampler.noise_map) == _digest(gan.generator.noise_map)
    assert family._valence_mask.join_pieces  # the teacher joins pieces
    assert family._complete_rings is not None  # and completes aromatic rings
    # Extra draws count only where the completion changes the target.
    family._complete_rings = lambda graphs: graphs
    assert family._completion_loss(16).item() == 0.0
    state = family.rng.get_state()
    with torch.no_grad():  # the draws _completion_loss will make: which is the first with a bond
        codes = family.generator.codes(family.generator.sample_z(16, family.rng))
        decoded = family.decoder(codes)
        plain = family._valence_mask.decode(decoded)
    bonded = plain.bonds.flatten(1).any(-1)
    assert bonded.any()
    k = int(bonded.nonzero()[0])
    first = (torch.arange(16) == k)[:, None, None]  # a completion that changes draw k alone

    def unbond_first(g):
        return MolGraph(g.atoms, torch.where(first & (g.bonds > 0), 0, g.bonds))

    family._complete_rings = unbond_first
    family.rng.set_state(state)
    loss = family._completion_loss(16)
    loss.backward()
    assert family.refiner.bond_head[-1].weight.grad.abs().sum() > 0
    family.refiner.zero_grad()
    target = unbond_first(plain)  # the same draws, judged by hand: draw k, weighted as one graph
    one = slice(k, k + 1)
    passes = family.refiner.every_pass(
        DenseGraph(decoded.atoms[one], decoded.bonds[one]), codes[one]
    )
    target = MolGraph(target.atoms[one], target.bonds[one]).one_hot(vocab)
    expected = sum(reconstruction_loss(out, target) for out in passes) / len(passes)
    assert torch.allclose(loss, expected / stage.train.batch_size)
    loaded = MolGAN.load(tmp_path / "ref")
    assert loaded.generator.refiner.pieces
    expected = MolGAN(trainer.sampler.eval(), vocab, stage, family.critic)
    assert loaded.sample(50, seed=2, keep_invalid=True) == expected.sample(
        50, seed=2, keep_invalid=True
    )
    loaded.write_samples(20, tmp_path / "s.smi", seed=2)
    assert json.loads((tmp_path / "s.smi.json").read_text())["refiner"] == {"passes": 2}
    export_checkpoint(tmp_path / "ref", tmp_path / "p3", sampling={"refiner_passes": 3})
    assert MolGAN.load(tmp_path / "p3").generator.refiner.passes == 3
    # A refiner of another depth cannot start from this one's weights half-loaded.
    deeper = stage.replace(model={"refiner_layers": 2}, train={"init_from": str(tmp_path / "ref")})
    with pytest.raises(ValueError, match="does not fit"):
        Trainer(deeper, vocab, graphs, device="cpu", progress=False)
    # Unless it asks to start its refiner fresh: on the same G, decoder and critic, at any depth.
    same_depth = stage.replace(train={"init_from": str(tmp_path / "ref")})
    taken = Trainer(same_depth, vocab, graphs, device="cpu")
    assert taken.module.refiner.bond_head[-1].weight.any()  # the trained refiner, by default
    for config in (deeper, same_depth):
        fresh = Trainer(config.replace(train={"init_refiner": False}), vocab, graphs, device="cpu")
        assert _digest(fresh.module.generator.noise_map) == _digest(gan.generator.noise_map)
        assert _digest(fresh.module.decoder) == before["decoder"]
        assert _digest(fresh.module.critic) == _digest(family.critic)
        assert not fresh.module.refiner.bond_head[-1].weight.any()  # untrained: the identity
        assert _digest(fresh.sampler.refiner) == _digest(fresh.module.refiner)  # and its average
    assert len(fresh.module.refiner.layers) == 1 and len(taken.module.refiner.layers) == 1


def test_a_refiner_with_pieces_reads_which_atoms_its_input_joins(monkeypatch):
    """The same logits, read as one piece instead of their real pieces, refine differently."""
    vocab = Vocabulary.qm9()
    refiner = _active(GraphRefiner(vocab, latent_dim=8, dim=16, layers=1, heads=2, pieces=True))
    logits = _symmetric_logits(2, vocab)
    codes = torch.randn(2, 8)
    assert not same_piece(logits_to_graph(logits)).all()  # the input is in pieces
    real = refiner(logits, codes).bonds
    monkeypatch.setattr(refiner_module, "same_piece", lambda graph: torch.ones_like(graph.bonds))
    assert (refiner(logits, codes).bonds - real).abs().max() > 1e-2
    plain = GraphRefiner(vocab, latent_dim=8, dim=16, layers=1, heads=2)
    assert plain.bond_bias.in_features == refiner.bond_bias.in_features - 1  # old weights load


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"model": {"refiner_layers": 2}}, 'only kind = "latent" has a decoder'),
        ({"model": {"kind": "latent", "refiner_pieces": True}}, "refiner_pieces: this model has"),
        ({"model": {"kind": "latent", "refiner_layers": -1}}, "refiner_layers must be >= 0"),
        ({"model": {"kind": "latent", "refiner_passes": 0}}, "refiner_passes must be >= 1"),
        ({"model": {"kind": "latent", "refiner_passes": 2}}, "this model has no refiner"),
        ({"train": {"train_generator": False}}, 'only kind = "latent" has more to train'),
        (
            {"train": {"valence_target_weight": 1.0, "valence_target_every_pass": True}},
            r"every_pass needs \[model\] refiner_passes > 1",
        ),
        ({"train": {"valence_target_every_pass": True}}, "every_pass needs valence_target_w"),
        ({"train": {"valence_target_aromatize": True}}, "aromatize needs valence_target_w"),
        ({"train": {"valence_target_aromatize_draws": 8}}, "draws needs valence_target_arom"),
        (
            {
                "model": {"kind": "latent"},
                "train": {
                    "valence_target_weight": 1.0,
                    "valence_target_aromatize": True,
                    "valence_target_aromatize_draws": 8,
                },
            },
            r"draws trains a refiner: set \[model\] refiner_layers > 0",
        ),
        (
            {"train": {"valence_target_aromatize_draws": -1}},
            "aromatize_draws must be an integer >= 0, got -1",
        ),
        ({"train": {"refiner_warm_passes": -1}}, "warm_passes must be an integer >= 0, got -1"),
        ({"train": {"valence_target_edit_weight": 0.0}}, "edit_weight must be > 0, got 0.0"),
        ({"train": {"valence_target_edit_weight": 5.0}}, "edit_weight needs valence_target_w"),
        ({"train": {"reconstruction_noise": 0.3}}, "noise needs reconstruction_weight > 0"),
        (
            {"train": {"reconstruction_weight": 1.0, "reconstruction_noise": -0.1}},
            "and a scale >= 0, got -0.1",
        ),
        ({"model": {"kind": "latent"}, "train": {"refiner_warm_passes": 3}}, "warm_passes trains"),
        (
            {
                "model": {"kind": "latent", "refiner_layers": 1},
                "train": {
                    "init_from": "x",
                    "train_refiner": False,
                    "train_decoder": True,
                    "refiner_warm_passes": 3,
                },
            },
            r"refiner_warm_passes trains a refiner: set \[model\] refiner_layers > 0",
        ),
        ({"model": {"kind": "latent"}, "train": {"train_generator": False}}, "nothing to train"),
        (
            {"model": {"kind": "latent", "refiner_layers": 1}, "train": {"init_refiner": False}},
            "init_refiner = false starts a refiner fresh",
        ),
        (
            {"model": {"kind": "latent", "refiner_layers": 1}, "train": {"train_refiner": False}},
            "train_refiner = false keeps init_from's refiner",
        ),
    ],
)
def test_refiner_settings_are_checked(sections, message):
    with pytest.raises(ValueError, match=message):
        Config().replace(**sections)


def test_a_refiner_stage_refuses_a_g_that_does_not_fit(tmp_path):
    config = latent_config()
    vocab, graphs = load_training_graphs(config, progress=False)
    Trainer(config, vocab, graphs, device="cpu", progress=False, out_dir=tmp_path / "gan").fit()
    other = latent_config(
        model={"hidden": (32,), "refiner_layers": 1},
        autoencoder={"steps": 0},
        train={"init_from": str(tmp_path / "gan" / "checkpoint")},
    )
    with pytest.raises(ValueError, match="does not fit"):
        Trainer(other, vocab, graphs, device="cpu", progress=False)


def test_a_fixed_refiner_is_the_one_its_checkpoint_samples_with(tmp_path):
    refined = {"model": {"refiner_layers": 1}}
    config = latent_config(**refined, train={"reconstruction_weight": 1.0, "ema": 0.9})
    vocab, graphs = load_training_graphs(config, progress=False)
    Trainer(config, vocab, graphs, device="cpu", progress=False, out_dir=tmp_path / "gan").fit()
    average = load_checkpoint(tmp_path / "gan" / "checkpoint").weights["generator_ema"]
    rl = latent_config(
        **refined,
        autoencoder={"steps": 0},
        train={
            "init_from": str(tmp_path / "gan" / "checkpoint"),
            "train_refiner": False,
            "n_critic": 1,
            "ema": 0.9,
        },
        reward={"terms": ("validity",), "estimator": "code", "n_jobs": 1, "warmup": 0.0},
    )
    trainer = Trainer(rl, vocab, graphs, device="cpu", progress=False)
    trainer.fit(steps=4)
    own, sampler = trainer.generator.state_dict(), trainer.sampler.state_dict()
    refiner = [k for k in own if k.startswith("refiner.")]
    assert refiner and all(torch.equal(own[k], average[k]) for k in refiner)
    assert all(torch.allclose(sampler[k], average[k], atol=1e-6) for k in refiner)
    assert any(not torch.equal(own[k], average[k]) for k in own if k.startswith("noise_map."))


def test_a_fixed_refiner_must_come_from_init_from(tmp_path):
    config = latent_config()
    vocab, graphs = load_training_graphs(config, progress=False)
    Trainer(config, vocab, graphs, device="cpu", progress=False, out_dir=tmp_path / "gan").fit()
    fixed = latent_config(
        model={"refiner_layers": 1},
        autoencoder={"steps": 0},
        train={"init_from": str(tmp_path / "gan" / "checkpoint"), "train_refiner": False},
    )
    with pytest.raises(ValueError, match="holds no refiner for train_refiner = false"):
        Trainer(fixed, vocab, graphs, device="cpu", progress=False)


def test_reconstruction_noise_draws_each_codes_scale_up_to_the_setting(tmp_path):
    """0 decodes the training codes as they are; a large scale judges the decodes of far codes."""
    config = latent_config(
        model={"refiner_layers": 1},
        train={"reconstruction_weight": 1.0, "reconstruction_noise": 0.0, "steps": 2},
    )
    vocab, graphs = load_training_graphs(config, progress=False)
    trainer = Trainer(config, vocab, graphs, device="cpu", progress=False, out_dir=tmp_path)
    trainer.fit()
    family = trainer.module
    state = family.rng.get_state()
    exact = family._reconstruction()
    family.rng.set_state(state)
    idx = family._code_batch()
    real = MolGraph(graphs.atoms[idx], graphs.bonds[idx]).one_hot(vocab)
    logits = family.generator.decode(family._data_codes[idx])
    expected = reconstruction_loss(logits, real, config.autoencoder.bond_weight)
    assert torch.allclose(exact, expected)
    family.config = config.replace(train={"reconstruction_noise": 5.0})
    family.rng.set_state(state)
    assert family._reconstruction().item() > exact.item() + 0.1
