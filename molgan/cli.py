"""The ``molgan`` command line: parse arguments and delegate to the Python API.

Every command here is a thin wrapper around a public function, so anything done from the shell
can be done from Python too. Errors in the user's input end in a one-line message naming the file
(and line) and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from molgan import __version__

__all__ = ["main"]

_EXIT_USAGE = 2
_THREADS_HELP = (
    "torch threads (default: OMP_NUM_THREADS if set, else the cores not already busy, "
    "measured in docs/benchmarks.md)"
)
OWN_DATA_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "own-data.toml"
"""The recipe ``molgan train --data FILE`` uses when no ``--config`` is given."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``molgan`` command line; returns the process exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return _EXIT_USAGE
    try:
        return args.handler(args) or 0
    # ValueError covers molgan's own errors (InputFileError, EncodingError, CheckpointError, ...);
    # they are not imported here, so that a bad input fails before torch is imported.
    except (ValueError, OSError) as err:
        print(f"molgan: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except KeyError as err:  # an unknown registry name; the message lists the valid ones
        print(f"molgan: error: {_one_line(err.args[0] if err.args else err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("molgan: interrupted", file=sys.stderr)
        return 130


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="molgan", description="Graph GANs for drug-like molecules, with strict metrics."
    )
    parser.add_argument("--version", action="version", version=f"molgan {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    evaluate = commands.add_parser(
        "evaluate",
        help="strict metrics of a file of generated SMILES",
        description="Strict validity, uniqueness, novelty, FCD, IntDiv, SNN, Frag, Scaf, "
        "property means. Every line of GENERATED is a sample (an empty line is an invalid one).",
    )
    evaluate.add_argument("generated", type=Path, help=".smi/.txt (one SMILES per line) or CSV")
    evaluate.add_argument(
        "--train",
        type=Path,
        default=None,
        help="novelty reference (default: all of data/qm9.csv.gz)",
    )
    evaluate.add_argument(
        "--test",
        type=Path,
        default=None,
        help="FCD/SNN/Frag/Scaf reference (default: the QM9 test split)",
    )
    evaluate.add_argument(
        "--test-sf",
        type=Path,
        default=None,
        help="a second reference, e.g. MOSES's scaffold test set: adds FCD/SNN/Frag/Scaf vs it",
    )
    evaluate.add_argument("--json", type=Path, default=None, help="also write the metrics here")
    evaluate.add_argument("--jobs", type=int, default=None, help="worker processes")
    evaluate.set_defaults(handler=_evaluate)

    train = commands.add_parser(
        "train",
        help="train a model from a TOML config",
        description="Train the model family that [model] kind names (molgan or latent).",
    )
    train.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML file (default: MolGAN's on QM9; with --data: configs/own-data.toml)",
    )
    train.add_argument(
        "--data",
        type=Path,
        default=None,
        help="train on this SMILES/CSV file: sets [data] path, derives the vocabulary and N "
        "from it, and without --config uses the recipe for your own molecules",
    )
    train.add_argument(
        "--steps",
        type=int,
        default=None,
        help="override [train] steps (the latent family: GAN steps)",
    )
    train.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    train.add_argument("--threads", type=int, default=None, help=_THREADS_HELP)
    train.add_argument("--out", type=Path, default=Path("runs/train"), help="output folder")
    train.add_argument("--resume", action="store_true", help="continue OUT/checkpoint exactly")
    train.set_defaults(handler=_train)

    sample = commands.add_parser(
        "sample",
        help="draw molecules from a trained model",
        description="Draw N samples and stream them to OUT in chunks. By default only strictly "
        "valid molecules are written; with --keep-invalid exactly N lines are written, an "
        "invalid sample as an empty line, so the file can be evaluated as drawn.",
    )
    sample.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="checkpoint folder, or a shipped model's name "
        "(qm9, qm9-rl, qm9-molgan, qm9-qed, moses, moses-qed; default qm9)",
    )
    sample.add_argument("-n", type=int, default=10_000, help="samples to draw (default 10000)")
    sample.add_argument("-o", "--out", type=Path, required=True, help="output .smi file")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sample.add_argument("--sdf", type=Path, default=None, help="also write valid molecules here")
    sample.add_argument("--keep-invalid", action="store_true", help="an empty line per invalid")
    sample.add_argument(
        "--condition",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fix a condition of a model trained with [model] conditions, e.g. heavy_atoms=7 "
        "(repeatable; the others follow the training data given it)",
    )
    sample.add_argument(
        "--valence-mask",
        action="store_true",
        help="decode each bond as the likeliest class both atoms' valence allows (a correction: "
        "its numbers are not strict ones, and the sample record says so)",
    )
    sample.add_argument("--device", default="cpu", help="cpu or cuda")
    sample.add_argument("--threads", type=int, default=None, help=_THREADS_HELP)
    sample.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="processes decoding with RDKit (default: all cores, shared among torchrun ranks); "
        "the output is the same for any number",
    )
    sample.add_argument(
        "--merge",
        action="store_true",
        help="join the shards OUT.rankR-of-K.smi that a torchrun launch wrote into OUT",
    )
    sample.set_defaults(handler=_sample)

    demo = commands.add_parser(
        "demo", help="sample the shipped model, evaluate, draw a molecule grid"
    )
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder")
    demo.add_argument("-n", type=int, default=5000, help="samples (default 5000)")
    demo.add_argument("--train", action="store_true", help="first train a short run from scratch")
    demo.add_argument("--steps", type=int, default=300, help="steps of the --train run")
    demo.set_defaults(handler=_demo)

    export = commands.add_parser(
        "export",
        help="copy a run's checkpoint without optimiser state, to ship or fine-tune",
        description="Write the networks' weights (generator and critics, and the latent "
        "family's encoder), config, vocabulary and training history of RUN (a checkpoint "
        "folder or a training folder) to OUT.",
    )
    export.add_argument("run", type=Path, help="a checkpoint folder, or a training --out folder")
    export.add_argument("out", type=Path, help="the new checkpoint folder (replaced if it exists)")
    export.add_argument(
        "--noise-scale", type=float, default=None, help="set the copy's [model] noise_scale"
    )
    export.add_argument(
        "--temperature", type=float, default=None, help="set the copy's [model] temperature"
    )
    export.add_argument(
        "--transport-steps",
        type=int,
        default=None,
        help="set the copy's [model] transport_steps (latent family: move each draw of G's "
        "noise up the latent critic before G maps it; 0 = off)",
    )
    export.add_argument(
        "--transport-lipschitz",
        type=float,
        default=None,
        help="set the copy's [model] transport_lipschitz (K of D o G; smaller moves farther)",
    )
    export.add_argument(
        "--refiner-passes",
        type=int,
        default=None,
        help="set the copy's [model] refiner_passes (latent family with a refiner: how many "
        "times it corrects the decoded graph)",
    )
    export.set_defaults(handler=_export)

    filters = commands.add_parser(
        "filter",
        help="keep molecules that pass Lipinski / PAINS / Brenk",
        description="Run medicinal-chemistry filters on a SMILES file, print how many molecules "
        "each filter rejects, and write the canonical SMILES that pass them all.",
    )
    filters.add_argument("input", type=Path, help=".smi/.txt or CSV file")
    filters.add_argument("-o", "--out", type=Path, required=True, help="output .smi file")
    filters.add_argument(
        "--filters",
        default="lipinski,pains,brenk",
        help="comma-separated names (lipinski, pains, brenk, moses; default: lipinski,pains,brenk) "
        "and thresholds on a raw "
        "property (qed, sa, logp, np, mol_weight), e.g. 'lipinski,qed>=0.6,sa<=4' (quote it)",
    )
    filters.add_argument(
        "--dedupe", action="store_true", help="write each passing molecule once (first position)"
    )
    filters.add_argument("--sdf", type=Path, default=None, help="also write the kept molecules")
    filters.add_argument("--json", type=Path, default=None, help="also write the counts here")
    filters.set_defaults(handler=_filter)

    score = commands.add_parser(
        "score",
        help="mean normalised rewards (QED, SA, logP, ...) of a SMILES file",
        description="Score every strictly valid molecule of INPUT with molgan's rewards, "
        "normalised to [0, 1] as in MolGAN, and print each reward's mean over the valid ones.",
    )
    score.add_argument("input", type=Path, help=".smi/.txt or CSV file")
    score.add_argument(
        "--rewards", default="qed,sa,logp,np", help="comma-separated (default: qed,sa,logp,np)"
    )
    score.add_argument("--json", type=Path, default=None, help="also write the means here")
    score.set_defaults(handler=_score)

    data = commands.add_parser("data", help="inspect and split datasets")
    data_commands = data.add_subparsers(title="data commands", metavar="COMMAND")
    stats = data_commands.add_parser(
        "stats", help="how many rows parse, encode and round-trip exactly, and why others fail"
    )
    stats.add_argument("input", type=Path, help="SMILES or CSV file")
    stats.add_argument(
        "--vocab",
        choices=("qm9", "data"),
        default="qm9",
        help="encode in the QM9 vocabulary (default) or one derived from INPUT",
    )
    stats.add_argument("--max-atoms", type=int, default=None, help="with --vocab data: N")
    stats.add_argument(
        "--strip-stereo",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="drop stereo marks first, as [data] transforms does by default (default: on)",
    )
    stats.add_argument(
        "--largest-fragment",
        action="store_true",
        help="keep only the largest fragment of salts and mixtures (default: off)",
    )
    stats.add_argument("--json", type=Path, default=None, help="also write the report here")
    stats.set_defaults(handler=_data_stats)
    split = data_commands.add_parser("split", help="write the seeded 80/10/10 split files")
    split.add_argument("input", type=Path, help="SMILES or CSV file")
    split.add_argument("--out", type=Path, required=True, help="output folder")
    split.set_defaults(handler=_data_split)
    data.set_defaults(handler=lambda _args: data.print_help() or _EXIT_USAGE)
    return parser


