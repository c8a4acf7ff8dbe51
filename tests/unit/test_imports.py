"""The import graph: `import molgan` and `molgan --help` stay light (no torch, fcd or SciPy)."""

import subprocess
import sys

import pytest

import molgan

HEAVY = ("torch", "rdkit", "torch_geometric", "fcd", "scipy")


def loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in out.stdout.split()}


@pytest.mark.parametrize(
    "code",
    [
        "import molgan",
        "from molgan.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
        "from molgan.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass",
    ],
)
def test_start_up_imports_nothing_heavy(code):
    assert not loaded_after(code) & set(HEAVY)


def test_loading_a_model_does_not_import_the_metrics_stack():
    assert not loaded_after("from molgan import MolGAN") & {"fcd", "scipy"}


def test_every_public_name_resolves():
    for name in molgan.__all__:
        assert getattr(molgan, name) is not None, name
    assert molgan.metrics.evaluate is molgan.evaluate  # submodules resolve too
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        molgan.nothing  # noqa: B018


def test_all_lists_exactly_the_lazy_exports():
    assert set(molgan.__all__) == set(molgan._EXPORTS) | {"__version__"}


def test_an_older_python_gets_a_clear_error_and_the_package_metadata_agrees():
    # pyproject.toml asks for 3.11 (tomllib); a source checkout on 3.10 must say so, not fail
    # somewhere inside molgan.config.
    probe = "import sys\nsys.version_info = (3, 10, 13, 'final', 0)\nimport molgan"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.returncode == 1
    assert "molgan needs Python 3.11 or newer" in out.stderr and "Python 3.10" in out.stderr
    import tomllib
    from pathlib import Path

    pyproject = Path(molgan.__file__).parents[1] / "pyproject.toml"
    project = tomllib.loads(pyproject.read_text())["project"]
    assert project["requires-python"] == ">=3.11"
