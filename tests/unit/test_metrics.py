import csv
import gzip
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem, DataStructs
from rdkit.Chem import Descriptors, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold
from scipy.stats import entropy, gaussian_kde, wasserstein_distance

from molgan.metrics import (
    KL_DESCRIPTORS,
    evaluate,
    frechet_distance,
    internal_diversity,
    novelty,
    tanimoto_matrix,
    uniqueness,
    validity,
)

QM9_CSV = Path(__file__).resolve().parents[2] / "data" / "qm9.csv.gz"

# 9 samples: 4 strictly valid ("CCO" and "OCC" are one molecule), 5 invalid for 5 reasons.
SAMPLES = [
    "CCO",
    "OCC",
    "*CC",  # dummy atom
    "CC.O",  # two fragments
    "C1CC",  # unclosed ring: unparsable
    "",  # empty sample
    "C(C)(C)(C)(C)C",  # pentavalent carbon
    "c1ccccc1",
    "CCN",
]
TRAIN = ["C(C)O", "c1ccccc1", "CC"]  # knows CCO and benzene, not CCN

# Drug-like molecules, most with scaffolds of two or more rings (MOSES Scaf ignores the rest).
DRUGS = [
    "CC(=O)Nc1ccc(O)cc1",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
    "c1ccc2c(c1)[nH]c1ccccc12",
    "O=C(O)Cc1ccccc1Nc1c(Cl)cccc1Cl",
    "CN1CCC[C@H]1c1cccnc1",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "COc1ccc2[nH]cc(CCN)c2c1",
    "O=C1CN=C(c2ccccc2)c2cc(Cl)ccc2N1",
    "CN(C)CCCN1c2ccccc2CCc2ccccc21",
    "c1ccc(-c2ccccc2)cc1",
    "OC1CCN(Cc2ccccc2)CC1",
    "Cc1ccc(cc1)S(=O)(=O)N",
]
KEYS = {
    "n_samples",
    "n_valid",
    "n_unique",
    "validity",
    "uniqueness",
    "novelty",
    "fcd",
    "fcd_score",
    "intdiv1",
    "intdiv2",
    "snn",
    "frag",
    "scaf",
    "qed_mean",
    "sa_mean",
    "logp_mean",
    "w1_qed",
    "w1_sa",
    "w1_logp",
    "w1_weight",
    "weight_mean",
    "filters",
    "unique@1k",
    "unique@10k",
    "kl_score",
}


@pytest.fixture(scope="module")
def qm9() -> list[str]:
    with gzip.open(QM9_CSV, "rt", newline="") as f:
        return [row["smiles"] for row in csv.DictReader(f)]


def run(generated, train=None, reference=None, cache_dir=None, **kwargs):
    return evaluate(generated, train, reference, progress=False, cache_dir=cache_dir, **kwargs)


def morgan_fps(smiles):
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    return [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]


def cosine(a: Counter, b: Counter) -> float:
    dot = sum(a[k] * b[k] for k in a)
    return dot / math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))


def test_validity_uniqueness_novelty_of_hand_made_samples():
    assert validity(SAMPLES) == 4 / 9
    assert uniqueness(SAMPLES) == 3 / 4
    assert novelty(SAMPLES, TRAIN) == 1 / 3


def test_evaluate_agrees_with_the_small_functions(tmp_path):
    metrics = run(SAMPLES, train=TRAIN, cache_dir=tmp_path)
    assert (metrics["n_samples"], metrics["n_valid"], metrics["n_unique"]) == (9, 4, 3)
    assert metrics["validity"] == 4 / 9
    assert metrics["uniqueness"] == 3 / 4
    assert metrics["novelty"] == 1 / 3


@pytest.mark.parametrize("sample", ["*CC", "CC.O", "C1CC", "", "C(C)(C)(C)(C)C", "[*]C", "C.C"])
def test_strictly_invalid_samples(sample):
    assert validity([sample]) == 0.0
    assert uniqueness([sample]) is None


