"""Hostile checkpoints: every one is refused with one clear error, and nothing is unpickled."""

import dataclasses
import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from molgan.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from molgan.model import MolGAN

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "qm9-molgan"


def clone(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(SHIPPED, tmp_path / name))


def edit_bytes(path: Path, change) -> None:
    path.write_bytes(change(path.read_bytes()))


class Boom:
    def __reduce__(self):  # unpickling this would create a file: it must never happen
        return (Path.touch, (Path(os.environ["BOOM_FILE"]),))


def test_a_pickle_is_refused_without_being_unpickled(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOM_FILE", str(tmp_path / "boom"))
    pt = tmp_path / "model.pt"
    pt.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError, match="never unpickles"):
        MolGAN.load(pt)
    folder = clone(tmp_path, "pickled")
    (folder / "model.safetensors").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError, match="unreadable checkpoint"):
        load_checkpoint(folder)
    assert not (tmp_path / "boom").exists()


@pytest.mark.parametrize(
    "name, damage, message",
    [
        ("empty", lambda b: b"", "unreadable checkpoint"),
        ("truncated", lambda b: b[: len(b) // 2], "unreadable checkpoint"),
        ("random", lambda b: os.urandom(4096), "unreadable checkpoint"),
        ("header", lambda b: b[:8] + b"{{{{{{{{" + b[16:], "unreadable checkpoint"),
    ],
)
def test_damaged_weights_are_a_clear_error(tmp_path, name, damage, message):
    folder = clone(tmp_path, name)
    edit_bytes(folder / "model.safetensors", damage)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder)


@pytest.mark.parametrize(
    "file, edit, message",
    [
        ("vocab.json", lambda d: d | {"atom_types": d["atom_types"][:-1]}, "do not fit"),
        ("config.json", lambda d: d | {"model": d["model"] | {"hidden": [64]}}, "do not fit"),
        ("state.json", lambda d: [1, 2], "not a molgan checkpoint"),
        ("state.json", lambda d: {k: v for k, v in d.items() if k != "step"}, "malformed"),
    ],
)
def test_files_that_disagree_are_refused(tmp_path, file, edit, message):
    folder = clone(tmp_path, file.split(".")[0])
    data = json.loads((folder / file).read_text())
    (folder / file).write_text(json.dumps(edit(data)))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder)


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="missing state.json"):
        load_checkpoint(tmp_path / "empty")
    folder = clone(tmp_path, "no-weights")
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing model.safetensors"):
        load_checkpoint(folder)


def test_a_weight_average_equal_to_the_generator_is_stored_once(tmp_path):
    checkpoint = load_checkpoint(SHIPPED)
    average = dict(checkpoint.weights["generator"])
    moved = next(iter(average))
    average[moved] = average[moved] + 1.0  # the one tensor the average does not share
    weights = {**checkpoint.weights, "generator_ema": average}
    save_checkpoint(tmp_path / "c", dataclasses.replace(checkpoint, weights=weights))
    shared = json.loads((tmp_path / "c" / "state.json").read_text())["shared"]["generator_ema"]
    assert sorted(shared) == sorted(set(average) - {moved})
    stored = {k for k in safe_open(str(tmp_path / "c" / "model.safetensors"), "pt").keys()}
    assert {k for k in stored if k.startswith("generator_ema.")} == {f"generator_ema.{moved}"}
    loaded = load_checkpoint(tmp_path / "c").weights["generator_ema"]
    assert loaded.keys() == average.keys()
    assert all(torch.equal(loaded[name], tensor) for name, tensor in average.items())


@pytest.mark.parametrize(
    "shared", [{"generator_ema": ["no.such.weight"]}, "all", {"generator_ema": [1]}]
)
def test_shared_weights_the_generator_lacks_are_refused(tmp_path, shared):
    folder = clone(tmp_path, "shared")
    state = json.loads((folder / "state.json").read_text())
    (folder / "state.json").write_text(json.dumps(state | {"shared": shared}))
    with pytest.raises(CheckpointError, match="shared weights"):
        load_checkpoint(folder)
