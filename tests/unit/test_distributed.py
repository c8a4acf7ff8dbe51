"""Data-parallel training: K ranks with batch B step exactly like one process with batch K * B."""

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from molgan.config import Config, ModelConfig
from molgan.distributed import World, optimizer_step
from molgan.graph import DenseGraph
from molgan.losses import gradient_penalty, reward_loss
from molgan.models import Discriminator, RewardNetwork
from molgan.vocab import Vocabulary

B = 4  # per rank
CLIP = 0.05  # small enough to bind, so clipping must see the averaged gradient


def _networks() -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    model = ModelConfig(conv_dims=(16,), agg_dim=16, mlp_dims=(16,))
    vocab = Vocabulary.qm9()
    return Discriminator.from_config(model, vocab), RewardNetwork.from_config(model, vocab)


def _batches(rank: int) -> tuple[DenseGraph, DenseGraph, torch.Tensor]:
    """Rank ``rank``'s real graphs, fake graphs and reward targets (rank 0 + 1 = the 2B batch)."""
    gen = torch.Generator().manual_seed(100 + rank)
    vocab = Vocabulary.qm9()
    n, t, y = vocab.max_atoms, vocab.n_atom_classes, vocab.n_bond_classes

    def graphs() -> DenseGraph:
        atoms = torch.rand(B, n, t, generator=gen).softmax(-1)
        bonds = torch.rand(B, n, n, y, generator=gen)
        bonds = (bonds + bonds.transpose(1, 2)).softmax(-1)
        return DenseGraph(atoms, bonds)

    return graphs(), graphs(), torch.rand(B, generator=gen)


def _losses(critic, reward_net, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The critic's WGAN-GP loss (double backward) and the reward network's loss on one rank."""
    real, fake, target = _batches(rank)
    eps_rng = torch.Generator().manual_seed(7 + rank)  # the rank's own GP interpolation weights
    loss_d = critic(fake).mean() - critic(real).mean()
    loss_d = loss_d + 10.0 * gradient_penalty(critic, real, fake, eps_rng)
    loss_r = reward_loss(reward_net(real), target)
    return loss_d, loss_r


def _step(critic, reward_net, losses) -> None:
    opt_d = torch.optim.Adam(critic.parameters(), lr=1e-2)
    opt_r = torch.optim.Adam(reward_net.parameters(), lr=1e-2)
    optimizer_step(losses[0], opt_d, clip=CLIP)
    optimizer_step(losses[1], opt_r)


def _rank(rank: int, port: int, queue) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        torch.set_num_threads(1)
        critic, reward_net = _networks()
        _step(critic, reward_net, _losses(critic, reward_net, rank))
        if rank == 0:
            params = (*critic.parameters(), *reward_net.parameters())
            queue.put([p.detach().numpy().copy() for p in params])  # by value, not shared memory
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_ranks_step_like_one_process_with_both_batches():
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_rank, args=(r, port, queue)) for r in range(2)]
    for proc in procs:
        proc.start()
    distributed = [torch.from_numpy(array) for array in queue.get(timeout=240)]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0

    critic, reward_net = _networks()
    before = [p.detach().clone() for p in (*critic.parameters(), *reward_net.parameters())]
    halves = [_losses(critic, reward_net, rank) for rank in range(2)]
    # One process, batch 2B: the losses are batch means, so the 2B loss is the halves' mean.
    both = tuple((a + b) / 2 for a, b in zip(*halves, strict=True))
    _step(critic, reward_net, both)
    single = [p.detach() for p in (*critic.parameters(), *reward_net.parameters())]

    assert any(not torch.equal(a, b) for a, b in zip(before, single, strict=True))  # it moved
    for ours, theirs in zip(distributed, single, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_without_a_process_group_nothing_changes():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)
    b.load_state_dict(a.state_dict())
    x = torch.randn(5, 3)
    optimizer_step(a(x).pow(2).mean(), torch.optim.SGD(a.parameters(), lr=0.1), clip=0.5)
    opt = torch.optim.SGD(b.parameters(), lr=0.1)
    opt.zero_grad()
    b(x).pow(2).mean().backward()
    torch.nn.utils.clip_grad_norm_(b.parameters(), 0.5)
    opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_a_world_shards_the_data_without_overlap():
    shards = [set(range(10)[World(rank=r, size=3).shard(10)]) for r in range(3)]
    assert set.union(*shards) == set(range(10)) and sum(map(len, shards)) == 10
    assert World().shard(4) == slice(0, 4, 1) and World().is_main and not World().distributed


def test_a_run_folder_is_locked_while_a_run_writes_to_it(tmp_path, tiny_graphs_config):
    from molgan.training import RunFolderBusyError, Trainer
    from molgan.training.loop import _RunLock

    config, vocab, graphs = tiny_graphs_config
    with _RunLock(tmp_path):
        trainer = Trainer(config, vocab, graphs, out_dir=tmp_path, progress=False)
        with pytest.raises(RunFolderBusyError, match="in use by another molgan train"):
            trainer.fit(2)
    Trainer(config, vocab, graphs, out_dir=tmp_path, progress=False).fit(2)  # free again


@pytest.fixture
def tiny_graphs_config(tiny_smiles, vocab):
    from molgan.data import featurize

    config = Config().replace(
        model={"hidden": [16], "conv_dims": [8], "agg_dim": 8, "mlp_dims": [8]},
        train={"batch_size": 4, "log_every": 1, "eval_every": 100, "checkpoint_every": 100},
    )
    return config, vocab, featurize(tiny_smiles, vocab, n_jobs=1).graphs