def test_frechet_distance_of_diagonal_gaussians_by_hand():
    # ||mu1 - mu2||^2 + sum(s1 + s2 - 2 sqrt(s1 s2)) = 1 + (1 + 4 - 4) + (4 + 9 - 12) = 3
    distance = frechet_distance([0.0, 1.0], np.diag([1.0, 4.0]), [1.0, 1.0], np.diag([4.0, 9.0]))
    assert distance == pytest.approx(3.0, abs=1e-12)


@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")
@pytest.mark.parametrize("dim", [8, 64])
def test_frechet_distance_agrees_with_fcd_package(dim):
    from fcd.utils import calculate_frechet_distance

    rng = np.random.default_rng(dim)
    a, b = rng.normal(size=(dim, 2 * dim)), rng.normal(size=(dim, 2 * dim))
    sigma1, sigma2 = a @ a.T / dim, b @ b.T / dim
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    try:
        expected = calculate_frechet_distance(mu1, sigma1, mu2, sigma2)
    except TypeError:  # SciPy >= 1.18 removed sqrtm(disp=...), which fcd 1.2.2 passes
        pytest.skip("fcd.calculate_frechet_distance does not run with this SciPy")
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-4)


def test_frechet_distance_of_a_singular_gaussian_to_itself_is_zero():
    a = np.random.default_rng(0).normal(size=(32, 3))
    sigma = a @ a.T  # rank 3
    assert frechet_distance(np.ones(32), sigma, np.ones(32), sigma) == pytest.approx(0.0, abs=1e-5)


def test_fcd_is_small_between_qm9_samples_and_large_to_alkanes(qm9, tmp_path):
    sample, reference = qm9[0::130][:1000], qm9[65::130][:1000]  # disjoint, spread over QM9
    chains = ["C" * n for n in range(10, 40)] + ["C" * n + "O" for n in range(10, 40)]
    same = run(sample, reference=reference, cache_dir=tmp_path)
    other = run(chains, reference=reference, cache_dir=tmp_path)  # reference from the cache
    assert 0.0 < same["fcd"] < 1.5  # 0.67 observed (FCD is biased upwards at small sizes)
    assert other["fcd"] > 10 * same["fcd"]  # 39 observed
    assert same["fcd_score"] == pytest.approx(math.exp(-0.2 * same["fcd"]))
    assert same["kl_score"] > 0.9 > 0.5 > other["kl_score"]  # 0.99 and 0.11 observed


def test_a_set_against_itself(tmp_path):
    metrics = run(DRUGS, reference=DRUGS, cache_dir=tmp_path)
    assert metrics["snn"] == 1.0
    assert metrics["frag"] == pytest.approx(1.0)
    assert metrics["scaf"] == pytest.approx(1.0)
    assert metrics["kl_score"] == pytest.approx(1.0)
    assert metrics["fcd"] == pytest.approx(0.0, abs=1e-3)
    assert metrics["w1_qed"] == metrics["w1_sa"] == metrics["w1_logp"] == 0.0


def test_internal_diversity_of_one_molecule_is_zero(tmp_path):
    metrics = run(["CCO", "OCC", "C(O)C"], cache_dir=tmp_path)
    assert metrics["intdiv1"] == metrics["intdiv2"] == 0.0
    assert internal_diversity(torch.ones(4, 8), p=2) == 0.0


def test_snn_and_intdiv_match_rdkit_pairwise_tanimoto(tmp_path):
    generated = ["CCO", "CCO", "c1ccccc1O", "CC(=O)O", "CCN", "c1ccncc1", "OCC", "C1CC"]
    reference = ["CCCO", "c1ccccc1", "CC(=O)OC", "NCCO"]
    valid = [s for s in generated if s != "C1CC"]  # duplicates count, as in MOSES
    gen_fps, ref_fps = morgan_fps(valid), morgan_fps(reference)
    snn = np.mean([max(DataStructs.BulkTanimotoSimilarity(fp, ref_fps)) for fp in gen_fps])
    pairs = np.array([DataStructs.BulkTanimotoSimilarity(fp, gen_fps) for fp in gen_fps])
    metrics = run(generated, reference=reference, cache_dir=tmp_path)
    assert metrics["snn"] == pytest.approx(snn, abs=1e-6)
    assert metrics["intdiv1"] == pytest.approx(1 - pairs.mean(), abs=1e-6)
    assert metrics["intdiv2"] == pytest.approx(1 - np.sqrt((pairs**2).mean()), abs=1e-6)


