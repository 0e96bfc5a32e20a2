"""Packaging and project-infrastructure checks.

There is no conda here, so environment.yml is checked against pyproject.toml
with PyYAML: both must name the same packages with the same version
constraints, and environment.yml must be what Binder (repo2docker) expects.
"""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENV = yaml.safe_load((ROOT / "environment.yml").read_text())

# In environment.yml but not a dependency of the package.
CONDA_ONLY = {"python", "pip"}


def pyproject_requirements():
    """name -> SpecifierSet for the runtime dependencies and every extra."""
    project = PYPROJECT["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    reqs = {}
    for line in lines:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        if name == canonicalize_name(project["name"]):
            continue  # contig[views] inside contig[course]: a self-reference
        assert name not in reqs, f"{name} listed twice in pyproject.toml"
        reqs[name] = req.specifier
    return reqs


def conda_specifier(spec):
    """Translate a conda version spec ('>=1.26', '=3.11', '==0.1') to PEP 440."""
    spec = spec.replace(" ", "")
    if re.fullmatch(r"=[^=<>!]+", spec):  # conda's '=1.2' means 1.2.*
        spec = f"={spec}.*"
    return SpecifierSet(spec)


def environment_requirements():
    """name -> SpecifierSet for environment.yml (conda and pip sections)."""
    reqs = {}
    for dep in ENV["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                if line.startswith("-e"):
                    continue
                req = Requirement(line)
                reqs[canonicalize_name(req.name)] = req.specifier
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(.*)", dep)
        assert m, f"cannot parse conda dependency {dep!r}"
        name = canonicalize_name(m[1])
        assert name not in reqs, f"{name} listed twice in environment.yml"
        reqs[name] = conda_specifier(m[2])
    return reqs


def test_environment_yml_names_the_same_packages_as_pyproject():
    env = {k: v for k, v in environment_requirements().items() if k not in CONDA_ONLY}
    pyp = pyproject_requirements()
    assert sorted(env) == sorted(pyp), (
        f"only in environment.yml: {sorted(set(env) - set(pyp))}; "
        f"only in pyproject.toml: {sorted(set(pyp) - set(env))}"
    )


def test_environment_yml_versions_match_pyproject():
    env = environment_requirements()
    for name, spec in pyproject_requirements().items():
        assert env[name] == spec, (
            f"{name}: environment.yml says {str(env[name])!r}, pyproject.toml says {str(spec)!r}"
        )


def test_environment_yml_python_satisfies_requires_python():
    python = environment_requirements()["python"]
    requires = SpecifierSet(PYPROJECT["project"]["requires-python"])
    version = re.search(r"\d+(\.\d+)+", str(python))[0]
    assert requires.contains(version), f"python {python} vs requires-python {requires}"


def test_environment_yml_is_valid_for_binder():
    assert (ROOT / "environment.yml").is_file(), "repo2docker reads environment.yml at the root"
    assert ENV["name"] == "contig"
    assert "conda-forge" in ENV["channels"]
    deps = ENV["dependencies"]
    assert isinstance(deps, list)
    pip_sections = [d for d in deps if isinstance(d, dict)]
    assert len(pip_sections) == 1, "one pip: section"
    assert list(pip_sections[0]) == ["pip"]
    assert "-e ." in pip_sections[0]["pip"], "Binder must install the package itself"
    assert "pip" in deps, "conda needs pip listed to run a pip: section"
    assert all(isinstance(d, str | dict) for d in deps)


def test_ruff_is_pinned_exactly():
    spec = pyproject_requirements()["ruff"]
    (only,) = list(spec)
    assert only.operator == "==", f"ruff must be pinned exactly: {spec}"
    assert "*" not in only.version, f"ruff must be pinned exactly: {spec}"


def test_import_contig_does_not_import_views():
    code = (
        "import contig, sys; "
        "assert 'matplotlib' not in sys.modules and 'ipywidgets' not in sys.modules, "
        "sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'ipywidgets'))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr


def readme_commands():
    text = (ROOT / "README.md").read_text()
    return [line.strip() for line in text.splitlines() if line.startswith("./scripts/")]


def test_readme_gives_the_three_commands():
    assert readme_commands() == ["./scripts/course", "./scripts/test", "./scripts/site"]


@pytest.mark.parametrize("command", ["./scripts/course", "./scripts/test", "./scripts/site"])
def test_readme_commands_are_executable(command):
    path = ROOT / command
    assert path.is_file(), f"{command} is missing"
    assert os.access(path, os.X_OK), f"{command} is not executable"
    assert path.read_text().startswith("#!"), f"{command} has no shebang"


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^\s*\./scripts/test\s*$", script, re.MULTILINE), (
        ".ci/run must call ./scripts/test exactly as README.md gives it"
    )


def test_readme_has_contents_markers():
    text = (ROOT / "README.md").read_text()
    start, end = text.find("<!-- CONTENTS START -->"), text.find("<!-- CONTENTS END -->")
    assert 0 < start < end
    assert "## Contents" in text[:start]


def test_every_data_file_is_package_data():
    """A wheel ships contig/data only where package-data names it (setuptools globs one level
    per `*`): every shipped snapshot, recorded run and log must match a pattern."""
    from fnmatch import fnmatchcase

    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["contig"]
    data = ROOT / "contig" / "data"
    files = [p.relative_to(ROOT / "contig").as_posix() for p in data.rglob("*") if p.is_file()]
    assert files
    missing = [f for f in files
               if not any(fnmatchcase(f, pat) and f.count("/") == pat.count("/") for pat in patterns)]
    assert not missing, f"not in package-data: {missing[:5]}"
