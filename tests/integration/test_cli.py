import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from molgan.cli import main
from molgan.model import SHIPPED_MODELS

pytestmark = pytest.mark.integration

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.smi"

# The smallest latent-family networks: CLI runs of the latent family stay within seconds.
TINY_LATENT_MODEL = """[model]
kind = "latent"
z_dim = 8
hidden = [16]
latent_dim = 16
ae_dim = 32
ae_layers = 1
ae_heads = 2
critic_hidden = [16]
"""

JSON_KEYS = {
    "n_samples",
    "validity",
    "uniqueness",
    "novelty",
    "fcd",
    "intdiv1",
    "intdiv2",
    "snn",
    "frag",
    "scaf",
    "qed_mean",
    "sa_mean",
    "logp_mean",
}


def test_evaluate_writes_the_contract_keys(tmp_path, capsys):
    generated = tmp_path / "gen.smi"
    generated.write_text("CCO\nOCC\n\n*CC\nCC.O\nC1CC\nc1ccoc1\nCC(=O)N\n")
    train = tmp_path / "train.smi"
    train.write_text("CCO\nCC\n")
    reference = tmp_path / "ref.smi"
    reference.write_text("CCO\nc1ccoc1\nCC(N)=O\nCCN\nOCC=O\nC#N\n")
    out = tmp_path / "m.json"
    code = main(
        [
            "evaluate",
            str(generated),
            "--train",
            str(train),
            "--test",
            str(reference),
            "--json",
            str(out),
        ]
    )
    assert code == 0
    metrics = json.loads(out.read_text())
    assert JSON_KEYS <= set(metrics)
    assert metrics["n_samples"] == 8
    assert metrics["validity"] == pytest.approx(4 / 8)  # CCO, OCC, c1ccoc1, CC(=O)N
    assert metrics["uniqueness"] == pytest.approx(3 / 4)
    assert metrics["novelty"] == pytest.approx(2 / 3)
    assert "validity" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "the file is empty"),
        (b"id,name\n1,x\n", "no 'smiles' column"),
        (b"C\xffC\n", "not UTF-8"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(tmp_path, content, message):
    path = tmp_path / ("bad.csv" if b"," in content else "bad.smi")
    path.write_bytes(content)
    run = subprocess.run(
        [sys.executable, "-m", "molgan", "evaluate", str(path)], capture_output=True, text=True
    )
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and message in run.stderr and str(path) in run.stderr
    assert "Traceback" not in run.stderr


def test_train_then_sample_then_resume(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(
        '[data]\npath = "tests/data/tiny.smi"\n'
        "[model]\nhidden = [32]\nconv_dims = [16]\nagg_dim = 16\nmlp_dims = [16]\n"
        "[train]\nsteps = 10\nbatch_size = 8\nlog_every = 5\neval_every = 10\n"
        "eval_samples = 20\ncheckpoint_every = 5\n"
    )
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(out), "--device", "cpu"]) == 0
    assert (out / "checkpoint" / "model.safetensors").is_file()
    smi, again = tmp_path / "s.smi", tmp_path / "again.smi"
    sample = ["sample", "--checkpoint", str(out), "-n", "50", "--keep-invalid", "--seed", "3"]
    assert main([*sample, "-o", str(smi), "--sdf", str(tmp_path / "s.sdf")]) == 0
    assert len(smi.read_text().split("\n")[:-1]) == 50  # exactly n lines, invalid ones empty
    assert main([*sample, "-o", str(again)]) == 0
    assert again.read_text() == smi.read_text()
    assert (
        main(["train", "--config", str(config), "--out", str(out), "--steps", "15", "--resume"])
        == 0
    )
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 15


def test_sample_of_a_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    assert (
        main(["sample", "--checkpoint", str(tmp_path), "-n", "5", "-o", str(tmp_path / "x")]) == 1
    )
    assert "missing state.json" in capsys.readouterr().err


