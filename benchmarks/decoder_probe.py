"""Fine-tune a latent model's decoder alone on a term off the training codes, and measure it.

The encoder and G stay frozen, so the codes G draws are the ones the decoder was tuned for; only
what they decode to changes. Each step is the autoencoder's loss on a batch of training codes
plus noise, and, on a second batch of codes (interpolants of random pairs of training codes,
slerp-like: renormalised; or G's codes; or half of each), the terms asked for:

- ``--penalty W``: the structure penalty (valence excess, disconnection, net charge;
  :func:`molgan.losses.structure_penalty`) of the straight-through argmax decode;
- ``--nearest-end W``: the cross-entropy to whichever end of the pair the decode is closer to;
- ``--keep W``: the KL divergence to the decoder it started from (change only what is broken);
- ``--valence-target W``: :func:`molgan.models.autoencoder.valence_target_loss`.

Every ``--eval-every`` steps it prints exact reconstruction of 2,000 test molecules, the strict
validity of decoded midpoints of random test pairs and of pairs of aromatic test molecules (and
the share of those that stay aromatic), and the validity, uniqueness and aromatic share of 2,000
draws of each ``--generators`` checkpoint's G through the tuned decoder.

Usage: python benchmarks/decoder_probe.py CHECKPOINT --generators GAN [GAN ...] --penalty 1
       [--codes midpoints|generator|both] [--steps 1500]
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch
import torch.nn.functional as F

from molgan.checkpoint import load_checkpoint
from molgan.chem import quiet_rdkit
from molgan.conditions import label_molecules
from molgan.data import MoleculeDataset
from molgan.graph import DenseGraph, MolGraph, graphs_to_mols, graphs_to_smiles
from molgan.losses import structure_penalty
from molgan.model import load_training_graphs
from molgan.models import GraphEncoder, build_generator
from molgan.models.autoencoder import normalize_codes, valence_target_loss
from molgan.sampling import ValenceMask, logits_to_graph
from molgan.training.graph_game import max_valence
from molgan.training.latent_family import encode_graphs

TEST = "data/splits/qm9_test.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a latent-family checkpoint (its decoder)")
    parser.add_argument("--generators", type=Path, nargs="+", required=True)
    parser.add_argument("--codes", choices=["midpoints", "generator", "both"], default="midpoints")
    parser.add_argument("--penalty", type=float, default=0.0)
    parser.add_argument("--nearest-end", type=float, default=0.0)
    parser.add_argument("--keep", type=float, default=0.0)
    parser.add_argument("--valence-target", type=float, default=0.0)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--eval-every", type=int, default=500)
    args = parser.parse_args()
    if args.nearest_end and args.codes != "midpoints":
        parser.error("--nearest-end needs --codes midpoints (the pairs' ends are its targets)")
    rng = torch.Generator().manual_seed(0)
    checkpoint = load_checkpoint(args.checkpoint)
    config, vocab = checkpoint.config, checkpoint.vocab
    encoder = GraphEncoder.from_config(config.model, vocab).eval().requires_grad_(False)
    encoder.load_state_dict(checkpoint.weights["encoder"])
    decoder = _generator(args.checkpoint).decoder
    generators = {path.name: _generator(path).requires_grad_(False) for path in args.generators}
    _, train = load_training_graphs(config, progress=False)
    test = MoleculeDataset(TEST, vocab, progress=False, atom_order=config.data.atom_order).graphs
    with torch.no_grad():
        codes, test_codes = encode_graphs(encoder, train), encode_graphs(encoder, test)
    with quiet_rdkit():
        aromatic = torch.as_tensor(label_molecules(graphs_to_mols(test, vocab), ["aromatic_ring"]))
    probe = Probe(decoder, vocab, test, test_codes, aromatic[:, 0] == 1, generators)
    probe.report("before")
    start = copy.deepcopy(decoder).eval().requires_grad_(False)
    caps, orders = max_valence(train, vocab), torch.tensor(vocab.bond_orders)
    charges = torch.tensor(vocab.atom_charges, dtype=torch.float32)
    mask = ValenceMask(vocab) if args.valence_target else None
    optimizer = torch.optim.AdamW(decoder.parameters(), lr=args.lr)
    size, noise = args.batch_size, config.autoencoder.latent_noise
    for step in range(1, args.steps + 1):
        decoder.train()
        idx = torch.randint(len(codes), (size,), generator=rng)
        target = MolGraph(train.atoms[idx].long(), train.bonds[idx].long())
        logits = decoder(codes[idx] + noise * torch.randn(codes[idx].shape, generator=rng))
        loss = _cross_entropy(logits, target).mean()
        other = torch.randint(len(codes), (size,), generator=rng)
        t = torch.rand(size, 1, generator=rng)
        between = normalize_codes((1 - t) * codes[idx] + t * codes[other])
        if args.codes != "midpoints":
            g = next(iter(generators.values()))
            drawn = g.codes(g.sample_z(size, rng))
            between = drawn if args.codes == "generator" else torch.cat([between, drawn])[::2]
        logits = decoder(between)
        if args.penalty:
            graph = _straight_through(logits)
            loss = loss + args.penalty * structure_penalty(graph, caps, orders, charges).mean()
        if args.nearest_end:
            ends = MolGraph(train.atoms[other].long(), train.bonds[other].long())
            both = torch.stack([_cross_entropy(logits, target), _cross_entropy(logits, ends)])
            loss = loss + args.nearest_end * both.min(0).values.mean()
        if args.keep:
            loss = loss + args.keep * _kl(start(between), logits)
        if mask is not None:
            loss = loss + args.valence_target * valence_target_loss(logits, mask)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(decoder.parameters(), 1.0)
        optimizer.step()
        if step % args.eval_every == 0:
            probe.report(f"step {step}")


class Probe:
    """The measurements of the module docstring, on fixed draws."""

    def __init__(self, decoder, vocab, test, test_codes, aromatic, generators, n: int = 2000):
        rng = torch.Generator().manual_seed(1)
        self.decoder, self.vocab, self.n = decoder, vocab, n
        self.test = MolGraph(test.atoms[:n].long(), test.bonds[:n].long())
        self.test_codes = test_codes[:n]
        pairs = torch.randint(len(test_codes), (2, n), generator=rng)
        self.midpoints = normalize_codes(test_codes[pairs[0]] + test_codes[pairs[1]])
        members = torch.nonzero(aromatic)[:, 0]
        pairs = members[torch.randint(len(members), (2, n), generator=rng)]
        self.aromatic_midpoints = normalize_codes(test_codes[pairs[0]] + test_codes[pairs[1]])
        with torch.no_grad():
            self.drawn = {k: g.codes(g.sample_z(n, rng)) for k, g in generators.items()}

    @torch.no_grad()
    def report(self, tag: str) -> None:
        self.decoder.eval()
        decoded = logits_to_graph(self.decoder(self.test_codes))
        same = (decoded.atoms == self.test.atoms).all(-1) & (
            decoded.bonds == self.test.bonds
        ).flatten(1).all(-1)
        exact = same.float().mean()
        line = [f"{tag}: test exact {exact:.4f}"]
        valid, _, _ = self._decode(self.midpoints)
        line.append(f"midpoints valid {valid:.4f}")
        valid, _, kept = self._decode(self.aromatic_midpoints)
        line.append(f"aromatic midpoints valid {valid:.4f} aromatic {kept:.4f}")
        for name, codes in self.drawn.items():
            valid, unique, aromatic = self._decode(codes)
            line.append(f"{name}: valid {valid:.4f} unique {unique:.4f} aromatic {aromatic:.4f}")
        print(" | ".join(line), flush=True)

    def _decode(self, codes: torch.Tensor) -> tuple[float, float, float]:
        """Strict validity, uniqueness among valid, and the aromatic share of valid decodes."""
        graph = logits_to_graph(self.decoder(codes))
        graphs = MolGraph(graph.atoms, graph.bonds)
        smiles = graphs_to_smiles(graphs, self.vocab)
        with quiet_rdkit():
            mols = [m for m, s in zip(graphs_to_mols(graphs, self.vocab), smiles) if s]
        valid = [s for s in smiles if s]
        aromatic = label_molecules(mols, ["aromatic_ring"])[:, 0].mean() if mols else 0.0
        return len(valid) / len(smiles), len(set(valid)) / max(1, len(valid)), float(aromatic)


def _generator(path: Path) -> torch.nn.Module:
    checkpoint = load_checkpoint(path)
    generator = build_generator(checkpoint.config.model, checkpoint.vocab).eval()
    generator.load_state_dict(
        checkpoint.weights.get("generator_ema", checkpoint.weights["generator"])
    )
    return generator


def _cross_entropy(logits: DenseGraph, target: MolGraph) -> torch.Tensor:
    """Per-graph mean cross-entropy of atoms plus that of the pairs ``i < j``, ``[B]``."""
    n = logits.bonds.shape[1]
    i, j = torch.triu_indices(n, n, offset=1)
    atoms = F.cross_entropy(logits.atoms.transpose(1, 2), target.atoms, reduction="none")
    bonds = F.cross_entropy(
        logits.bonds[:, i, j].transpose(1, 2), target.bonds[:, i, j], reduction="none"
    )
    return atoms.mean(1) + bonds.mean(1)


def _kl(reference: DenseGraph, logits: DenseGraph) -> torch.Tensor:
    """Mean per-slot KL(reference || logits) over atoms and pairs ``i < j``."""
    n = logits.bonds.shape[1]
    i, j = torch.triu_indices(n, n, offset=1)
    total = 0.0
    for ref, new in (
        (reference.atoms, logits.atoms),
        (reference.bonds[:, i, j], logits.bonds[:, i, j]),
    ):
        total = (
            total
            + F.kl_div(new.log_softmax(-1), ref.log_softmax(-1), log_target=True, reduction="none")
            .sum(-1)
            .mean()
        )
    return total


def _straight_through(logits: DenseGraph) -> DenseGraph:
    """One-hot argmax graph in the forward pass, softmax gradient (bonds mirrored)."""
    graph = logits_to_graph(logits)
    n_atoms, n_bonds = logits.atoms.shape[-1], logits.bonds.shape[-1]
    soft_atoms, soft_bonds = logits.atoms.softmax(-1), logits.bonds.softmax(-1)
    soft_bonds = (soft_bonds + soft_bonds.transpose(1, 2)) / 2
    atoms = F.one_hot(graph.atoms, n_atoms).float() + soft_atoms - soft_atoms.detach()
    bonds = F.one_hot(graph.bonds, n_bonds).float() + soft_bonds - soft_bonds.detach()
    return DenseGraph(atoms, bonds)


if __name__ == "__main__":
    main()
