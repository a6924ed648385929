"""The package around the code: pyproject.toml builds a wheel that holds the library, its CLI and
the models' serving files and cards; the requirement files, pyproject and constraints.txt agree;
an installed ``fer`` finds its models and says so when PyPI's ``fer`` shares its folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scripts.constraints import requirement_lines
from tests.shared_data import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _names(requirements) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in requirements}


def test_pyproject_dependencies_are_the_requirement_files():
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["dependencies"]["file"]
    assert (
        dynamic == ["requirements-serve.txt"] and "dependencies" in PYPROJECT["project"]["dynamic"]
    )
    # the train extra is what requirements.txt adds to the serving requirements
    own = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-r"))
    ]
    train = PYPROJECT["project"]["optional-dependencies"]["train"]
    assert {str(r) for r in map(Requirement, train)} == {
        str(Requirement(line.split(" #")[0].strip())) for line in own
    }


def test_every_subpackage_of_fer_is_packaged():
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "fer").rglob("__init__.py")
    }
    assert packages == on_disk | {"fer.model_files"}
    assert PYPROJECT["project"]["scripts"] == {"fer-dashboard": "fer.cli:main"}
    from fer.cli import main

    assert callable(main)


def test_constraints_pin_every_requirement_at_a_version_it_allows():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    for name, req in _names(requirement_lines(ROOT / "requirements-dev.txt")).items():
        assert name in pins, f"constraints.txt has no {req.name}: python3 scripts/constraints.py"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {req.name}=={pins[name]}, outside {req}"
        )


def test_models_dir_prefers_env_then_installed_copy_then_checkout(monkeypatch, tmp_path):
    from fer import settings

    monkeypatch.delenv("FER_MODELS_DIR", raising=False)
    monkeypatch.setattr(settings, "INSTALLED_MODELS", tmp_path / "absent")
    assert settings.models_dir() == settings.PROJECT_ROOT / "models"
    monkeypatch.setattr(settings, "INSTALLED_MODELS", tmp_path)
    assert settings.models_dir() == tmp_path
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path / "mine"))
    assert settings.models_dir() == tmp_path / "mine"


def test_wheel_holds_library_cli_and_serving_models(tmp_path):
    """The wheel `pip install .` builds (setuptools, without network), from a copy of the sources
    that matter; the .keras files stay out of it."""
    source = tmp_path / "src"
    shutil.copytree(ROOT / "fer", source / "fer", ignore=shutil.ignore_patterns("__pycache__"))
    (source / "models").mkdir()
    shipped = sorted(
        p.name for p in (ROOT / "models").iterdir() if p.suffix in (".json", ".tflite")
    )
    for name in shipped:
        shutil.copy(ROOT / "models" / name, source / "models" / name)
    (source / "models" / "big.keras").write_bytes(b"not shipped")
    for name in ("pyproject.toml", "README.md", "requirements-serve.txt"):
        shutil.copy(ROOT / name, source / name)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    (wheel,) = (tmp_path / "dist").glob("fer_dashboard-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = Parser().parsestr(z.read(next(n for n in names if n.endswith("/METADATA"))).decode())
        entry_points = z.read(next(n for n in names if n.endswith("/entry_points.txt"))).decode()
    assert {"fer/__init__.py", "fer/cli.py", "fer/training/__init__.py"} <= names
    assert {n for n in names if n.startswith("fer/model_files/")} == {
        f"fer/model_files/{name}" for name in shipped
    }
    assert "json" in {n.rsplit(".", 1)[-1] for n in names if n.startswith("fer/model_files/")}
    assert not any(n.endswith(".keras") for n in names)
    assert "fer-dashboard = fer.cli:main" in entry_points
    assert meta["Name"] == "fer-dashboard"
    requires = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    serving = _names(requirement_lines(ROOT / "requirements-serve.txt"))
    assert {canonicalize_name(r.name) for r in requires if not r.marker} == set(serving)
    assert {canonicalize_name(r.name) for r in requires if r.marker} == {"tensorflow", "keras"}
    assert meta.get_all("Provides-Extra") == ["train"]


@pytest.mark.parametrize("other_files", [[], ["fer.py", "classes.py"]])
def test_import_says_when_pypi_fer_shares_the_folder(tmp_path, other_files):
    site = tmp_path / "site"
    shutil.copytree(ROOT / "fer", site / "fer", ignore=shutil.ignore_patterns("__pycache__"))
    for name in other_files:  # what `pip install fer` writes into the same folder
        (site / "fer" / name).write_text("class FER: ...\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    r = subprocess.run(
        [sys.executable, "-c", "import fer; print(fer.Analyzer.__name__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 0 and r.stdout.strip() == "Analyzer", r.stderr
    if other_files:
        assert "PyPI's 'fer' package" in r.stderr and "own virtual environment" in r.stderr
    else:
        assert "PyPI" not in r.stderr
