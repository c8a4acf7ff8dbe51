import math

import pytest
import torch

from molgan.config import ModelConfig
from molgan.graph import DenseGraph, MolGraph
from molgan.losses import gradient_penalty
from molgan.models import (
    GraphDecoder,
    GraphEncoder,
    LatentCritic,
    LatentGenerator,
    build_generator,
)
from molgan.models.autoencoder import (
    edit_weights,
    kl_divergence,
    normalize_codes,
    reconstruction_loss,
)
from molgan.sampling import logits_to_graph

SIZES = {"latent_dim": 16, "dim": 32, "layers": 2, "heads": 2}


@pytest.fixture
def decoder(vocab):
    torch.manual_seed(0)
    return GraphDecoder(vocab, **SIZES)


def test_encoder_gives_one_normalised_code_per_graph(graph_batch, vocab):
    torch.manual_seed(0)
    codes = GraphEncoder(vocab, **SIZES)(graph_batch.one_hot(vocab))
    assert codes.shape == (20, 16)
    torch.testing.assert_close(codes.mean(-1), torch.zeros(20), atol=1e-5, rtol=0)
    torch.testing.assert_close(codes.var(-1, unbiased=False), torch.ones(20), atol=1e-3, rtol=0)


def test_decoder_emits_symmetric_graph_logits_with_no_bond_diagonal(decoder, vocab):
    logits = decoder(torch.randn(5, 16))
    assert logits.atoms.shape == (5, 9, 9) and logits.bonds.shape == (5, 9, 9, 4)
    assert torch.equal(logits.bonds, logits.bonds.transpose(1, 2))
    diagonal = logits.bonds.diagonal(dim1=1, dim2=2).argmax(1)  # [B, N]
    assert (diagonal == 0).all()
    assert (logits_to_graph(logits).bonds.diagonal(dim1=1, dim2=2) == 0).all()


def test_pair_positions_change_bond_logits_by_slot_pair_and_keep_them_symmetric(vocab):
    torch.manual_seed(0)
    plain = GraphDecoder(vocab, **SIZES)
    torch.manual_seed(0)
    positional = GraphDecoder(vocab, **SIZES, pair_positions=True)
    assert "pair_position" not in plain.state_dict()  # older checkpoints still load
    z = torch.randn(4, 16)
    torch.testing.assert_close(positional(z).bonds, plain(z).bonds)  # zero at initialisation
    with torch.no_grad():
        positional.pair_position[0, 1] += 1.0  # one slot pair only, one direction
    bonds, before = positional(z).bonds, plain(z).bonds
    assert torch.equal(bonds, bonds.transpose(1, 2))
    changed = (bonds - before).abs().amax(dim=(0, 3)) > 0  # [N, N]
    assert changed[0, 1] and changed[1, 0] and changed.sum() == 2


def test_slot_init_scales_the_slot_embeddings_of_both_halves_and_the_config_reaches_them(vocab):
    torch.manual_seed(0)
    default = GraphDecoder(vocab, **SIZES)
    torch.manual_seed(0)
    wide = GraphDecoder(vocab, **SIZES, slot_init=1.0)
    # Same draw, another scale: the default reproduces the recipes trained before the option.
    torch.testing.assert_close(wide.slot_embedding * 0.02, default.slot_embedding)
    for scale in (0.02, 1.0):
        cfg = ModelConfig(
            kind="latent", latent_dim=16, ae_dim=32, ae_layers=1, ae_heads=2, ae_slot_init=scale
        )
        encoder = GraphEncoder.from_config(cfg, vocab)
        decoder = build_generator(cfg, vocab).decoder
        for slots in (encoder.slot_embedding, decoder.slot_embedding):
            assert slots.std().item() == pytest.approx(scale, rel=0.2)


def test_reconstruction_loss_is_zero_for_confident_right_logits_and_grows_when_wrong(
    graph_batch, vocab
):
    target = graph_batch.one_hot(vocab)
    right = DenseGraph(target.atoms * 50.0, target.bonds * 50.0)
    assert reconstruction_loss(right, target).item() < 1e-6
    wrong = DenseGraph(right.atoms.roll(1, dims=-1), right.bonds)
    assert reconstruction_loss(wrong, target).item() == pytest.approx(50.0, rel=1e-4)
    # Wrong bonds only: every pair's CE is 50, so their term is 50 times bond_weight.
    wrong_bonds = DenseGraph(right.atoms, right.bonds.roll(1, dims=-1))
    assert reconstruction_loss(wrong_bonds, target, bond_weight=4.0).item() == pytest.approx(
        200.0, rel=1e-4
    )


