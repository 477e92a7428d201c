"""The example notebooks and scripts of ``examples/``: in sync, and running on small settings.

Each ``examples/NN_name.py`` is the source of ``NN_name.ipynb``. The
notebooks run headless in a real Jupyter kernel (nbclient, ipykernel) and
the scripts in a plain Python process, with the parameters cell set to a
few epochs on part of the data. A cell that raises fails the test, and
so does a warning on stderr; the figures must appear (in the notebook as
images, from a script as PNG files), the Trainer's live plot must draw
and then redraw in place after every further epoch, and a search's
optimisation history after every further trial.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

if not os.environ.get("CI"):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

import nbformat  # noqa: E402

from tests.examples.conftest import NOTEBOOK_SECONDS  # noqa: E402
from tests.kernel import RecordingClient  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_spec = importlib.util.spec_from_file_location("make_notebooks", EXAMPLES / "make_notebooks.py")
make_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_notebooks)

SCRIPTS = make_notebooks.scripts()
#: The settings CI runs every example with (only those its parameters cell has).
SMALL = {"num_epochs": 2, "max_train": 2000, "max_test": 500, "num_trials": 3}

#: Script -> (figures it shows, Trainer runs with a live plot).
FIGURES = {
    "01_linear_regression_scratch": (1, 1),
    "02_linear_regression_concise": (0, 1),
    "03_fashion_mnist": (1, 0),
    "04_softmax_regression_scratch": (1, 1),
    "05_softmax_regression_concise": (1, 1),
    "06_mlp_scratch": (1, 1),
    "07_mlp_concise": (0, 1),
    "08_loss_functions": (1, 0),
    "09_diabetes_logistic_regression": (0, 1),
    "10_cnn_first_layers": (0, 1),
    "11_accuracy_per_second": (1, 0),
    "12_tuning": (2, 2),
    "13_numerical_stability": (5, 0),
    "14_house_prices": (0, 0),
}
#: Script -> searches (``tune``) whose optimisation history draws in the notebook, then
#: redraws after every further trial (the first trial of each finishes: seed 0).
SEARCHES = {"12_tuning": 1}


def small(script: Path) -> dict:
    names = make_notebooks.parameter_names(script)
    return {k: v for k, v in SMALL.items() if k in names}


def test_every_example_is_listed_here_and_in_the_readme():
    assert [s.stem for s in SCRIPTS] == sorted(FIGURES)
    readme = (EXAMPLES / "README.md").read_text()
    for script in SCRIPTS:
        assert f"{script.stem}.ipynb" in readme, script.name


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_is_its_script(script):
    """The committed notebook is what make_notebooks.py writes from the script."""
    notebook = script.with_suffix(".ipynb")
    assert notebook.exists(), f"run python examples/make_notebooks.py to write {notebook.name}"
    assert notebook.read_text(encoding="utf-8") == make_notebooks.notebook_text(script), (
        f"{notebook.name} differs from {script.name}: run python examples/make_notebooks.py"
    )
    nb = nbformat.read(notebook, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert make_notebooks.parameter_names(script), "every example has a parameters cell"


def test_parameters_are_injected_after_the_parameters_cell():
    nb = make_notebooks.notebook(SCRIPTS[0])
    injected = make_notebooks.with_parameters(nb, num_epochs=2)
    index = next(i for i, c in enumerate(injected.cells)
                 if "parameters" in c.metadata.get("tags", []))
    assert injected.cells[index + 1].source == "num_epochs = 2"
    assert len(injected.cells) == len(nb.cells) + 1
    with pytest.raises(ValueError, match="not parameters"):
        make_notebooks.with_parameters(nb, epochs=2)


def test_cells_of_a_percent_script():
    text = ('# %% [markdown]\n# # Title\n#\n# Text.\n\n# %% tags=["parameters"]\nn = 1\n\n'
            "# %%\nprint(n)\n\n\n# %%\n\n")
    cells = make_notebooks.cells(text)
    assert [(c["kind"], c["source"], c["tags"]) for c in cells] == [
        ("markdown", "# Title\n\nText.", []),
        ("code", "n = 1", ["parameters"]),
        ("code", "print(n)", []),
    ]
    with pytest.raises(ValueError, match="before the first"):
        make_notebooks.cells("import os\n# %%\n")


@pytest.mark.realdata
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_runs_in_a_kernel(script, tmp_path, tmp_path_factory, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own inline backend
    monkeypatch.setenv("SHALLOWNET_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("TMPDIR", str(tmp_path_factory.mktemp("tmpdir")))  # for the kernel
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    settings = small(script)
    nb = make_notebooks.with_parameters(nbformat.read(script.with_suffix(".ipynb"), 4),
                                        **settings)
    client = RecordingClient(nb, timeout=600, kernel_name="python3",
                             resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on any error in a cell
    NOTEBOOK_SECONDS[script.with_suffix(".ipynb").name] = time.perf_counter() - start

    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    stderr = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert "Warning" not in stderr, stderr
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    figures, live = FIGURES[script.stem]
    searches = SEARCHES.get(script.stem, 0)
    assert len(images) == figures + live + searches, outputs
    assert all(u["data"].get("image/png") for u in client.updates)
    assert len(client.updates) == (live * (settings.get("num_epochs", 1) - 1)
                                   + searches * (settings.get("num_trials", 1) - 1))
    stdout = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    if live:
        epochs = settings["num_epochs"]
        assert re.search(rf"epoch +{epochs}/{epochs} ", stdout) or "run directory" in stdout
    # The cells show the figures (no files), and nothing is left in the kernel's directory.
    assert list(tmp_path.iterdir()) == []


@pytest.mark.realdata
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_script_runs_in_python(script, tmp_path):
    """The plain script, settings replaced: its figures become PNG files, nothing on stderr.

    It runs in an empty working directory, where it leaves nothing but its
    figures: anything else it writes goes to a temporary directory.
    """
    lines = [f"{k} = {v!r}" for k, v in small(script).items()]
    source = script.read_text(encoding="utf-8")
    marker = '# %% tags=["parameters"]\n'
    start = source.index(marker)
    end = source.index("\n# %%", start + len(marker))
    source = source[:end] + "\n" + "\n".join(lines) + "\n" + source[end:]
    copy = tmp_path / script.name
    copy.write_text(source, encoding="utf-8")
    cwd, figures, tmpdir = tmp_path / "cwd", tmp_path / "cwd" / "figures", tmp_path / "tmp"
    cwd.mkdir()
    tmpdir.mkdir()
    env = {**os.environ, "MPLBACKEND": "Agg", "SHALLOWNET_FIGURES": str(figures),
           "TMPDIR": str(tmpdir), "OMP_NUM_THREADS": "2", "PYTHONWARNINGS": "default"}
    result = subprocess.run([sys.executable, str(copy)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    written = sorted(p.name for p in figures.glob("*.png")) if figures.exists() else []
    assert len(written) == FIGURES[script.stem][0], written
    for name in written:
        assert f"figure: {figures / name}" in result.stdout
    left = sorted(p.name for p in cwd.iterdir())
    assert left == (["figures"] if written else []), f"left in the working directory: {left}"
    if written:
        assert sorted(p.name for p in figures.iterdir()) == written
