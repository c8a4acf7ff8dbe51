"""How novel, and how far from QM9, a latent model's decoder is around and between training codes.

A latent model makes novel molecules by decoding codes that are not training codes. This script
measures what that costs in FCD with the model's own decoder (and refiner, as its samples are
decoded), whatever G does: it decodes ``-n`` codes of each kind below, writes them as SMILES
files with sample records, and scores each with ``molgan evaluate`` (novelty against all of QM9,
FCD against ``--test``). Rows:

- ``--noise S ...``: random training codes plus isotropic Gaussian noise of scale ``S``, put back
  on the code shell (a kernel density estimate of the codes);
- ``--neighbours K ...``: the midpoint of a random training code and one of its ``K`` nearest
  training codes, put back on the shell (interpolation along the data);
- ``--ratio-betas B ...``: G's own draws (through the checkpoint's transport), ``--pool`` times as
  many as needed, resampled without replacement with weights ``r(z)^B``, where ``r`` is the
  density ratio of training codes to G's codes estimated by a classifier (an MLP trained for
  ``--epochs`` on as many of G's codes as there are training codes, a tenth of both held out to
  print its accuracy after each epoch), with replacement: sampling-importance resampling, the
  correction that discriminator rejection sampling (Azadi et al., ICLR 2019) makes with a GAN's
  own discriminator. ``B = 0`` is G's draws as they are (up to repeats).

Each row draws from ``--seed`` afresh, so a row does not depend on the rows before it. Beside
each row: the median distance from a code to its nearest training code (for the noise
and midpoint rows the code they started from counts). Used in docs/results.md ("What the
decoder makes between codes").

Usage: python benchmarks/decoder_frontier.py checkpoints/qm9 --noise 0.5 0.7 0.9 \
       --neighbours 5 50 200 1000 --ratio-betas 0 1 [-n 10000] [--out runs/frontier]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from latent_ablation import checkpoint_encoder, decode, file_graphs, training_codes
from objectives import _run, metrics_table
from torch import nn

from molgan.checkpoint import load_checkpoint
from molgan.graph import MolGraph
from molgan.io import write_sample_record, write_smiles
from molgan.model import MolGAN
from molgan.models.autoencoder import place_codes
from molgan.sampling import draw_noise
from molgan.training.latent_family import encode_graphs

COLUMNS = ("validity", "uniqueness", "novelty", "fcd", "kl_score", "code_distance")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, nargs="*", default=[])
    parser.add_argument("--neighbours", type=int, nargs="*", default=[])
    parser.add_argument("--ratio-betas", type=float, nargs="*", default=[])
    parser.add_argument("--pool", type=int, default=20, help="draws of G per sample")
    parser.add_argument("--epochs", type=int, default=8, help="the ratio classifier's epochs")
    parser.add_argument("--train", default="data/qm9.csv.gz", help="novelty reference")
    parser.add_argument("--test", default="runs/headline/qm9_random10k.smi", help="FCD reference")
    parser.add_argument("--out", type=Path, default=Path("runs/frontier"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    frontier = Frontier(args.checkpoint, args.seed)
    rows: dict[str, dict] = {}
    for sigma in args.noise:
        codes = frontier.noisy(args.n, sigma)
        rows[f"training codes + noise {sigma}"] = frontier.row(codes, args, f"noise-{sigma}")
    for k in args.neighbours:
        codes = frontier.midpoints(args.n, k)
        rows[f"midpoint with one of {k} nearest"] = frontier.row(codes, args, f"neighbours-{k}")
    if args.ratio_betas:
        codes, log_ratio = frontier.ratio_pool(args.n * args.pool, args.epochs)
        for beta in args.ratio_betas:
            picked = frontier.resampled(codes, log_ratio, args.n, beta)
            rows[f"G resampled by ratio^{beta}"] = frontier.row(picked, args, f"ratio-{beta}")
    caption = (
        f"{args.checkpoint}: {args.n} codes a row (seed {args.seed}), decoded as its samples are; "
        f"novelty against {args.train}, FCD against {args.test}; code_distance: median distance "
        "to the nearest training code"
    )
    print(metrics_table(caption, rows, COLUMNS))


class Frontier:
    """A latent checkpoint's training codes, G and decoding, and the codes each row draws."""

    def __init__(self, checkpoint: Path, seed: int) -> None:
        loaded = load_checkpoint(checkpoint)
        self.vocab = loaded.vocab
        self.model = MolGAN.load(checkpoint)
        self.generator = self.model.generator.eval()
        if self.model.config.model.temperature > 0:
            raise SystemExit(
                f"{checkpoint}: decodes with temperature > 0; this script takes argmax"
            )
        self.codes, _ = training_codes(loaded)  # [M, Z]
        self._checkpoint = loaded
        self.seed = seed
        self.rng = torch.Generator()

    def noisy(self, n: int, sigma: float) -> torch.Tensor:
        """``n`` random training codes plus noise ``sigma``, on the code shell."""
        self.rng.manual_seed(self.seed)
        start = self.codes[torch.randint(len(self.codes), (n,), generator=self.rng)]
        noise = sigma * torch.randn(start.shape, generator=self.rng)
        return place_codes(start + noise, self.generator.variational)

    @torch.no_grad()
    def encoded(self, path: Path, n: int) -> torch.Tensor:
        """The codes of the first ``n`` molecules of ``path`` (e.g. held-out molecules), featurised
        as the checkpoint's training molecules were."""
        graphs = file_graphs(self._checkpoint, path)
        encoder = checkpoint_encoder(self._checkpoint)
        return encode_graphs(encoder, MolGraph(graphs.atoms[:n], graphs.bonds[:n]))

    def midpoints(self, n: int, k: int) -> torch.Tensor:
        """Midpoints of ``n`` random training codes and one of each one's ``k`` nearest codes."""
        self.rng.manual_seed(self.seed)
        picked = torch.randint(len(self.codes), (n,), generator=self.rng)
        nearest = []
        for chunk in picked.split(1000):
            distance = torch.cdist(self.codes[chunk], self.codes)  # [c, M]
            distance[torch.arange(len(chunk)), chunk] = float("inf")  # never the code itself
            nearest.append(distance.topk(k, largest=False).indices)
        other = torch.cat(nearest)[torch.arange(n), torch.randint(k, (n,), generator=self.rng)]
        start, end = self.codes[picked], self.codes[other]
        return place_codes((start + end) / 2, self.generator.variational)

    @torch.no_grad()
    def g_codes(self, n: int) -> torch.Tensor:
        """``n`` of G's codes, drawn (and moved by the transport) as its samples are."""
        scale, transport = self.model.config.model.noise_scale, self.model.transport()
        noise = draw_noise(self.generator, n, self.rng, 4096, scale, transport=transport)
        return torch.cat([self.generator.codes(chunk) for chunk in noise])

    def ratio_pool(self, n: int, epochs: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` of G's codes and their estimated ``log p_data / p_G`` (a classifier's logit)."""
        self.rng.manual_seed(self.seed)
        fake = self.g_codes(len(self.codes))
        mean, std = self.codes.mean(0), self.codes.std(0)
        with torch.random.fork_rng():  # the classifier's initial weights, without global effects
            torch.manual_seed(self.seed)
            classifier = nn.Sequential(
                nn.Linear(self.codes.shape[1], 256),
                nn.SiLU(),
                nn.Linear(256, 256),
                nn.SiLU(),
                nn.Linear(256, 1),
            )
        inputs = (torch.cat([self.codes, fake]) - mean) / std
        labels = torch.cat([torch.ones(len(self.codes)), torch.zeros(len(fake))])
        order = torch.randperm(len(inputs), generator=self.rng)
        held_out, fit = order[: len(order) // 10], order[len(order) // 10 :]
        optimizer = torch.optim.Adam(classifier.parameters(), lr=1e-3)
        loss_fn = nn.BCEWithLogitsLoss()
        for epoch in range(epochs):
            for batch in fit[torch.randperm(len(fit), generator=self.rng)].split(512):
                loss = loss_fn(classifier(inputs[batch])[:, 0], labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                guess = classifier(inputs[held_out])[:, 0] > 0
                accuracy = (guess.float() == labels[held_out]).float().mean()
            print(f"ratio classifier, epoch {epoch + 1}: held-out accuracy {accuracy:.3f}")
        with torch.no_grad():
            pool = self.g_codes(n)
            return pool, classifier((pool - mean) / std)[:, 0]

    def resampled(
        self, codes: torch.Tensor, log_ratio: torch.Tensor, n: int, beta: float
    ) -> torch.Tensor:
        """``n`` of ``codes`` drawn with replacement with weights ``exp(beta * log_ratio)``
        (sampling-importance resampling); prints the weights' effective sample size."""
        self.rng.manual_seed(self.seed)
        weights = torch.softmax(beta * log_ratio.double(), 0)
        print(
            f"ratio^{beta}: effective sample size {1 / weights.square().sum():.0f} of {len(codes)}"
        )
        return codes[torch.multinomial(weights, n, replacement=True, generator=self.rng)]

    @torch.no_grad()
    def row(self, codes: torch.Tensor, args: argparse.Namespace, name: str) -> dict:
        """Decode ``codes`` (argmax), write them to ``OUT/NAME.smi``, and return ``molgan
        evaluate``'s metrics with the codes' median distance to the nearest training code."""
        smiles = decode(self.generator.decode, codes, self.vocab)
        path = args.out / f"{name}.smi"
        write_smiles(path, [s or "" for s in smiles])
        valid = sum(s is not None for s in smiles)
        write_sample_record(
            path,
            {
                "format": "molgan.samples/1",
                "n_requested": len(smiles),
                "n_valid": valid,
                "n_written": len(smiles),
                "keep_invalid": True,
                "seed": args.seed,
                "codes": name,
                **self.model._sampling_record(),
            },
        )
        report = path.with_suffix(".json")
        _run(
            [
                "evaluate",
                str(path),
                "--train",
                args.train,
                "--test",
                args.test,
                "--json",
                str(report),
            ]
        )
        metrics = json.loads(report.read_text())
        metrics["code_distance"] = self.code_distance(codes)
        return metrics

    @torch.no_grad()
    def code_distance(self, codes: torch.Tensor) -> float:
        """The median distance from ``codes`` to their nearest training code."""
        nearest = [torch.cdist(chunk, self.codes).min(1).values for chunk in codes.split(1000)]
        return torch.cat(nearest).median().item()


if __name__ == "__main__":
    main()
