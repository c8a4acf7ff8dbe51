"""Discriminator rejection sampling in graph space: does a relational-GCN classifier of real
against generated molecules pick a sample set closer to QM9?

A probe for the latent QM9 bar (docs/results.md). ``decoder_frontier.py`` resampled G's *codes*
by a code classifier's density ratio and made FCD worse; this script asks the same question of
the *molecules*, with MolGAN's own critic architecture (:class:`molgan.models.Discriminator`,
an R-GCN over one-hot graphs):

1. ``molgan sample`` writes ``--fakes`` samples (seed ``--seed + 1``) to train on and a pool of
   ``--pool`` times ``-n`` samples (seed ``--seed``) to resample from;
2. the R-GCN learns to tell ``--fakes`` random training molecules of the checkpoint's data from
   the first file's valid samples (``--epochs``, a tenth of both held out: accuracy printed); its
   logit estimates ``log p_data(x) / p_G(x)`` (Azadi et al., "Discriminator rejection sampling",
   ICLR 2019);
3. for each ``--betas B``, ``-n`` samples are drawn from the pool *without* replacement with
   weights ``exp(B * logit)`` (Gumbel top-k), written with a sample record and scored with
   ``molgan evaluate`` (novelty against all of QM9, FCD against ``--test``). The pool's invalid
   samples cannot be featurised, so they keep their share: their weight is the valid samples'
   mean weight. ``B = 0`` is a uniform draw from the pool. With ``--keep-novelty`` the draw is
   made separately among the pool's novel molecules and the rest, each in its pool share, so
   the rows keep the pool's novelty (a probe of which novel molecules the critic prefers, not a
   sampler: it looks the training set up). The samples and the critic's pool logits are cached in
   ``OUT`` under names that carry their sizes, seeds and epochs; ``OUT`` serves one checkpoint.

Usage: python benchmarks/graph_rejection.py checkpoints/qm9 --betas 0 0.5 1 2 [-n 10000]
       [--pool 4] [--fakes 50000] [--out runs/rejection]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from objectives import _run, metrics_table
from torch import nn

from molgan.checkpoint import load_checkpoint
from molgan.chem import canonical_smiles
from molgan.data import featurize
from molgan.graph import MolGraph
from molgan.io import read_sample_record, read_smiles, write_sample_record, write_smiles
from molgan.models import Discriminator
from molgan.vocab import Vocabulary

COLUMNS = ("validity", "uniqueness", "novelty", "fcd", "kl_score", "mean_logit")


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Discriminator rejection sampling in graph space with an R-GCN critic."
    )
    parser.add_argument("checkpoint")
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--betas", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument("--pool", type=int, default=4, help="pool size, in multiples of -n")
    parser.add_argument("--fakes", type=int, default=50_000, help="samples to train on")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train", default="data/qm9.csv.gz", help="novelty reference")
    parser.add_argument("--test", default="runs/headline/qm9_random10k.smi", help="FCD reference")
    parser.add_argument(
        "--keep-novelty",
        action="store_true",
        help="draw from the pool's novel and known molecules separately, in the pool's shares",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/rejection"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    _claim(args.out, args.checkpoint)
    checkpoint = load_checkpoint(args.checkpoint)
    vocab = checkpoint.vocab

    fakes = _sampled(args, "fakes", args.fakes, args.seed + 1)
    pool = _sampled(args, "pool", args.n * args.pool, args.seed)
    real = _real_smiles(checkpoint.config.data.path, len(fakes), args.seed)
    logits_path = args.out / (
        f"pool{len(pool)}-seed{args.seed}-logits-{args.epochs}epochs-fakes{len(fakes)}.pt"
    )
    if logits_path.exists():
        logits = torch.load(logits_path)
    else:
        critic = _train_critic(vocab, real, [s for s in fakes if s], args.epochs, args.seed)
        logits = _pool_logits(critic, vocab, pool)
        torch.save(logits, logits_path)
    strata = _novel(pool, args.train) if args.keep_novelty else torch.zeros(len(pool), dtype=bool)
    pool_record = read_sample_record(_sample_path(args, "pool", len(pool), args.seed))

    rows: dict[str, dict] = {}
    suffix = " (novel share kept)" if args.keep_novelty else ""
    for beta in args.betas:
        picked = _stratified(logits, strata, beta, args.n, args.seed)
        name = f"beta-{beta}" + ("-novel-kept" if args.keep_novelty else "")
        rows[f"pool of {len(pool)} resampled by ratio^{beta}{suffix}"] = _row(
            args, [pool[i] for i in picked], logits[picked], name, pool_record
        )
    caption = (
        f"{args.checkpoint}: {args.n} samples a row, drawn without replacement from a pool of "
        f"{len(pool)} (sampling seed {args.seed}) with weights ratio^beta; the R-GCN trained on "
        f"{len(fakes)} samples (seed {args.seed + 1}); novelty against {args.train}, FCD against "
        f"{args.test}; mean_logit: the critic's mean logit over the row's valid samples"
    )
    print(metrics_table(caption, rows, COLUMNS))


def _claim(out: Path, checkpoint: str) -> None:
    """Refuse an ``out`` folder whose cached samples come from another checkpoint."""
    source = out / "checkpoint.txt"
    name = str(checkpoint)
    if source.exists() and source.read_text().strip() != name:
        raise SystemExit(f"{out} holds samples of {source.read_text().strip()}; use another --out")
    source.write_text(name + "\n")


def _sample_path(args: argparse.Namespace, name: str, n: int, seed: int) -> Path:
    """Where :func:`_sampled` caches ``n`` samples drawn with ``seed``."""
    return args.out / f"{name}{n}-seed{seed}.smi"


def _sampled(args: argparse.Namespace, name: str, n: int, seed: int) -> list[str]:
    """``n`` samples of the checkpoint as ``molgan sample`` writes them ("" where invalid)."""
    path = _sample_path(args, name, n, seed)
    if not path.exists():
        _run(
            ["sample", "--checkpoint", str(args.checkpoint), "-n", str(n), "--seed", str(seed)]
            + ["--keep-invalid", "-o", str(path)]
        )
    return read_smiles(path)


def _real_smiles(path: str, n: int, seed: int) -> list[str]:
    """``n`` random molecules of the checkpoint's training data."""
    smiles = read_smiles(path)
    rng = np.random.default_rng(seed)
    return [smiles[i] for i in rng.choice(len(smiles), size=min(n, len(smiles)), replace=False)]


