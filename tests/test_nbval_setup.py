"""The notebook check is itself checked: nbval, run the way scripts/test runs
it, must pass notebooks whose stored outputs are right and fail those whose
stored outputs have drifted.

The sample notebooks are built in code (as nbval's own tests/utils.py does)
in a temporary directory, named test-<what>-<pass|fail>-<why>.ipynb; the name
says which outcome is expected.
"""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

SANITIZE = Path(__file__).with_name("nbval_sanitize.cfg")


def _nb(*cells):
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _stdout(text):
    return new_output("stream", name="stdout", text=text)


def _result(text, count):
    return new_output("execute_result", data={"text/plain": text}, execution_count=count)


def _display(text):
    return new_output("display_data", data={"text/plain": text})


FIGURE = """\
%matplotlib inline
import matplotlib.pyplot as plt
fig, axs = plt.subplots(1, 2)
plt.show()"""

SAMPLES = {
    "test-print-pass.ipynb": _nb(
        new_code_cell('print("hello")', outputs=[_stdout("hello\n")], execution_count=1),
    ),
    "test-print-fail-wrong-output.ipynb": _nb(
        new_code_cell('print("hello")', outputs=[_stdout("goodbye\n")], execution_count=1),
    ),
    # The address differs on every run; tests/nbval_sanitize.cfg masks it.
    # (IPython's pretty printer shows object() as <object at 0x...>.)
    "test-address-pass-sanitized.ipynb": _nb(
        new_code_cell("object()", outputs=[_result("<object at 0xdeadbeef>", 1)],
                      execution_count=1),
    ),
    # Figure size and axes count are part of the output, deliberately.
    "test-figure-pass.ipynb": _nb(
        new_code_cell(FIGURE, outputs=[_display("<Figure size 640x480 with 2 Axes>")],
                      execution_count=1),
    ),
    "test-figure-fail-axes-count.ipynb": _nb(
        new_code_cell(FIGURE, outputs=[_display("<Figure size 640x480 with 1 Axes>")],
                      execution_count=1),
    ),
}


@pytest.fixture(scope="module")
def nbval_outcomes(tmp_path_factory):
    """Run nbval once over all samples; map notebook name -> list of outcomes."""
    folder = tmp_path_factory.mktemp("nbval_samples")
    for name, nb in SAMPLES.items():
        nbformat.write(nb, folder / name)
    proc = subprocess.run(
        # "--opt=value" in one argument: pytest would take a bare path value as
        # a place to look for its config, and pick up the repository's.
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env",
         f"--nbval-sanitize-with={SANITIZE}", "-p", "no:cacheprovider", "-rA", "."],
        cwd=folder, capture_output=True, text=True, timeout=300, check=False,
    )
    outcomes = {}
    for m in re.finditer(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+?\.ipynb)::",
                         proc.stdout, re.MULTILINE):
        outcomes.setdefault(Path(m[2]).name, []).append(m[1])
    return proc, outcomes


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_nbval_sample_outcome(nbval_outcomes, name):
    proc, outcomes = nbval_outcomes
    got = outcomes.get(name)
    assert got, f"nbval reported nothing for {name}:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
    if "-pass" in name:
        assert set(got) == {"PASSED"}, f"{name}: {got}\n{proc.stdout[-3000:]}"
    else:
        assert "FAILED" in got, f"{name} should fail but nbval gave {got}"


def test_nbval_run_fails_as_a_whole(nbval_outcomes):
    proc, _ = nbval_outcomes
    assert proc.returncode == 1, proc.stdout[-3000:]