def test_filter_writes_survivors_and_counts(tmp_path, capsys):
    source = tmp_path / "in.smi"
    source.write_text("OCC\nCC=O\n\nC1CC\nO=C1C=CC(=O)C=C1\nCCN\n")
    out, sdf, counts = tmp_path / "kept.smi", tmp_path / "kept.sdf", tmp_path / "counts.json"
    argv = ["filter", str(source), "-o", str(out), "--sdf", str(sdf), "--json", str(counts)]
    assert main(argv) == 0
    assert out.read_text() == "CCO\nCCN\n"
    assert sdf.read_text().count("$$$$") == 2
    assert json.loads(counts.read_text())["rejected_brenk"] == 2
    printed = capsys.readouterr()
    assert "rejected_pains" in printed.out
    assert "invalid_empty" in printed.out and "invalid_unparsable" in printed.out  # and why
    assert printed.err.count("filtering") == 1 and "\r" not in printed.err  # the last line, once
    assert main(["filter", str(source), "-o", str(out), "--filters", "pains,lipinksi"]) == 1
    assert "unknown filter(s) ['lipinksi']; valid names" in capsys.readouterr().err
    # A threshold on a raw property: CCN (45.08 Da) passes, CCO (46.07 Da) does not.
    assert main(["filter", str(source), "-o", str(out), "--filters", "brenk,mol_weight<=45.5"]) == 0
    assert out.read_text() == "CCN\n"
    assert "rejected_mol_weight<=45.5" in capsys.readouterr().out


def test_score_prints_means_over_valid_molecules(tmp_path, capsys):
    source = tmp_path / "in.smi"
    source.write_text("c1ccccc1\n\nC1CC\n")
    out = tmp_path / "scores.json"
    assert main(["score", str(source), "--rewards", "sa", "--json", str(out)]) == 0
    assert json.loads(out.read_text()) == {
        "n_samples": 3,
        "n_valid": 1,
        "invalid_empty": 1,
        "invalid_unparsable": 1,
        "sa": 1.0,
    }
    assert main(["score", str(source), "--rewards", "sa,qde"]) == 1
    assert "unknown molecule reward(s) ['qde']" in capsys.readouterr().err


def test_sample_a_shipped_model_by_name(tmp_path):
    out = tmp_path / "s.smi"
    assert main(["sample", "--checkpoint", "qm9", "-n", "20", "-o", str(out)]) == 0
    assert 0 < len(out.read_text().splitlines()) <= 20


