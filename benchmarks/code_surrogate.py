"""Can a latent model's codes say what they decode to? A learned surrogate, and guidance by it.

Latent-space optimisation (Gomez-Bombarelli et al., ACS Cent. Sci. 4:268, 2018) fits a network
from codes to a property and climbs it. This script measures whether that can work on a latent
checkpoint: it draws ``-n`` of G's codes as the model samples them (through its transport),
decodes them as the model does (decoder, refiner passes, argmax) and labels each with strict
validity and RDKit's QED. An MLP with two heads (validity logit, QED) is fitted on 90 % of them;
on the other 10 % it prints the QED head's Pearson r (valid codes only) and the validity head's
AUC. Then, for each ``--guide`` weight w, it samples ``--draws`` fresh draws with the surrogate
added to the transport's critic, ``D(c) + w * qed_hat(c)`` (the same moves, steps and K as the
model's transport), and prints validity, the distinct share, mean QED and the surrogate's mean
prediction. w = 0 is the model as it samples.
Used in docs/results.md ("Levers that did not pay, and the MOSES protocol at 100 transport steps").

Usage: python benchmarks/code_surrogate.py checkpoints/moses-qed [-n 16384] [--draws 1024]
       [--guide 0 1 3 10] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from torch import nn

from molgan.graph import graphs_to_smiles
from molgan.model import MolGAN
from molgan.models.transport import CriticTransport
from molgan.rewards import molecule_properties


class Surrogate(nn.Module):
    """Codes ``[B, Z]`` to ``[B, 2]``: a validity logit, and the QED of the valid."""

    def __init__(self, latent_dim: int, hidden: int = 512) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 2),
        )

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.net(codes)


class Guided(nn.Module):
    """The transport's score with the surrogate's QED added: ``D(c) + weight * qed_hat(c)``."""

    def __init__(self, critic: nn.Module, surrogate: Surrogate, weight: float) -> None:
        super().__init__()
        self.critic, self.surrogate, self.weight = critic, surrogate, weight

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.critic(codes) + self.weight * self.surrogate(codes)[:, 1:]


def draws(
    model: MolGAN, transport: CriticTransport, n: int, rng: torch.Generator
) -> tuple[torch.Tensor, list[str | None]]:
    """``n`` of G's codes moved by ``transport``, and what they decode to as the model samples."""
    codes: list[torch.Tensor] = []
    smiles: list[str | None] = []
    for graphs, noise in model.sample_draws(n, rng, batch_size=1024, transport=transport):
        with torch.no_grad():
            codes.append(model.generator.codes(noise))
        smiles += graphs_to_smiles(graphs, model.vocab)
    return torch.cat(codes), smiles


def labels(smiles: list[str | None]) -> tuple[torch.Tensor, torch.Tensor]:
    """Strict validity (1/0) and QED (0 where invalid) of decoded SMILES."""
    valid = torch.tensor([s is not None for s in smiles], dtype=torch.float)
    qed = torch.zeros(len(smiles))
    values = molecule_properties([s for s in smiles if s is not None], ["qed"])["qed"]
    qed[valid > 0] = torch.tensor(values, dtype=torch.float)
    return valid, qed


def fit(codes: torch.Tensor, valid: torch.Tensor, qed: torch.Tensor, steps: int) -> Surrogate:
    """The surrogate, fitted by Adam (BCE on validity, MSE on the valid codes' QED)."""
    surrogate = Surrogate(codes.shape[1])
    optimizer = torch.optim.AdamW(surrogate.parameters(), 1e-3, weight_decay=1e-4)
    for _ in range(steps):
        rows = torch.randint(len(codes), (256,))
        out, ok = surrogate(codes[rows]), valid[rows] > 0
        loss = nn.functional.binary_cross_entropy_with_logits(out[:, 0], valid[rows])
        loss = loss + 10 * (out[ok, 1] - qed[rows][ok]).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return surrogate.eval().requires_grad_(False)


def held_out_fit(surrogate: Surrogate, codes, valid, qed) -> tuple[float, float]:
    """(Pearson r of the QED head on the valid codes, AUC of the validity head)."""
    with torch.no_grad():
        out = surrogate(codes)
    ok = valid > 0
    r = float(np.corrcoef(out[ok, 1].numpy(), qed[ok].numpy())[0, 1])
    positive, negative = out[ok, 0], out[~ok, 0]
    auc = (positive[:, None] > negative[None, :]).float().mean().item()
    return r, auc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("-n", type=int, default=16384, help="labelled draws")
    parser.add_argument("--draws", type=int, default=1024, help="draws per guidance weight")
    parser.add_argument("--guide", type=float, nargs="+", default=[0.0, 1.0, 3.0, 10.0])
    parser.add_argument("--fit-steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = MolGAN.load(args.checkpoint)
    transport = model.transport()
    if transport is None:
        raise SystemExit(f"{args.checkpoint}: samples without a transport; nothing to guide")
    rng = torch.Generator().manual_seed(args.seed)
    codes, smiles = draws(model, transport, args.n, rng)
    valid, qed = labels(smiles)
    order = torch.randperm(len(codes))
    cut = int(0.9 * len(codes))
    train, test = order[:cut], order[cut:]
    surrogate = fit(codes[train], valid[train], qed[train], args.fit_steps)
    r, auc = held_out_fit(surrogate, codes[test], valid[test], qed[test])
    print(
        f"{args.checkpoint}: {args.n} draws as it samples them (seed {args.seed}), "
        f"{valid.mean():.3f} valid, mean QED {qed[valid > 0].mean():.3f}"
    )
    print(f"held out ({len(test)}): QED head r = {r:.3f}, validity head AUC = {auc:.3f}\n")
    print("| guidance weight | valid | distinct | mean QED | surrogate's mean QED |")
    print("|---|---|---|---|---|")
    for weight in args.guide:
        guided = CriticTransport(Guided(model.critic, surrogate, weight), **transport.settings)
        draw = torch.Generator().manual_seed(args.seed + 1)
        moved, smiles = draws(model, guided, args.draws, draw)
        valid, qed = labels(smiles)
        distinct = len({s for s in smiles if s is not None}) / valid.sum().item()
        with torch.no_grad():
            predicted = surrogate(moved)[:, 1].mean().item()
        print(
            f"| {weight:g} | {valid.mean():.3f} | {distinct:.3f} | "
            f"{qed[valid > 0].mean():.3f} | {predicted:.3f} |"
        )


if __name__ == "__main__":
    main()