def test_edit_weights_weigh_the_entries_a_target_changes(graph_batch, vocab):
    """Where the target differs from the graph it repairs, the loss weighs the entry more."""
    source = graph_batch.one_hot(vocab)
    atoms, bonds = graph_batch.atoms.clone(), graph_batch.bonds.clone()
    atoms[0, 0] = (atoms[0, 0] + 1) % vocab.n_atom_classes  # one atom edited
    bonds[1, 0, 1] = bonds[1, 1, 0] = (bonds[1, 0, 1] + 1) % vocab.n_bond_classes  # one bond
    target = MolGraph(atoms, bonds).one_hot(vocab)
    atom_w, bond_w = edit_weights(source, target, 10.0)
    assert atom_w.sum().item() == atom_w.numel() + 9.0 and atom_w[0, 0].item() == 10.0
    assert bond_w.sum().item() == bond_w.numel() + 18.0  # both halves of the symmetric pair
    assert bond_w[1, 0, 1].item() == bond_w[1, 1, 0].item() == 10.0
    # Logits that keep the source: unit weights are the plain mean; with the edits weighted up
    # the loss is the weighted mean of the same per-entry cross-entropies, and larger.
    logits = DenseGraph(source.atoms * 5.0, source.bonds * 5.0)
    plain = reconstruction_loss(logits, target)
    ones = (torch.ones_like(atom_w), torch.ones_like(bond_w))
    assert reconstruction_loss(logits, target, weights=ones).item() == pytest.approx(plain.item())
    weighted = reconstruction_loss(logits, target, weights=(atom_w, bond_w))
    assert weighted.item() > 2 * plain.item()
    n = vocab.max_atoms

    def weighted_mean(classes: int, entries: int) -> float:  # one edited entry of `entries`
        log_z = math.log(math.exp(5.0) + classes - 1)  # right: log_z - 5; the edited: log_z
        return (10.0 * log_z + (entries - 1) * (log_z - 5.0)) / (entries + 9)

    expected = weighted_mean(vocab.n_atom_classes, atom_w.numel()) + weighted_mean(
        vocab.n_bond_classes, len(graph_batch.atoms) * n * (n - 1) // 2
    )
    assert weighted.item() == pytest.approx(expected, rel=1e-4)


def test_latent_generator_decodes_normalised_codes(decoder, vocab):
    gen = LatentGenerator(vocab, decoder, z_dim=4, hidden=(16,), latent_dim=16)
    noise = gen.sample_z(3, torch.Generator().manual_seed(0))
    assert noise.shape == (3, 4)
    codes = gen.codes(noise)
    torch.testing.assert_close(codes, normalize_codes(codes), atol=1e-3, rtol=0)
    logits = gen(noise)
    torch.testing.assert_close(logits.atoms, decoder(codes).atoms)


def test_a_variational_encoder_gives_unnormalised_means_and_log_variances(graph_batch, vocab):
    torch.manual_seed(0)
    encoder = GraphEncoder(vocab, variational=True, **SIZES)
    mean, log_var = encoder.posterior(graph_batch.one_hot(vocab))
    assert mean.shape == log_var.shape == (20, 16)
    torch.testing.assert_close(encoder(graph_batch.one_hot(vocab)), mean)
    assert (mean.mean(-1).abs() > 1e-3).any()  # not on the shell of normalize_codes
    midpoints = (mean[:10] + mean[10:]) / 2
    assert encoder.place(midpoints) is midpoints
    shell = GraphEncoder(vocab, **SIZES)
    assert shell.posterior(graph_batch.one_hot(vocab))[1] is None
    torch.testing.assert_close(shell.place(midpoints), normalize_codes(midpoints))


def test_kl_divergence_matches_torch_distributions():
    torch.manual_seed(0)
    mean, log_var = torch.randn(5, 7), torch.randn(5, 7)
    posterior = torch.distributions.Normal(mean, (0.5 * log_var).exp())
    prior = torch.distributions.Normal(torch.zeros(5, 7), torch.ones(5, 7))
    expected = torch.distributions.kl_divergence(posterior, prior).sum(-1).mean()
    torch.testing.assert_close(kl_divergence(mean, log_var), expected)


def test_a_variational_latent_generator_does_not_normalise_its_codes(decoder, vocab):
    gen = LatentGenerator(vocab, decoder, z_dim=4, hidden=(16,), latent_dim=16, variational=True)
    codes = gen.codes(gen.sample_z(3, torch.Generator().manual_seed(0)))
    torch.testing.assert_close(
        codes, gen.noise_map(gen.sample_z(3, torch.Generator().manual_seed(0)))
    )


def test_latent_critic_and_its_gradient_penalty():
    torch.manual_seed(0)
    critic = LatentCritic(16, (32,))
    real, fake = torch.randn(8, 16), torch.randn(8, 16)
    assert critic(real).shape == (8, 1)
    penalty = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))
    assert penalty.shape == () and penalty.item() >= 0
    penalty.backward()
    assert critic.head.weight.grad is not None  # the penalty trains the critic
    # A linear critic with gradient norm 1 everywhere has zero penalty.
    unit = torch.nn.Linear(16, 1, bias=False)
    with torch.no_grad():
        unit.weight.copy_(torch.ones(1, 16) / 4.0)
    assert gradient_penalty(unit, real, fake).item() == pytest.approx(0.0, abs=1e-6)
