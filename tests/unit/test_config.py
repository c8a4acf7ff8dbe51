from pathlib import Path

import pytest

from molgan.config import MODEL_KINDS, Config, config_from_dict, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_defaults_are_molgans_recipe():
    cfg = Config()
    assert cfg.model.z_dim == 32 and cfg.model.hidden == (128, 256, 512)
    assert cfg.train.batch_size == 32 and cfg.train.n_critic == 5
    assert cfg.train.gp_weight == 10.0 and cfg.train.lr_generator == 1e-3


def test_toml_round_trip(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\nhidden = [64, 64]\n[train]\nsteps = 7\nloss = "minimax"\n')
    cfg = load_config(path)
    assert cfg.model.hidden == (64, 64) and cfg.train.steps == 7 and cfg.train.loss == "minimax"
    assert config_from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "text, message",
    [
        ("[trian]\nsteps = 1\n", "unknown config section"),
        ("[train]\nstep = 1\n", "unknown key"),
        ("[train]\nsteps = 'many'\n", "must be a number"),
        ("[train]\nhard = 1\n", "true or false"),
        ("[train\n", "invalid TOML"),
        ('[reward]\nterms = ["qed", "qde"]\n', "unknown reward 'qde'; valid names: validity"),
        ('[reward]\nterms = "qed"\n', "must be a list"),
        ('[reward]\nterms = ["qed"]\ncombine = "max"\n', "combine must be"),
        ('[reward]\nterms = ["qed"]\nweights = [1, 2]\n', "2 weights given for 1 terms"),
        ('[reward]\nestimator = "ppo"\n', "estimator must be one of"),
        ('[reward]\nestimator = "code"\n', 'estimator = "code" draws latent codes'),
        ("[reward]\ncode_noise = 0\n", "code_noise must be > 0, got 0"),
        ("[reward]\ncode_draws = 0\n", "code_draws must be an integer >= 1, got 0"),
        ("[reward]\nfeedback_size = 0\n", "feedback_size must be an integer >= 1, got 0"),
        ('[data]\nfilters = ["shiny"]\n', r"\[data\] filters: unknown filter\(s\) \['shiny'\]"),
        ('[data]\nfilters = ["qed>=high"]\n', "a threshold filter reads like"),
        (
            '[model]\nkind = "latent"\nrefiner_layers = 1\n[train]\ntrain_generator = false\n'
            '[reward]\nestimator = "code"\n',
            'estimator = "code" moves G: it needs',
        ),
        (
            '[model]\nkind = "latent"\nrefiner_layers = 1\n[reward]\nestimator = "feedback"\n',
            "set \\[train\\] train_refiner = false",
        ),
        (
            '[model]\nkind = "latent"\n[reward]\nterms = ["qed", "novelty"]\n'
            'estimator = "feedback"\n',
            r"\['novelty'\] cannot be among its terms",
        ),
        ('[reward]\nestimator = "feedback"\n', 'estimator = "feedback" draws latent codes'),
        (
            '[model]\nkind = "latent"\nconditions = ["aromatic_ring"]\n'
            '[reward]\nestimator = "feedback"\n',
            r"train_decoder = false\) and no \[model\] conditions",
        ),
        ("[reward]\ncode_draws = 2\n", 'code_draws > 1 needs estimator = "code"'),
        (
            '[model]\nkind = "latent"\n[reward]\nestimator = "code"\ncode_draws = 3\n',
            r"batch_size divisible by it \(32 by 3\)",
        ),
        ("[train]\neval_every = 0\n", "eval_every must be a positive integer, got 0"),
        ("[train]\nn_critic = 2.5\n", "n_critic must be a positive integer, got 2.5"),
        ("[model]\nvariational = true\n", 'only kind = "latent" has an autoencoder'),
        ('[model]\nkind = "latent"\nvariational = true\n', r"needs \[autoencoder\] kl_weight > 0"),
        (
            '[model]\nkind = "latent"\nvariational = true\n[autoencoder]\nkl_weight = 0.01\n',
            r"set \[autoencoder\] latent_noise = 0",
        ),
        ("[autoencoder]\nkl_weight = 0.01\n", r"kl_weight needs \[model\] variational = true"),
        ("[model]\ntransport_steps = 5\n", 'transport_steps: only kind = "latent"'),
        ('[model]\nkind = "latent"\ntransport_steps = -1\n', "transport_steps must be >= 0"),
        ('[model]\nkind = "latent"\ntransport_lipschitz = 0\n', "transport_lipschitz and"),
        ("[train]\nvalence_target_joins = true\n", "valence_target_joins needs valence_target_w"),
    ],
)
def test_bad_configs_name_the_file_and_problem(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"bad.toml: .*{message}"):
        load_config(path)


def test_replace():
    assert Config().replace(train={"steps": 3}).train.steps == 3
    with pytest.raises(ValueError, match="steps must be a positive integer, got -1"):
        Config().replace(train={"steps": -1})


def test_a_shipped_recipe_takes_its_base_and_its_own_keys():
    refiner = load_config(CONFIGS / "moses-latent-refiner.toml")
    assert refiner.data.path == "data/moses/train.csv.gz"  # from moses-latent.toml
    assert refiner.model.ae_slot_init == 1.0 and refiner.model.latent_dim == 128
    assert refiner.data.max_atoms == 27
    assert refiner.autoencoder.steps == 0 and refiner.autoencoder.bond_weight == 4.0
    assert (refiner.model.refiner_passes, refiner.train.n_critic) == (2, 1)
    assert refiner.train.gp_weight == 10.0 and refiner.train.eval_samples == 1000


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    config = load_config(path)
    assert config.model.kind in MODEL_KINDS


def test_base_config_is_merged_table_by_table(tmp_path):
    (tmp_path / "parent.toml").write_text(
        '[model]\nkind = "latent"\nz_dim = 16\nae_dim = 64\n[train]\nsteps = 7\nseed = 3\n'
    )
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.toml"
    child.write_text('base = "../parent.toml"\n[model]\nz_dim = 32\n[train]\nsteps = 9\n')
    config = load_config(child)
    assert (config.model.kind, config.model.z_dim, config.model.ae_dim) == ("latent", 32, 64)
    assert (config.train.steps, config.train.seed) == (9, 3)
    grandchild = tmp_path / "sub" / "grandchild.toml"
    grandchild.write_text('base = "child.toml"\n[train]\nseed = 5\n')
    config = load_config(grandchild)
    assert (config.model.z_dim, config.train.steps, config.train.seed) == (32, 9, 5)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"bad.toml": 'base = "gone.toml"\n'}, r"gone.toml: no such config file \(the base of"),
        ({"bad.toml": "base = 3\n"}, "bad.toml: base must be a file name, got 3"),
        ({"bad.toml": 'base = "bad.toml"\n'}, "bad.toml: base 'bad.toml' leads back"),
        (
            {"bad.toml": 'base = "other.toml"\n', "other.toml": 'base = "bad.toml"\n'},
            "other.toml: base 'bad.toml' leads back",
        ),
        (
            {"bad.toml": 'base = "other.toml"\n', "other.toml": "[trian]\n"},
            r"bad.toml \(with its base .*other.toml\): unknown config section",
        ),
        ({"bad.toml": 'base = ""\n'}, "bad.toml: base must be a file name, got ''"),
        ({"bad.toml": 'base = "sub"\n', "sub/x.toml": ""}, "sub: cannot read it"),
        ({"bad.toml": "data = 3\n"}, r"bad.toml: \[data\] must be a table, got 3"),
    ],
)
def test_bad_base_configs_name_the_file(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message):
        load_config(tmp_path / "bad.toml")