def _evaluate(args: argparse.Namespace) -> int:
    from molgan.io import InputFileError, read_sample_record, read_smiles, sample_record_path

    record = read_sample_record(args.generated)
    # With no valid sample, molgan sample writes an empty file (or only empty lines, with
    # --keep-invalid), which the reader rejects as empty; its record says what it holds.
    if record is not None and record["n_valid"] == 0:
        generated = [""] * record["n_written"]
    else:
        generated = read_smiles(args.generated)
    if record is not None and record["n_written"] != len(generated):
        raise InputFileError(
            f"{args.generated}: {len(generated)} lines, but {sample_record_path(args.generated)} "
            f"says molgan sample wrote {record['n_written']}; the file changed since"
        )
    if args.train is None or args.test is None:  # the QM9 defaults (molgan.data imports PyG)
        from molgan.data import QM9_PATH, QM9_SPLITS
    from molgan.metrics import evaluate  # heavy imports after the input is known good

    train = read_smiles(args.train or QM9_PATH)
    reference = read_smiles(args.test or QM9_SPLITS["test"])
    scaffold_reference = read_smiles(args.test_sf) if args.test_sf else None
    metrics = evaluate(
        generated,
        train=train,
        reference=reference,
        scaffold_reference=scaffold_reference,
        n_jobs=args.jobs,
    )
    if record is not None and not record["keep_invalid"]:
        # The file holds the valid samples only; its record has the true denominator.
        metrics["n_samples"] = record["n_requested"]
        metrics["validity"] = metrics["n_valid"] / max(record["n_requested"], 1)
        print(f"validity over the {record['n_requested']} samples drawn (from its sample record)")
    elif record is None and metrics["n_samples"] and metrics["n_valid"] == metrics["n_samples"]:
        print(
            f"WARNING: every line of {args.generated} is valid and it has no sample record "
            f"({sample_record_path(args.generated).name}), so validity cannot be measured: if "
            "invalid samples were left out, 1.0 means nothing. Write samples with molgan sample "
            "(which records them), or keep invalid ones as empty lines (--keep-invalid).",
            file=sys.stderr,
        )
    if record is not None and record.get("valence_mask"):
        metrics["valence_mask"] = 1
        print(
            f"{args.generated} was decoded through the valence mask (a correction): report its "
            "numbers apart from strict ones"
        )
    print(_format_metrics(metrics, title=f"molgan evaluate {args.generated}"))
    if args.json:
        _write_json(args.json, metrics)
    return 0


