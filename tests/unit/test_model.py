import json
from pathlib import Path

import pytest
import torch
from rdkit import Chem
from rdkit.Chem import Descriptors

from molgan.config import Config
from molgan.graph import graphs_to_smiles
from molgan.model import MolGAN, load_training_graphs
from molgan.sampling import draw_noise, generate_graphs
from molgan.training import Trainer


def test_save_load_gives_identical_samples(tmp_path, graph_batch, vocab):
    config = Config().replace(
        model={
            "hidden": (32,),
            "conv_dims": (16,),
            "agg_dim": 16,
            "mlp_dims": (16,),
            "temperature": 1.0,
        },
        train={"steps": 5, "batch_size": 8, "log_every": 5, "eval_every": 5, "eval_samples": 8},
    )
    trainer = Trainer(config, vocab, graph_batch, device="cpu", progress=False)
    trainer.fit()
    model = MolGAN(trainer.generator.eval(), vocab, config)
    before = model.sample(200, seed=11, keep_invalid=True)
    model.save(tmp_path / "ckpt")
    loaded = MolGAN.load(tmp_path / "ckpt")
    assert loaded.config == config and loaded.vocab == vocab
    assert loaded.sample(200, seed=11, keep_invalid=True) == before
    assert len(loaded.sample(200, seed=11)) == sum(1 for s in before if s)


def test_an_interrupted_sample_file_leaves_nothing_behind(tmp_path, monkeypatch):
    model = MolGAN.load("qm9-molgan")

    def interrupted(chunks, vocab, jobs=1, molblocks=False):
        yield [("CCO", Chem.MolToMolBlock(Chem.MolFromSmiles("CCO")))]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("molgan.model.decode_stream", interrupted)
    with pytest.raises(OSError, match="No space left"):
        model.write_samples(10, tmp_path / "s.smi", sdf=tmp_path / "s.sdf")
    assert list(tmp_path.iterdir()) == []  # no partial file, no temporary, no sample record


def test_samples_written_by_worker_processes_are_the_same_for_any_number_of_jobs(tmp_path):
    model = MolGAN.load("qm9-molgan")
    expected = model.sample(5000, seed=3, keep_invalid=True)  # chunks of 4,096 and 904
    files = {}
    for jobs in (1, 3):
        out, sdf = tmp_path / f"s{jobs}.smi", tmp_path / f"s{jobs}.sdf"
        counts = model.write_samples(5000, out, seed=3, keep_invalid=True, sdf=sdf, jobs=jobs)
        assert counts == {"valid": sum(1 for s in expected if s), "written": 5000}
        files[jobs] = (out.read_text(), sdf.read_text())
    assert files[1] == files[3]
    assert files[1][0].splitlines() == expected
    assert files[1][1].count("$$$$") == sum(1 for s in expected if s)


def test_the_valence_mask_changes_only_over_valence_samples_and_is_recorded(tmp_path):
    model = MolGAN.load("qm9-rl")  # no refiner: its invalid samples are mostly over valence
    plain = model.sample(1000, seed=4, keep_invalid=True)
    masked = model.sample(1000, seed=4, keep_invalid=True, valence_mask=True)
    # A sample the decoder already got right keeps its every bond, so stays the same molecule.
    assert all(m == p for p, m in zip(plain, masked) if p)
    assert sum(map(bool, masked)) > sum(map(bool, plain))  # some invalid ones became valid
    out = tmp_path / "s.smi"
    model.write_samples(1000, out, seed=4, keep_invalid=True, valence_mask=True)
    assert out.read_text().splitlines() == masked
    assert '"valence_mask": true' in out.with_name("s.smi.json").read_text()


def test_the_critic_transport_moves_the_codes_and_is_recorded(tmp_path):
    model = MolGAN.load("qm9-rl")  # sampled without a transport
    config = model.config.replace(model={"transport_steps": 10})
    moved = MolGAN(model.generator, model.vocab, config, model.critic)
    plain = model.sample(300, seed=1, keep_invalid=True)
    samples = moved.sample(300, seed=1, keep_invalid=True)
    assert samples != plain and samples == moved.sample(300, seed=1, keep_invalid=True)
    out = tmp_path / "s.smi"
    moved.write_samples(300, out, seed=1, keep_invalid=True)
    assert out.read_text().splitlines() == samples
    record = json.loads(out.with_name("s.smi.json").read_text())
    assert record["transport"] == {"steps": 10, "lipschitz": 0.3, "lr": 0.05}
    assert "transport" not in json.dumps(model.write_samples(5, tmp_path / "p.smi"))
    assert "transport" not in (tmp_path / "p.smi.json").read_text()
    with pytest.raises(ValueError, match="no latent critic"):
        MolGAN(model.generator, model.vocab, config).sample(5)


def test_draw_noise_gives_the_moved_noise_the_model_samples_from():
    model = MolGAN.load("qm9-rl")
    config = model.config.replace(model={"transport_steps": 10})
    moved = MolGAN(model.generator, model.vocab, config, model.critic)
    seeded = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    mapped = [
        z for _, z in generate_graphs(model.generator, 300, seeded(), 0.0, 128, **_moves(moved))
    ]
    drawn = list(draw_noise(model.generator, 300, seeded(), 128, **_moves(moved)))
    assert [len(z) for z in drawn] == [128, 128, 44]
    assert torch.equal(torch.cat(drawn), torch.cat(mapped))
    plain = torch.cat(list(draw_noise(model.generator, 300, seeded(), 128)))
    assert not torch.allclose(plain, torch.cat(drawn))  # the transport moved them
    assert model.transport() is None and moved.transport().settings["steps"] == 10


def _moves(model: MolGAN) -> dict:
    """``draw_noise``'s and ``generate_graphs``' arguments that make them draw as ``model`` does."""
    return {"noise_scale": model.config.model.noise_scale, "transport": model.transport()}


def test_data_filters_keep_the_passing_molecules_and_the_whole_vocabulary():
    tiny = Path(__file__).resolve().parents[1] / "data" / "tiny.smi"
    config = Config().replace(data={"path": str(tiny), "vocabulary": "data"})
    vocab, graphs = load_training_graphs(config)
    filtered = config.replace(data={"filters": ("mol_weight>=40",)})
    kept_vocab, kept = load_training_graphs(filtered)
    assert kept_vocab == vocab  # from every row, so a filtered run can start from a full one
    weights = [Descriptors.MolWt(Chem.MolFromSmiles(s)) for s in graphs_to_smiles(graphs, vocab)]
    heavy = torch.tensor([w >= 40 for w in weights])
    assert 0 < len(kept.atoms) < len(graphs.atoms)
    assert torch.equal(kept.atoms, graphs.atoms[heavy])
    assert torch.equal(kept.bonds, graphs.bonds[heavy])
    with pytest.raises(ValueError, match=r"\[data\] filters: unknown filter"):
        load_training_graphs(config.replace(data={"filters": ("shiny",)}))
    with pytest.raises(ValueError, match="no training molecule passes"):
        load_training_graphs(config.replace(data={"filters": ("mol_weight>=900",)}))
