"""Decode generated graphs to canonical SMILES on all cores, in order, with bounded memory.

The generator runs in the calling process (on its device, in chunks); each chunk's class ids go
to worker processes as NumPy arrays, which decode them with RDKit (:func:`molgan.graph.
decode_arrays`, torch-free) and return strict canonical SMILES (and, if asked, MDL mol blocks for
an SD file). Results come back in submission order, so the output depends on the seed only, never
on the number of workers; at most ``2 * jobs`` chunks are in flight, so memory does not grow
with the number of samples.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator

import numpy as np
from rdkit import Chem

from molgan.chem import quiet_rdkit, strict_smiles
from molgan.graph import MolGraph, decode_arrays
from molgan.vocab import Vocabulary

__all__ = ["DECODE_CHUNK", "decode_stream"]

DECODE_CHUNK = 1024
"""Graphs per worker task: large enough to amortise the transfer, small enough to balance."""

Decoded = tuple[str | None, str | None]
"""One sample: its strict canonical SMILES (``None``: invalid) and its mol block (or ``None``)."""


def decode_stream(
    chunks: Iterable[MolGraph], vocab: Vocabulary, jobs: int = 1, molblocks: bool = False
) -> Iterator[list[Decoded]]:
    """Decode each chunk of graphs, in order, with ``jobs`` worker processes.

    Args:
        chunks: Graphs as class ids (``atoms [b, N]``, ``bonds [b, N, N]``), e.g. from
            :meth:`molgan.model.MolGAN.sample_graphs`; consumed lazily.
        vocab: The vocabulary of the ids.
        jobs: Worker processes; 1 decodes in this process.
        molblocks: Also return each valid molecule's mol block (for an SD file).

    Yields:
        Per chunk (split into pieces of at most :data:`DECODE_CHUNK`), one ``(smiles, molblock)``
        per graph, in the order the graphs came.
    """
    pieces = (
        (piece.atoms.numpy(), piece.bonds.numpy(), vocab, molblocks)
        for chunk in chunks
        for piece in _split(chunk)
    )
    if jobs <= 1:
        yield from map(_decode_piece, pieces)
        return
    # fork: workers inherit RDKit and the vocabulary; they never touch torch (decode_arrays is
    # NumPy and RDKit only), so torch's threads in this process are safe to fork from.
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        pending: deque = deque()
        for piece in pieces:
            pending.append(pool.apply_async(_decode_piece, (piece,)))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _split(chunk: MolGraph) -> Iterator[MolGraph]:
    atoms, bonds = chunk.atoms.detach().cpu(), chunk.bonds.detach().cpu()
    for start in range(0, len(atoms), DECODE_CHUNK):
        yield MolGraph(atoms[start : start + DECODE_CHUNK], bonds[start : start + DECODE_CHUNK])


def _decode_piece(task: tuple[np.ndarray, np.ndarray, Vocabulary, bool]) -> list[Decoded]:
    """Worker: strict canonical SMILES (and mol blocks) of one piece of graphs."""
    atoms, bonds, vocab, molblocks = task
    out: list[Decoded] = []
    with quiet_rdkit():
        for mol in decode_arrays(atoms, bonds, vocab):
            smiles = strict_smiles(mol)
            block = Chem.MolToMolBlock(mol) if molblocks and smiles is not None else None
            out.append((smiles, block))
    return out
