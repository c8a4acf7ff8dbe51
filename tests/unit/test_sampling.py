import math
from types import SimpleNamespace

import pytest
import torch
from rdkit import Chem

import molgan.sampling
from molgan.graph import DenseGraph, MolGraph, mol_to_graph
from molgan.losses import reinforce_loss
from molgan.models import Generator
from molgan.sampling import (
    ValenceMask,
    generate_graphs,
    graph_log_prob,
    gumbel_softmax,
    logits_to_graph,
    sample_dense_graph,
    softmax_graph,
)
from molgan.vocab import Vocabulary


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def asymmetric_logits():
    """Logits that are NOT symmetric, so symmetry must come from the sampling."""
    gen = seeded(42)
    return DenseGraph(torch.randn(3, 5, 4, generator=gen), torch.randn(3, 5, 5, 3, generator=gen))


def assert_valid_bonds(bonds):
    assert torch.equal(bonds, bonds.transpose(1, 2))
    diagonal = bonds.diagonal(dim1=1, dim2=2)  # [B, Y, N]
    assert torch.all(diagonal[:, 0] == 1.0) and torch.all(diagonal[:, 1:] == 0.0)


def test_gumbel_hard_is_exact_one_hot_with_gradient():
    logits = torch.randn(64, 5, generator=seeded(0)).requires_grad_(True)
    y = gumbel_softmax(logits, tau=0.5, hard=True, generator=seeded(1))
    assert torch.all((y == 0) | (y == 1))
    assert torch.all(y.sum(-1) == 1)
    (y * torch.arange(5.0)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_gumbel_soft_is_a_distribution():
    logits = torch.randn(8, 4, generator=seeded(0))
    y = gumbel_softmax(logits, generator=seeded(1))
    assert torch.all(y > 0)
    torch.testing.assert_close(y.sum(-1), torch.ones(8))


def test_gumbel_is_seeded():
    logits = torch.zeros(10, 6)
    assert torch.equal(
        gumbel_softmax(logits, generator=seeded(7)), gumbel_softmax(logits, generator=seeded(7))
    )
    assert not torch.equal(
        gumbel_softmax(logits, generator=seeded(7)), gumbel_softmax(logits, generator=seeded(8))
    )


def test_gumbel_hard_frequencies_match_softmax():
    probs = torch.tensor([0.2, 0.3, 0.5])
    logits = probs.log().expand(20_000, 3)
    freq = gumbel_softmax(logits, hard=True, generator=seeded(0)).mean(0)
    torch.testing.assert_close(freq, probs, atol=0.015, rtol=0)


def test_gumbel_keeps_dtype():
    y = gumbel_softmax(torch.zeros(4, 3, dtype=torch.float64), generator=seeded())
    assert y.dtype == torch.float64


@pytest.mark.parametrize("hard", [False, True])
def test_sample_dense_graph_symmetric(asymmetric_logits, hard):
    sample = sample_dense_graph(asymmetric_logits, tau=1.0, hard=hard, generator=seeded(0))
    assert sample.atoms.shape == (3, 5, 4) and sample.bonds.shape == (3, 5, 5, 3)
    assert_valid_bonds(sample.bonds)
    torch.testing.assert_close(sample.atoms.sum(-1), torch.ones(3, 5))


def test_sample_dense_graph_of_generator_is_symmetric_and_differentiable():
    vocab = Vocabulary.qm9()
    gen = Generator(vocab)
    logits = gen(gen.sample_z(4, seeded(0)))
    sample = sample_dense_graph(logits, hard=True, generator=seeded(1))
    assert_valid_bonds(sample.bonds)
    (sample.bonds[..., 1].sum() + sample.atoms[..., 1].sum()).backward()
    assert gen.bond_head.weight.grad.abs().sum() > 0
    assert gen.atom_head.weight.grad.abs().sum() > 0


def test_sample_dense_graph_is_seeded(asymmetric_logits):
    a = sample_dense_graph(asymmetric_logits, generator=seeded(5))
    b = sample_dense_graph(asymmetric_logits, generator=seeded(5))
    assert torch.equal(a.atoms, b.atoms) and torch.equal(a.bonds, b.bonds)


def test_softmax_graph(asymmetric_logits):
    probs = softmax_graph(asymmetric_logits)
    assert_valid_bonds(probs.bonds)
    torch.testing.assert_close(probs.atoms, torch.softmax(asymmetric_logits.atoms, -1))
    torch.testing.assert_close(
        probs.bonds[:, 0, 1], torch.softmax(asymmetric_logits.bonds, -1)[:, 0, 1]
    )


def test_logits_to_graph_argmax(asymmetric_logits):
    graph = logits_to_graph(asymmetric_logits)
    assert graph.atoms.shape == (3, 5) and graph.bonds.shape == (3, 5, 5)
    assert graph.atoms.dtype == torch.long
    torch.testing.assert_close(graph.atoms, asymmetric_logits.atoms.argmax(-1))
    assert torch.equal(graph.bonds, graph.bonds.transpose(1, 2))
    assert torch.all(graph.bonds.diagonal(dim1=1, dim2=2) == 0)
    upper = torch.ones(5, 5, dtype=torch.bool).triu(1)
    assert torch.equal(graph.bonds[:, upper], asymmetric_logits.bonds.argmax(-1)[:, upper])


def test_logits_to_graph_sample_is_seeded_and_symmetric(asymmetric_logits):
    a = logits_to_graph(asymmetric_logits, sample=True, generator=seeded(1))
    b = logits_to_graph(asymmetric_logits, sample=True, generator=seeded(1))
    assert torch.equal(a.atoms, b.atoms) and torch.equal(a.bonds, b.bonds)
    assert torch.equal(a.bonds, a.bonds.transpose(1, 2))
    assert torch.all(a.bonds.diagonal(dim1=1, dim2=2) == 0)


def test_logits_to_graph_sample_frequencies():
    atoms = torch.tensor([math.log(0.1), math.log(0.9)]).expand(4000, 1, 2)  # B=4000, N=1
    graph = logits_to_graph(
        DenseGraph(atoms, torch.zeros(4000, 1, 1, 2)), sample=True, generator=seeded(0)
    )
    assert graph.atoms.float().mean().item() == pytest.approx(0.9, abs=0.02)
    assert torch.all(graph.bonds == 0)


class _FixedLogits(torch.nn.Module):
    """A stand-in generator whose logits ignore z: atoms favour class 1 (p = 0.7 at T = 1)."""

    def __init__(self):
        super().__init__()
        self.vocab = SimpleNamespace(max_atoms=3)
        self.atoms = torch.log(torch.tensor([0.05, 0.7, 0.25]))  # [T]
        self.bonds = torch.log(torch.tensor([0.9, 0.1]))  # [Y]

    def sample_z(self, n, generator, scale=1.0):
        return scale * torch.randn(n, 2, generator=generator)

    def forward(self, z):
        b = len(z)
        return DenseGraph(self.atoms.expand(b, 3, 3), self.bonds.expand(b, 3, 3, 2))


def test_min_p_cuts_only_the_rare_classes():
    model = _FixedLogits()
    draw = lambda min_p: next(generate_graphs(model, 4000, seeded(), 1.0, min_p=min_p))[0]  # noqa: E731
    plain, cut = draw(0.0), draw(0.1)  # 0.1 x 0.7 = 0.07: class 0 (0.05) goes, class 2 stays
    assert (plain.atoms == 0).any() and not (cut.atoms == 0).any()
    share = (cut.atoms == 2).float().mean().item()
    assert share == pytest.approx(0.25 / 0.95, abs=0.02)  # renormalised over the kept classes
    assert torch.equal(cut.bonds, cut.bonds.transpose(1, 2))


def test_graph_log_prob_sums_atoms_and_upper_bonds():
    torch.manual_seed(0)
    logits = DenseGraph(torch.randn(3, 4, 5), torch.randn(3, 4, 4, 2))
    ids = MolGraph(torch.randint(5, (3, 4)), torch.randint(2, (3, 4, 4)))
    expected = torch.zeros(3)
    for b in range(3):
        for i in range(4):
            expected[b] += torch.log_softmax(logits.atoms[b, i], -1)[ids.atoms[b, i]]
            for j in range(i + 1, 4):
                expected[b] += torch.log_softmax(logits.bonds[b, i, j], -1)[ids.bonds[b, i, j]]
    assert torch.allclose(graph_log_prob(logits, ids), expected, atol=1e-5)


def test_reinforce_on_sampled_graphs_raises_the_rewarded_class():
    # A toy policy: free logits for one atom; reward 1 when it is class 2. Gumbel-max sampling
    # (what the trainer scores) plus REINFORCE must make class 2 the likely one.
    torch.manual_seed(0)
    atom_logits = torch.zeros(1, 1, 4, requires_grad=True)
    optimizer = torch.optim.SGD([atom_logits], lr=0.5)
    for _ in range(50):
        logits = DenseGraph(atom_logits.expand(64, 1, 4), torch.zeros(64, 1, 1, 2))
        drawn = sample_dense_graph(logits, hard=True)
        ids = MolGraph(drawn.atoms.argmax(-1), drawn.bonds.argmax(-1))
        rewards = (ids.atoms[:, 0] == 2).float()
        optimizer.zero_grad()
        reinforce_loss(graph_log_prob(logits, ids), rewards).backward()
        optimizer.step()
    assert torch.softmax(atom_logits[0, 0], -1)[2] > 0.9


def _valences(graph: MolGraph, vocab: Vocabulary) -> tuple[torch.Tensor, torch.Tensor]:
    """Each atom's bond-order sum and its cap, ``[B, N]`` each."""
    orders = torch.tensor(vocab.bond_orders)[graph.bonds].sum(-1)
    return orders, torch.tensor(vocab.max_valences)[graph.atoms]


@pytest.mark.parametrize("sample", [False, True])
def test_valence_mask_never_exceeds_a_valence_and_keeps_graphs_well_formed(sample):
    vocab = Vocabulary.qm9()
    gen = seeded(3)
    logits = DenseGraph(
        torch.randn(256, 9, 9, generator=gen), torch.randn(256, 9, 9, 4, generator=gen)
    )
    plain = logits_to_graph(logits, sample, seeded(5))
    masked = ValenceMask(vocab).decode(logits, sample, seeded(5))
    assert torch.equal(masked.atoms, plain.atoms)  # atoms are decoded as before
    assert torch.equal(masked.bonds, masked.bonds.transpose(1, 2))
    assert torch.all(masked.bonds.diagonal(dim1=1, dim2=2) == 0)
    valence, cap = _valences(masked, vocab)
    assert torch.all(valence <= cap)
    over, _ = _valences(plain, vocab)
    assert torch.any(over > cap)  # random logits do break valences, so the mask had work to do
    assert not torch.any(masked.bonds[masked.atoms == 0].bool())  # padding holds no bond


def test_valence_mask_leaves_a_graph_that_fits_unchanged_and_is_seeded():
    vocab = Vocabulary.qm9()
    graphs = [mol_to_graph(Chem.MolFromSmiles(s), vocab) for s in ("C#CC(=O)N", "c1ccoc1", "OCC=N")]
    ids = MolGraph(torch.stack([g.atoms for g in graphs]), torch.stack([g.bonds for g in graphs]))
    one_hot = ids.one_hot(vocab)
    gen = seeded(0)
    logits = DenseGraph(  # the right classes on top, by varying margins
        one_hot.atoms * 4 + torch.rand(one_hot.atoms.shape, generator=gen),
        one_hot.bonds * 4 + torch.rand(one_hot.bonds.shape, generator=gen),
    )
    mask = ValenceMask(vocab)
    assert torch.equal(mask.decode(logits).bonds, ids.bonds.long())
    draws = [mask.decode(logits, True, seeded(9)) for _ in range(2)]
    assert torch.equal(draws[0].bonds, draws[1].bonds)


def _pieces(atoms: list[int], bonds: list[list[int]]) -> list[set[int]]:
    """The pieces of one class-id graph's real atoms, by depth-first search."""
    left, pieces = {i for i, a in enumerate(atoms) if a > 0}, []
    while left:
        piece, stack = set(), [left.pop()]
        while stack:
            i = stack.pop()
            piece.add(i)
            stack += [j for j in left if bonds[i][j] > 0]
            left -= set(stack)
        pieces.append(piece)
    return pieces


def test_valence_mask_joins_pieces_within_valence_and_leaves_whole_graphs_alone():
    vocab = Vocabulary.qm9()
    gen = seeded(4)
    logits = DenseGraph(
        torch.randn(256, 9, 9, generator=gen), torch.randn(256, 9, 9, 4, generator=gen) * 2
    )
    masked = ValenceMask(vocab).decode(logits)
    joined = ValenceMask(vocab, join_pieces=True).decode(logits)
    valence, cap = _valences(joined, vocab)
    assert torch.all(valence <= cap)
    assert torch.equal(joined.bonds, joined.bonds.transpose(1, 2))
    assert torch.all(joined.bonds.diagonal(dim1=1, dim2=2) == 0)
    room = (cap - valence).tolist()
    broken_before = 0
    for k in range(len(logits.atoms)):
        atoms = joined.atoms[k].tolist()
        before = _pieces(atoms, masked.bonds[k].tolist())
        after = _pieces(atoms, joined.bonds[k].tolist())
        broken_before += len(before) > 1
        if len(before) == 1:
            assert torch.equal(joined.bonds[k], masked.bonds[k])  # a whole graph stays as it was
        else:  # only single bonds added, and what stays apart has no free valence on one side
            added = joined.bonds[k] != masked.bonds[k]
            assert torch.all(masked.bonds[k][added] == 0) and torch.all(joined.bonds[k][added] == 1)
            with_room = [p for p in after if any(room[k][i] >= 1 for i in p)]
            assert len(with_room) <= 1
    assert broken_before > 50  # random logits leave many graphs in pieces: the join had work


def test_valence_mask_joins_at_the_likeliest_single_bond():
    vocab = Vocabulary.qm9()  # three C atoms, no bond on top everywhere
    atoms = torch.full((1, 3, 9), -9.0)
    atoms[..., 1] = 9.0
    bonds = torch.zeros(1, 3, 3, 4)
    bonds[..., 0] = 5.0
    bonds[0, 0, 2, 1] = bonds[0, 2, 0, 1] = 4.0  # C0-C2 the likeliest single bond
    bonds[0, 1, 2, 1] = bonds[0, 2, 1, 1] = 3.0  # then C1-C2
    joined = ValenceMask(vocab, join_pieces=True).decode(DenseGraph(atoms, bonds))
    assert joined.bonds[0].tolist() == [[0, 0, 1], [0, 0, 1], [1, 1, 0]]


def test_valence_mask_refuses_aromatic_bonds():
    with pytest.raises(ValueError, match="needs Kekulé bonds"):
        ValenceMask(Vocabulary.qm9(aromatic=True))


def test_cpu_forward_in_pieces_gives_the_same_graphs(monkeypatch):
    """A chunk decoded in pieces of a few graphs equals the chunk decoded in one forward."""
    torch.manual_seed(0)
    model = Generator(Vocabulary.qm9(), z_dim=8, hidden=(16,))
    whole = next(generate_graphs(model, 50, seeded(), 0.0))
    monkeypatch.setattr(molgan.sampling, "CPU_FORWARD_PAIRS", 7 * 36)  # 7 graphs of 9 atoms
    calls = []
    model.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    pieces = next(generate_graphs(model, 50, seeded(), 0.0))
    assert calls == [7] * 7 + [1]
    assert torch.equal(pieces[1], whole[1])  # the same noise
    assert torch.equal(pieces[0].atoms, whole[0].atoms)
    assert torch.equal(pieces[0].bonds, whole[0].bonds)