def _train(args: argparse.Namespace) -> int:
    from molgan.config import Config, load_config
    from molgan.distributed import init_world
    from molgan.model import MolGAN
    from molgan.threads import set_threads
    from molgan.training import NonFiniteLossError

    set_threads(args.threads)
    if args.config:
        config = load_config(args.config)
    else:
        config = load_config(OWN_DATA_CONFIG) if args.data else Config()
    if args.data:
        data = {"path": str(args.data), "vocabulary": "data", "max_atoms": None, "limit": None}
        config = config.replace(data=data)
    if args.steps is not None:
        config = config.replace(train={"steps": args.steps})
    world, device = init_world(args.device)  # one rank of a torchrun launch, or a lone process
    try:
        MolGAN.train(config, args.out, device=device, resume=args.resume, world=world)
    except NonFiniteLossError as err:
        print(f"molgan: training stopped: {err}", file=sys.stderr)
        return 1
    if world.is_main:
        ranks = f" ({world.size} processes)" if world.distributed else ""
        print(f"checkpoint: {args.out / 'checkpoint'}  log: {args.out / 'log.csv'}{ranks}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from molgan.conditions import condition_specs
    from molgan.distributed import init_world
    from molgan.io import merge_sample_shards, shard_path
    from molgan.model import MolGAN
    from molgan.threads import available_cores, set_threads

    if args.merge:
        record = merge_sample_shards(args.out, args.sdf)
        print(
            f"merged {record['shards']} shards into {args.out}: {record['n_written']} lines "
            f"({record['n_valid']} of {record['n_requested']} valid)"
        )
        return 0
    if args.n < 1:
        raise ValueError(f"-n must be positive, got {args.n}")
    world, device = init_world(args.device)  # under torchrun: one shard per rank
    jobs = args.jobs if args.jobs is not None else max(1, available_cores() // world.size)
    if jobs < 1:
        raise ValueError(f"--jobs must be positive, got {jobs}")
    set_threads(args.threads)
    out, sdf, n, seed, record = args.out, args.sdf, args.n, args.seed, None
    if world.distributed:
        out = shard_path(args.out, world.rank, world.size)
        sdf = shard_path(args.sdf, world.rank, world.size) if args.sdf else None
        n, seed = world.share(args.n), world.rank_seed(args.seed)
        record = {"rank": world.rank, "world_size": world.size, "base_seed": args.seed}
    model = MolGAN.load(args.checkpoint, device=device)
    condition = condition_specs(args.condition)
    counts = model.write_samples(
        n,
        out,
        seed=seed,
        keep_invalid=args.keep_invalid,
        sdf=sdf,
        jobs=jobs,
        progress=world.is_main,
        record=record,
        condition=condition,
        valence_mask=args.valence_mask,
    )
    print(f"wrote {counts['written']} lines to {out} ({counts['valid']} of {n} valid)")
    world.barrier()
    if world.distributed and world.is_main:
        print(f"join the {world.size} shards with: molgan sample --merge -o {args.out}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from molgan.demo import run_demo

    run_demo(args.out, n=args.n, train_steps=args.steps if args.train else 0)
    return 0


def _export(args: argparse.Namespace) -> int:
    from molgan.checkpoint import export_checkpoint

    sampling = {
        "noise_scale": args.noise_scale,
        "temperature": args.temperature,
        "transport_steps": args.transport_steps,
        "transport_lipschitz": args.transport_lipschitz,
        "refiner_passes": args.refiner_passes,
    }
    sampling = {k: v for k, v in sampling.items() if v is not None}
    print(f"wrote {export_checkpoint(args.run, args.out, sampling=sampling)}")
    return 0


def _filter(args: argparse.Namespace) -> int:
    from molgan.io import read_smiles, write_smiles

    smiles = read_smiles(args.input)  # a bad file fails before RDKit is imported
    from molgan.chem import write_sdf
    from molgan.filters import filter_smiles

    report = filter_smiles(smiles, _names(args.filters), progress=True)
    counts = report.counts()
    print(_format_metrics(counts, title=f"molgan filter {args.input}"))
    kept = report.kept_unique if args.dedupe else report.kept
    write_smiles(args.out, kept)
    repeats = f", {len(report.kept) - len(kept)} repeats left out" if args.dedupe else ""
    print(f"wrote {len(kept)} molecules to {args.out}{repeats}")
    if args.sdf:
        write_sdf(args.sdf, kept)
        print(f"wrote {args.sdf}")
    if args.json:
        _write_json(args.json, counts)
    return 0


def _score(args: argparse.Namespace) -> int:
    from molgan.io import read_smiles

    smiles = read_smiles(args.input)  # a bad file fails before RDKit is imported
    from molgan.rewards import mean_rewards

    means = mean_rewards(smiles, _names(args.rewards))
    print(_format_metrics(means, title=f"molgan score {args.input}"))
    if args.json:
        _write_json(args.json, means)
    return 0


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError(f"no names given in {text!r}")
    return names


def _data_stats(args: argparse.Namespace) -> int:
    from molgan.io import read_smiles_lines

    entries = read_smiles_lines(args.input)  # a bad file fails here, before torch is imported
    from molgan.data import data_stats
    from molgan.vocab import Vocabulary

    vocab = None if args.vocab == "data" else Vocabulary.qm9()
    transforms = ["strip_stereo"] * args.strip_stereo + ["largest_fragment"] * args.largest_fragment
    report = data_stats(
        args.input, vocab, max_atoms=args.max_atoms, transforms=transforms, entries=entries
    )
    print(
        f"{args.input}: {report['round_trip_ok']} of {report['rows']} rows usable "
        f"({report['kept_rate']:.2%})"
    )
    for key in ("parsed", "encodable", "round_trip_ok"):
        print(f"  {key:<14} {report[key]:>9}")
    rate = report["round_trip_rate"]
    print(f"  {'round-trip rate':<14} {'n/a' if rate is None else f'{rate:.4%}':>9} of encodable")
    for name, count in report["changed"].items():
        print(f"  changed by {name}: {count}")
    for reason, info in report["skipped"].items():
        shown = ", ".join(f"line {e['line']}: {e['smiles']!r}" for e in info["examples"])
        print(f"  skipped {reason}: {info['count']} (e.g. {shown})")
    if args.json:
        _write_json(args.json, report)
    return 0


def _data_split(args: argparse.Namespace) -> int:
    from molgan.data import write_splits

    for name, path in write_splits(args.input, args.out).items():
        print(f"{name}: {path}")
    return 0


def _format_metrics(metrics: dict, title: str = "metrics") -> str:
    """Render a metrics dict as an aligned two-column text table (``None`` prints as ``n/a``)."""
    lines = [title, "-" * max(len(title), 40)]
    for key, value in metrics.items():
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            text = "n/a"
        elif isinstance(value, float):
            text = f"{value:.4f}"
        else:
            text = str(value)
        lines.append(f"{key:<28}{text:>12}")
    return "\n".join(lines)


def _write_json(path: Path, payload: dict) -> None:
    from molgan.io import atomic_write_text

    atomic_write_text(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")
    print(f"wrote {path}")


def _one_line(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return " ".join(text.split())