@pytest.mark.parametrize("name", ["moses", "moses-qed"])
def test_sample_the_shipped_moses_models_by_name(tmp_path, name):
    from rdkit import Chem

    out = tmp_path / "moses.smi"
    sample = ["sample", "--checkpoint", name, "-n", "16", "--seed", "0", "--keep-invalid"]
    assert main([*sample, "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 16
    molecules = [Chem.MolFromSmiles(s) for s in lines if s]
    assert all(molecules)
    assert len(molecules) >= 8  # 96-97 % of 10,000 draws are valid (checkpoints/*/metrics.md)
    assert sum(m.GetNumHeavyAtoms() for m in molecules) / len(molecules) > 12  # drug-sized


def test_train_sample_and_export_a_latent_model_from_the_command_line(tmp_path, capsys):
    config = tmp_path / "latent.toml"
    config.write_text(
        f"""
[data]
path = "{TINY}"
atom_order = "bfs"

{TINY_LATENT_MODEL}
[autoencoder]
steps = 6
batch_size = 10

[train]
steps = 6
batch_size = 8
log_every = 3
eval_every = 6
eval_samples = 8
"""
    )
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    assert "loss_ae" in (run / "log.csv").read_text().splitlines()[0]
    assert (
        main(
            [
                "sample",
                "--checkpoint",
                str(run),
                "-n",
                "20",
                "--keep-invalid",
                "-o",
                str(tmp_path / "s.smi"),
            ]
        )
        == 0
    )
    assert len((tmp_path / "s.smi").read_text().splitlines()) == 20
    assert main(["export", str(run), str(tmp_path / "shipped")]) == 0
    assert (
        main(
            [
                "sample",
                "--checkpoint",
                str(tmp_path / "shipped"),
                "-n",
                "20",
                "--keep-invalid",
                "-o",
                str(tmp_path / "t.smi"),
            ]
        )
        == 0
    )
    assert (tmp_path / "t.smi").read_text() == (tmp_path / "s.smi").read_text()


def test_sample_a_conditioned_latent_model_with_fixed_classes(tmp_path, capsys):
    config = tmp_path / "conditioned.toml"
    model = TINY_LATENT_MODEL + 'conditions = ["heavy_atoms", "triple_bond"]\n'
    config.write_text(
        f'[data]\npath = "{TINY}"\natom_order = "smiles"\n{model}'
        "[autoencoder]\nsteps = 4\nbatch_size = 10\n"
        "[train]\nsteps = 4\nbatch_size = 8\nlog_every = 2\neval_every = 4\neval_samples = 8\n"
    )
    run, out = tmp_path / "run", tmp_path / "s.smi"
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    sample = ["sample", "--checkpoint", str(run), "-n", "10", "--keep-invalid", "-o", str(out)]
    assert main([*sample, "--condition", "heavy_atoms=3", "--condition", "triple_bond=0"]) == 0
    assert len(out.read_text().splitlines()) == 10
    record = json.loads(out.with_name("s.smi.json").read_text())
    assert record["condition"] == {"heavy_atoms": "3", "triple_bond": "0"}
    capsys.readouterr()
    bad = tmp_path / "bad.smi"
    sample[-1] = str(bad)
    assert main([*sample, "--condition", "heavy_atoms=99"]) == 1
    err = capsys.readouterr().err
    assert "heavy_atoms=99: must be an integer from 1 to 9" in err and err.count("\n") == 1
    assert main([*sample, "--condition", "aromatic_ring=1"]) == 1
    assert "this model's conditions are: heavy_atoms, triple_bond" in capsys.readouterr().err
    assert not bad.exists()


def test_sample_through_the_valence_mask_is_recorded_and_evaluate_says_so(tmp_path, capsys):
    out = tmp_path / "s.smi"
    sample = ["sample", "--checkpoint", "qm9", "-n", "300", "--keep-invalid", "-o", str(out)]
    assert main([*sample, "--valence-mask", "--seed", "2"]) == 0
    assert json.loads(out.with_name("s.smi.json").read_text())["valence_mask"] is True
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json", str(tmp_path / "m.json")]) == 0
    assert "decoded through the valence mask" in capsys.readouterr().out
    assert json.loads((tmp_path / "m.json").read_text())["valence_mask"] == 1


def test_export_sets_the_critic_transport_and_refuses_it_without_a_latent_critic(tmp_path, capsys):
    shipped = tmp_path / "moved"
    assert (
        main(["export", str(SHIPPED_MODELS / "qm9"), str(shipped), "--transport-steps", "7"]) == 0
    )
    model = json.loads((shipped / "config.json").read_text())["model"]
    assert (model["transport_steps"], model["transport_lipschitz"]) == (7, 0.3)
    out = tmp_path / "s.smi"
    assert main(["sample", "--checkpoint", str(shipped), "-n", "50", "-o", str(out)]) == 0
    assert json.loads(out.with_name("s.smi.json").read_text())["transport"]["steps"] == 7
    capsys.readouterr()
    molgan = str(SHIPPED_MODELS / "qm9-molgan")
    assert main(["export", molgan, str(tmp_path / "m"), "--transport-steps", "7"]) == 1
    err = capsys.readouterr().err
    assert 'only kind = "latent" has a latent critic' in err and err.count("\n") == 1
    assert main(["export", molgan, str(tmp_path / "m"), "--refiner-passes", "2"]) == 1
    assert "has no refiner" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_the_valence_mask_refuses_aromatic_bonds_before_writing(tmp_path, capsys):
    config = tmp_path / "aromatic.toml"
    config.write_text(
        f'[data]\npath = "{TINY}"\natom_order = "smiles"\naromatic = true\n{TINY_LATENT_MODEL}'
        "[autoencoder]\nsteps = 2\nbatch_size = 10\n"
        "[train]\nsteps = 2\nbatch_size = 8\nlog_every = 2\neval_every = 2\neval_samples = 8\n"
    )
    run, out = tmp_path / "run", tmp_path / "s.smi"
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    capsys.readouterr()
    sample = ["sample", "--checkpoint", str(run), "-n", "10", "-o", str(out), "--valence-mask"]
    assert main(sample) == 1
    err = capsys.readouterr().err
    assert "the valence mask needs Kekulé bonds" in err and err.count("\n") == 1
    assert not out.exists()


DRUGLIKE = TINY.parent / "druglike.smi"


def test_train_on_your_own_drug_like_file_end_to_end(tmp_path, capsys):
    # --data derives the vocabulary and N from the file; a small config keeps this test fast.
    own = tmp_path / "mine.csv"
    rows = DRUGLIKE.read_text().split()[:300] + ["C[C@H](N)Cc1ccccc1", "CCN(CC)CC.Cl"]
    own.write_text("name,SMILES\n" + "".join(f"m{i},{s}\n" for i, s in enumerate(rows)))
    config = tmp_path / "small.toml"
    config.write_text(
        f"""
[data]
vocabulary = "qm9"
atom_order = "bfs"
transforms = ["strip_stereo", "largest_fragment"]

{TINY_LATENT_MODEL}
[autoencoder]
steps = 4
batch_size = 16

[train]
steps = 4
batch_size = 8
eval_every = 4
eval_samples = 8
"""
    )
    run = tmp_path / "run"
    args = ["train", "--data", str(own), "--config", str(config), "--out", str(run)]
    assert main(args) == 0
    saved = json.loads((run / "checkpoint" / "vocab.json").read_text())
    elements = {element for element, _ in saved["atom_types"]}
    assert {"S", "Cl", "Br", "F"} <= elements  # derived from the file, not QM9's C, N, O, F
    assert saved["max_atoms"] >= 26  # MOSES molecules reach 26 heavy atoms in this slice
    meta = next((own.parent / "processed").glob("*/meta.json"))
    report = json.loads(meta.read_text())
    assert report["changed"] == {"strip_stereo": 1, "largest_fragment": 1}
    assert report["skipped"] == {}  # the salt and the stereo row are kept, cleaned
    out = tmp_path / "s.smi"
    sample = ["sample", "--checkpoint", str(run), "-n", "16", "--keep-invalid", "-o", str(out)]
    assert main(sample) == 0
    assert len(out.read_text().splitlines()) == 16


def test_train_with_data_and_no_config_uses_the_own_data_recipe(monkeypatch, tmp_path):
    from molgan import cli
    from molgan.config import load_config
    from molgan.model import MolGAN

    seen = {}
    monkeypatch.setattr(MolGAN, "train", lambda config, out, **kw: seen.setdefault("c", config))
    assert main(["train", "--data", str(DRUGLIKE), "--out", str(tmp_path / "r")]) == 0
    recipe = load_config(cli.OWN_DATA_CONFIG)
    assert seen["c"].model == recipe.model and seen["c"].autoencoder == recipe.autoencoder
    assert seen["c"].data.path == str(DRUGLIKE) and seen["c"].data.vocabulary == "data"


def test_data_stats_counts_what_the_transforms_changed(tmp_path, capsys):
    own = tmp_path / "own.smi"
    own.write_text("CCO\nC[C@H](N)O\nC/C=C/C\nCCN.Cl\nC1CC\n")
    report = tmp_path / "r.json"
    argv = ["data", "stats", str(own), "--vocab", "data", "--largest-fragment"]
    assert main([*argv, "--json", str(report)]) == 0
    stats = json.loads(report.read_text())
    assert stats["changed"] == {"strip_stereo": 2, "largest_fragment": 1}
    assert (stats["rows"], stats["round_trip_ok"]) == (5, 4)
    assert "4 of 5 rows usable" in capsys.readouterr().out
    assert main(["data", "stats", str(own), "--vocab", "data", "--no-strip-stereo"]) == 0
    out = capsys.readouterr().out
    assert "round_trip_mismatch: 2" in out and "multi_fragment: 1" in out


def test_a_megabyte_line_is_rejected_by_length_not_parsed(tmp_path, capsys):
    # RDKit would take hours on this line; it is never handed to RDKit.
    hostile = tmp_path / "hostile.smi"
    hostile.write_text("CCO\n" + "c" * 2**20 + "\nCCN\n")
    out = tmp_path / "m.json"
    argv = ["evaluate", str(hostile), "--train", str(TINY), "--test", str(TINY)]
    assert main([*argv, "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert (metrics["n_samples"], metrics["n_valid"]) == (3, 2)
    report = tmp_path / "stats.json"
    assert main(["data", "stats", str(hostile), "--json", str(report)]) == 0
    skipped = json.loads(report.read_text())["skipped"]
    assert skipped["too_long"]["count"] == 1
    assert skipped["too_long"]["examples"] == [{"line": 2, "smiles": "c" * 79 + "…"}]


def test_evaluate_measures_validity_over_every_sample_drawn(tmp_path, capsys):
    samples = tmp_path / "s.smi"
    assert main(["sample", "--checkpoint", "qm9-molgan", "-n", "50", "-o", str(samples)]) == 0
    record = json.loads((tmp_path / "s.smi.json").read_text())
    assert record["n_requested"] == 50 and not record["keep_invalid"]
    assert record["n_written"] == record["n_valid"] == len(samples.read_text().splitlines())
    out = tmp_path / "m.json"
    argv = ["evaluate", str(samples), "--train", str(TINY), "--test", str(TINY), "--json", str(out)]
    assert main(argv) == 0
    metrics = json.loads(out.read_text())
    assert metrics["n_samples"] == 50
    assert metrics["validity"] == pytest.approx(record["n_valid"] / 50)
    # Without its record, an all-valid file gets a loud warning instead of a silent 1.0.
    (tmp_path / "s.smi.json").unlink()
    valid_only = tmp_path / "valid.smi"
    valid_only.write_text("CCO\nCCN\n")
    capsys.readouterr()
    assert main(["evaluate", str(valid_only), "--train", str(TINY), "--test", str(TINY)]) == 0
    assert "validity cannot be measured" in capsys.readouterr().err
    # A record that disagrees with its file is an error, not a wrong number.
    (tmp_path / "valid.smi.json").write_text(
        '{"n_requested": 9, "n_valid": 3, "n_written": 3, "keep_invalid": false}'
    )
    assert main(["evaluate", str(valid_only), "--train", str(TINY), "--test", str(TINY)]) == 1
    assert "the file changed since" in capsys.readouterr().err


def test_evaluate_of_a_sample_file_with_no_valid_molecule(tmp_path):
    run = tmp_path / "run"
    config = tmp_path / "c.toml"
    config.write_text(f'[data]\npath = "{TINY}"\n[train]\nsteps = 1\neval_every = 1\n')
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    samples, out = tmp_path / "s.smi", tmp_path / "m.json"
    for keep in ([], ["--keep-invalid"]):  # an empty file, or 30 empty lines
        sample = ["sample", "--checkpoint", str(run), "-n", "30", "-o", str(samples), *keep]
        assert main(sample) == 0
        n_valid = json.loads((tmp_path / "s.smi.json").read_text())["n_valid"]
        argv = ["evaluate", str(samples), "--train", str(TINY), "--test", str(TINY)]
        assert main([*argv, "--json", str(out)]) == 0
        metrics = json.loads(out.read_text())
        assert (metrics["n_samples"], metrics["n_valid"]) == (30, n_valid)
    # As the MOSES baseline wrote it: 30 empty lines, none valid.
    samples.write_text("\n" * 30)
    record = {"n_requested": 30, "n_valid": 0, "n_written": 30, "keep_invalid": True}
    (tmp_path / "s.smi.json").write_text(json.dumps(record))
    assert main([*argv, "--json", str(out)]) == 0
    assert json.loads(out.read_text())["validity"] == 0.0


def _train_checkpointing_every_4_of_12_steps(tmp_path: Path, run: Path) -> int:
    """``molgan train`` of the default model on tiny.smi, 12 steps, a checkpoint every 4."""
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{TINY}"\n[train]\nsteps = 12\nlog_every = 4\ncheckpoint_every = 4\n'
        "eval_every = 12\neval_samples = 8\n"
    )
    return main(["train", "--config", str(config), "--out", str(run)])


@pytest.mark.parametrize("first_bad, saved", [(6, 4), (0, None)])
def test_a_diverging_run_stops_in_one_line_and_keeps_the_last_good_checkpoint(
    tmp_path, monkeypatch, capsys, first_bad, saved
):
    from molgan.training import MolGANFamily

    real_step = MolGANFamily.train_step

    def diverging(self, step):
        losses = real_step(self, step)
        return {k: v * float("nan") for k, v in losses.items()} if step >= first_bad else losses

    monkeypatch.setattr(MolGANFamily, "train_step", diverging)
    run = tmp_path / "run"
    assert _train_checkpointing_every_4_of_12_steps(tmp_path, run) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("molgan: training stopped:")
    assert f"NaN or infinite at step {first_bad + 1}" in err
    if saved is None:
        assert "no checkpoint was written" in err and "resume" not in err
        assert not (run / "checkpoint").exists()
    else:
        assert f"last good checkpoint (step {saved})" in err and "--resume" in err
        assert json.loads((run / "checkpoint" / "state.json").read_text())["step"] == saved


def test_a_killed_run_resumes_exactly_losing_at_most_one_interval(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{TINY}"\n'
        "[model]\nhidden = [32]\nconv_dims = [16]\nagg_dim = 16\nmlp_dims = [16]\n"
        "[train]\nsteps = 400\nbatch_size = 8\nlog_every = 5\neval_every = 400\n"
        "eval_samples = 20\ncheckpoint_every = 20\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    argv = [sys.executable, "-m", "molgan", "train", "--config", str(config), "--device", "cpu"]
    proc = subprocess.Popen([*argv, "--out", str(killed)], env=env, stderr=subprocess.DEVNULL)
    state = killed / "checkpoint" / "state.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if state.is_file() and json.loads(state.read_text())["step"] >= 60:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = json.loads(state.read_text())["step"]
    logged = int((killed / "log.csv").read_text().split()[-1].split(",")[0])
    assert 60 <= saved < 400 and logged - saved <= 20  # at most one checkpoint interval lost
    subprocess.run([*argv, "--out", str(killed), "--resume"], env=env, check=True)
    straight = tmp_path / "straight"
    subprocess.run([*argv, "--out", str(straight)], env=env, check=True)
    resumed = load_file(killed / "checkpoint" / "model.safetensors")
    expected = load_file(straight / "checkpoint" / "model.safetensors")
    assert resumed.keys() == expected.keys()
    assert all(torch.equal(resumed[k], expected[k]) for k in expected)


@pytest.mark.parametrize(
    "fail_on_call, error, kept",
    [
        (3, OSError(errno.ENOSPC, "No space left on device"), 4),  # the second checkpoint
        (1, PermissionError(errno.EACCES, "Permission denied"), None),  # read-only folder
    ],
)
def test_a_full_disk_or_read_only_folder_fails_in_one_line_keeping_the_last_checkpoint(
    tmp_path, monkeypatch, capsys, fail_on_call, error, kept
):
    import molgan.checkpoint

    real_save, calls = molgan.checkpoint.save_file, []

    def failing_save(tensors, filename, *args, **kwargs):
        calls.append(filename)
        if len(calls) >= fail_on_call:
            raise error
        return real_save(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(molgan.checkpoint, "save_file", failing_save)
    run = tmp_path / "run"
    assert _train_checkpointing_every_4_of_12_steps(tmp_path, run) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"molgan: error: cannot write checkpoint {run / 'checkpoint'}: ")
    assert error.strerror in err
    leftovers = [p.name for p in run.iterdir() if p.name.startswith(".checkpoint")]
    assert leftovers == []  # no half-written temporary checkpoint
    if kept is None:
        assert err.endswith("nothing was written") and not (run / "checkpoint").exists()
    else:
        assert err.endswith("the previous checkpoint there is intact")
        assert json.loads((run / "checkpoint" / "state.json").read_text())["step"] == kept
        monkeypatch.undo()
        out = str(tmp_path / "s.smi")
        assert main(["sample", "--checkpoint", str(run / "checkpoint"), "-n", "4", "-o", out]) == 0


def test_torchrun_trains_one_model_on_two_processes_and_resumes_exactly(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{TINY}"\n'
        "[model]\nhidden = [32]\nconv_dims = [16]\nagg_dim = 16\nmlp_dims = [16]\n"
        "[train]\nsteps = 16\nbatch_size = 4\nlog_every = 4\neval_every = 8\n"
        'eval_samples = 8\ncheckpoint_every = 8\nkeep_best = "valid_unique"\n'
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    train = [*launch, "-m", "molgan", "train", "--config", str(config), "--device", "cpu"]

    def run(out: Path, *extra: str) -> None:
        done = subprocess.run([*train, "--out", str(out), *extra], env=env, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()[-2000:]

    whole, halves = tmp_path / "whole", tmp_path / "halves"
    run(whole)
    state = json.loads((whole / "checkpoint" / "state.json").read_text())
    assert state["step"] == 16 and state["extra"]["world_size"] == 2
    rows = (whole / "log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows] == ["step", "4", "8", "12", "16"]  # rank 0 only
    assert (whole / "best").is_dir()

    run(halves, "--steps", "8")
    run(halves, "--steps", "16", "--resume")
    weights = [load_file(run / "checkpoint" / "model.safetensors") for run in (whole, halves)]
    assert weights[0].keys() == weights[1].keys()
    for name in weights[0]:
        assert torch.equal(weights[0][name], weights[1][name]), name

    samples = tmp_path / "s.smi"
    argv = ["sample", "--checkpoint", str(whole / "checkpoint"), "-n", "8", "-o", str(samples)]
    assert main(argv) == 0
    # A lone process cannot resume a two-process run: the ranks' draws would be lost.
    assert main(["train", "--config", str(config), "--out", str(whole), "--resume"]) == 1


def test_torchrun_samples_one_shard_per_rank_and_merge_joins_them(tmp_path, capsys):
    out, sdf = tmp_path / "s.smi", tmp_path / "s.sdf"
    argv = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m"]
    argv += ["molgan", "sample", "--checkpoint", "qm9-molgan", "-n", "301", "-o", str(out)]
    argv += ["--keep-invalid", "--sdf", str(sdf), "--jobs", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(argv, env=env, capture_output=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    shards = [tmp_path / f"s.rank{r}-of-2.smi" for r in range(2)]
    lines = [shard.read_text().splitlines() for shard in shards]
    assert [len(part) for part in lines] == [151, 150]  # n split as evenly as possible
    assert lines[0] != lines[1][: len(lines[0])]  # each rank its own seed

    assert main(["sample", "--merge", "-o", str(out), "--sdf", str(sdf)]) == 0
    assert out.read_text().splitlines() == lines[0] + lines[1]  # cat in rank order
    record = json.loads((tmp_path / "s.smi.json").read_text())
    n_valid = sum(1 for line in out.read_text().splitlines() if line)
    assert (record["n_requested"], record["n_written"], record["n_valid"]) == (301, 301, n_valid)
    assert sdf.read_text().count("$$$$") == n_valid
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sdf", "s.smi", "s.smi.json"]
    assert main(["sample", "--merge", "-o", str(out)]) == 1  # nothing left to merge
    assert "no shards" in capsys.readouterr().err