def _graphs(smiles: list[str], vocab: Vocabulary) -> tuple[MolGraph, torch.Tensor]:
    """The encodable molecules' graphs and their rows in ``smiles``."""
    featurized = featurize(smiles, vocab, n_jobs=1, progress=False)
    return featurized.graphs, featurized.rows


def _train_critic(
    vocab: Vocabulary, real: list[str], fake: list[str], epochs: int, seed: int
) -> nn.Module:
    """An R-GCN that tells ``real`` (label 1) from ``fake`` (label 0); prints held-out accuracy."""
    real_graphs, _ = _graphs(real, vocab)
    fake_graphs, _ = _graphs(fake, vocab)
    atoms = torch.cat([real_graphs.atoms, fake_graphs.atoms]).long()
    bonds = torch.cat([real_graphs.bonds, fake_graphs.bonds]).long()
    labels = torch.cat([torch.ones(len(real_graphs.atoms)), torch.zeros(len(fake_graphs.atoms))])
    rng = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=rng)
    held_out, fit = order[: len(order) // 10], order[len(order) // 10 :]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        critic = Discriminator(vocab)
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()

    def scores(index: torch.Tensor) -> torch.Tensor:
        return critic(MolGraph(atoms[index], bonds[index]).one_hot(vocab))[:, 0]

    for epoch in range(epochs):
        critic.train()
        for batch in fit[torch.randperm(len(fit), generator=rng)].split(256):
            loss = loss_fn(scores(batch), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        critic.eval()
        with torch.no_grad():
            guess = torch.cat([scores(b) > 0 for b in held_out.split(4096)])
        accuracy = (guess.float() == labels[held_out]).float().mean()
        print(f"R-GCN, epoch {epoch + 1}: held-out accuracy {accuracy:.3f}", flush=True)
    return critic


@torch.no_grad()
def _pool_logits(critic: nn.Module, vocab: Vocabulary, pool: list[str]) -> torch.Tensor:
    """The critic's logit for every pool row (NaN where the sample is invalid)."""
    graphs, rows = _graphs(pool, vocab)
    valid_logits = torch.cat(
        [
            critic(MolGraph(a, b).one_hot(vocab))[:, 0]
            for a, b in zip(graphs.atoms.split(4096), graphs.bonds.split(4096), strict=True)
        ]
    )
    logits = torch.full((len(pool),), float("nan"))
    logits[rows] = valid_logits
    return logits


def _novel(pool: list[str], train: str) -> torch.Tensor:
    """Which pool rows are valid molecules whose canonical SMILES is not in ``train``."""
    known = {canonical_smiles(s) for s in read_smiles(train)}
    return torch.tensor([bool(s) and canonical_smiles(s) not in known for s in pool])


def _stratified(
    logits: torch.Tensor, strata: torch.Tensor, beta: float, n: int, seed: int
) -> torch.Tensor:
    """:func:`_gumbel_top_k` within each stratum (``strata`` True / False), each stratum giving
    its share of the pool (the second takes what the first leaves of ``n``)."""
    first = round(n * int(strata.sum()) / len(strata))
    picked = []
    for stratum, share in ((strata, first), (~strata, n - first)):
        if share:
            rows = stratum.nonzero()[:, 0]
            picked.append(rows[_gumbel_top_k(logits[rows], beta, share, seed)])
    return torch.cat(picked).sort().values


def _gumbel_top_k(logits: torch.Tensor, beta: float, n: int, seed: int) -> torch.Tensor:
    """``n`` rows drawn without replacement with weights ``exp(beta * logit)``; rows without a
    logit (invalid samples) weigh the valid rows' mean weight."""
    log_weight = beta * logits.double()
    valid = ~torch.isnan(log_weight)
    mean_weight = torch.logsumexp(log_weight[valid], 0) - np.log(int(valid.sum()))
    log_weight[~valid] = mean_weight
    rng = torch.Generator().manual_seed(seed)
    uniform = torch.rand(len(log_weight), generator=rng, dtype=torch.float64)
    gumbel = -torch.log(-torch.log(uniform.clamp_min(1e-300)))
    weights = torch.softmax(log_weight, 0)
    print(f"ratio^{beta}: effective sample size {1 / weights.square().sum():.0f} of {len(logits)}")
    return (log_weight + gumbel).topk(n).indices.sort().values


def _row(
    args: argparse.Namespace, smiles: list[str], logits: torch.Tensor, name: str, pool_record: dict
) -> dict:
    """Write ``smiles`` with a sample record (the pool's, resized) and return ``molgan
    evaluate``'s metrics."""
    path = args.out / f"{name}.smi"
    write_smiles(path, smiles)
    write_sample_record(
        path,
        {
            **pool_record,
            "n_requested": len(smiles),
            "n_valid": sum(bool(s) for s in smiles),
            "n_written": len(smiles),
            "resampled": f"{args.pool}x pool, ratio^{name.removeprefix('beta-')}",
        },
    )
    report = path.with_suffix(".json")
    _run(["evaluate", str(path), "--train", args.train, "--test", args.test, "--json", str(report)])
    metrics = json.loads(report.read_text())
    metrics["mean_logit"] = float(logits[~torch.isnan(logits)].mean())
    return metrics


if __name__ == "__main__":
    main()