def test_frag_and_scaf_count_as_moses_does(tmp_path):
    generated = DRUGS[:6] + DRUGS[:2] + ["c1ccc2ccccc2c1", "CCCC"]
    reference = DRUGS[4:]
    frags = {
        name: Counter(
            fragment
            for s in smiles
            for fragment in Chem.MolToSmiles(
                Chem.FragmentOnBRICSBonds(Chem.MolFromSmiles(s))
            ).split(".")
        )
        for name, smiles in (("gen", generated), ("ref", reference))
    }

    def scaffolds(smiles):
        cores = [MurckoScaffold.GetScaffoldForMol(Chem.MolFromSmiles(s)) for s in smiles]
        return Counter(Chem.MolToSmiles(c) for c in cores if c.GetRingInfo().NumRings() >= 2)

    metrics = run(generated, reference=reference, cache_dir=tmp_path)
    assert metrics["frag"] == pytest.approx(cosine(frags["gen"], frags["ref"]))
    assert metrics["scaf"] == pytest.approx(cosine(scaffolds(generated), scaffolds(reference)))


def guacamol_kl_score(generated, reference):
    """GuacaMol's KLDivBenchmark recipe, written out with RDKit and SciPy."""

    def table(smiles):
        unique = list(dict.fromkeys(Chem.CanonSmiles(s) for s in smiles))
        mols = [Chem.MolFromSmiles(s) for s in unique]
        values = np.array([[getattr(Descriptors, n)(m) for n in KL_DESCRIPTORS] for m in mols])
        generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=4096)
        fps = [generator.GetFingerprint(m) for m in mols]
        pairs = np.array([DataStructs.BulkTanimotoSimilarity(fp, fps) for fp in fps])
        np.fill_diagonal(pairs, 0.0)
        return np.column_stack([values, pairs.max(1)])

    ref, gen = table(reference), table(generated)
    kls = []
    for i in range(ref.shape[1]):
        if i < 4 or i == len(KL_DESCRIPTORS):  # continuous: KDE on a 1000-point grid
            grid = np.linspace(
                min(ref[:, i].min(), gen[:, i].min()), max(ref[:, i].max(), gen[:, i].max()), 1000
            )
            p, q = gaussian_kde(ref[:, i])(grid) + 1e-10, gaussian_kde(gen[:, i])(grid) + 1e-10
        else:  # counts: 10-bin histograms over the reference's range
            p, bins = np.histogram(ref[:, i], bins=10, density=True)
            q = np.histogram(gen[:, i], bins=bins, density=True)[0]
            p, q = p + 1e-10, q + 1e-10
        kls.append(entropy(p, q))
    return np.mean(np.exp(-np.array(kls)))


def test_kl_score_follows_guacamol(qm9, tmp_path):
    generated, reference = qm9[3::900][:120], qm9[450::900][:120] + DRUGS
    metrics = run(generated + generated[:10], reference=reference, cache_dir=tmp_path)
    assert metrics["kl_score"] == pytest.approx(guacamol_kl_score(generated, reference), rel=1e-6)


def test_all_invalid_samples_give_none_not_nan(tmp_path):
    metrics = run(["", "C1CC", "*C", "CC.O"], train=TRAIN, reference=DRUGS, cache_dir=tmp_path)
    assert KEYS <= metrics.keys()
    assert (metrics["n_samples"], metrics["n_valid"], metrics["validity"]) == (4, 0, 0.0)
    assert all(metrics[k] is None for k in KEYS - {"n_samples", "n_valid", "n_unique", "validity"})


def test_undefined_without_train_or_reference(tmp_path):
    metrics = run(DRUGS, cache_dir=tmp_path)
    assert metrics["novelty"] is None
    for key in (
        "fcd",
        "fcd_score",
        "snn",
        "frag",
        "scaf",
        "w1_qed",
        "w1_sa",
        "w1_logp",
        "kl_score",
    ):
        assert metrics[key] is None
    assert metrics["intdiv1"] > 0.5
    assert run([], cache_dir=tmp_path)["validity"] is None


def test_outputs_are_python_numbers_and_finite(tmp_path):
    metrics = run(SAMPLES + DRUGS, train=TRAIN, reference=DRUGS[::-1] + ["CCO"], cache_dir=tmp_path)
    assert KEYS <= metrics.keys()
    for key, value in metrics.items():
        if key.startswith("unique@"):  # fewer valid samples than 1,000: not measurable
            assert value is None, key
            continue
        assert type(value) is (int if key.startswith("n_") else float), key
        assert math.isfinite(value), key


def test_unique_at_k_counts_the_first_k_valid_samples(qm9, tmp_path):
    distinct = qm9[:1500]
    # 500 invalid samples first, then 1,000 valid with 100 repeats, then 1,000 distinct.
    generated = [""] * 500 + distinct[:900] + distinct[:100] + distinct[500:1500]
    metrics = run(generated, cache_dir=tmp_path)
    assert metrics["unique@1k"] == pytest.approx(0.9)
    assert metrics["unique@10k"] is None  # only 2,000 valid samples
    assert metrics["uniqueness"] == pytest.approx(len(set(generated) - {""}) / 2000)


def test_moses_filters_weight_duplicates(tmp_path):
    # paracetamol passes; an epoxide (MCF5) and a charged amine fail; the duplicate counts twice.
    metrics = run(["CC(=O)Nc1ccc(O)cc1"] * 2 + ["CC1CO1", "CC[NH3+]", "C1CC"], cache_dir=tmp_path)
    assert metrics["filters"] == pytest.approx(2 / 4)


def test_weight_and_scaffold_reference_metrics(tmp_path):
    weights = [Descriptors.MolWt(Chem.MolFromSmiles(s)) for s in DRUGS[:6]]
    metrics = run(DRUGS[:6], reference=DRUGS[6:], scaffold_reference=DRUGS[:6], cache_dir=tmp_path)
    assert metrics["weight_mean"] == pytest.approx(np.mean(weights))
    ref_weights = [Descriptors.MolWt(Chem.MolFromSmiles(s)) for s in DRUGS[6:]]
    assert metrics["w1_weight"] == pytest.approx(wasserstein_distance(weights, ref_weights))
    # against itself as TestSF: every molecule is its own nearest neighbour, same fragments
    assert metrics["snn_testsf"] == pytest.approx(1.0)
    assert metrics["frag_testsf"] == pytest.approx(1.0)
    assert metrics["snn"] < 1.0
    plain = run(DRUGS[:6], reference=DRUGS[6:], cache_dir=tmp_path)
    assert not any(key.endswith("_testsf") for key in plain)


def test_cache_is_written_and_reused(tmp_path):
    first = run(SAMPLES, train=TRAIN, reference=DRUGS, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("reference-*.npz"))) == 1
    (train_file,) = tmp_path.glob("train-*.txt.gz")
    assert gzip.decompress(train_file.read_bytes()).decode().split("\n") == [
        "CC",
        "CCO",
        "c1ccccc1",
    ]
    assert run(SAMPLES, train=TRAIN, reference=DRUGS, cache_dir=tmp_path) == first


def test_unwritable_cache_dir_is_skipped(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    expected = run(SAMPLES, train=TRAIN, reference=DRUGS, cache_dir=tmp_path / "ok")
    assert run(SAMPLES, train=TRAIN, reference=DRUGS, cache_dir=blocker / "cache") == expected


def test_worker_pool_gives_the_in_process_result(qm9, tmp_path):
    samples = qm9[7::250][:510] + ["", "C1CC", "CC.O"]  # above the pool threshold (500)
    train = qm9[0:1000]
    pooled = run(samples, train=train, cache_dir=tmp_path / "a", n_jobs=2)
    assert run(samples, train=train, cache_dir=tmp_path / "b", n_jobs=1) == pooled


def test_tanimoto_of_two_empty_fingerprints_is_one():
    fps = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 1.0]])
    assert tanimoto_matrix(fps, fps).tolist() == [[1.0, 0.0], [0.0, 1.0]]
