"""The current edition's section scripts run as plain scripts and in a Jupyter kernel.

Each script in ``examples/d2l_v1/`` runs (a) in a fresh ``python`` process
with the Agg backend, as a learner would run it over SSH, and (b) cell by
cell in a real Jupyter kernel, both with ``SHALLOWNET_QUICK=1``, one thread,
an empty user cache and the generators seeded from outside. Either way it
must finish, print one line per epoch of every fit, learn, and warn about
nothing. As a script it writes each figure to a PNG file and says where; in
a kernel it writes no file, each board is one display output updated in
place (``update_display_data``) and each other figure one output. The runs
of each kind start together, as many at a time as there are CPUs, when the
first test of that kind needs one.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.d2l.conftest import PNG_MAGIC
from tests.d2l.sections_v1 import SECTIONS, Section, check_printed, unexpected_stderr
from tests.d2lzh.sections import SEEDING, run_env

pytestmark = pytest.mark.realdata

#: Seeds the generators, then runs the script as ``python SCRIPT`` would.
RUNNER = (f"{SEEDING}; import runpy, sys; sys.argv = sys.argv[1:]; "
          "runpy.run_path(sys.argv[0], run_name='__main__')")
FIGURE_TYPES = ("image/svg+xml", "image/png")
WORKERS = max(2, os.cpu_count() or 1)


def selected(request, test_name: str) -> list[Section]:
    """The sections whose ``test_name`` test runs in this session (all, or those chosen),
    longest runs first (training on Fashion-MNIST, most epochs), so that the last to
    start are short ones."""
    sections = [item.callspec.params["section"] for item in request.session.items
                if item.module is request.module and item.originalname == test_name]
    return sorted(sections, key=lambda s: (not s.fashion_mnist, -sum(s.fits)))


# --- (a) as scripts ----------------------------------------------------------------------------


def run_script(section: Section, directory) -> subprocess.CompletedProcess:
    env = {**run_env(directory), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-c", RUNNER, str(section.path)], cwd=directory,
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def script_runs(request, tmp_path_factory):
    """``{script: (future of the finished process, its working directory)}``, all started."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        started = {}
        for section in selected(request, "test_section_runs_as_a_script"):
            directory = tmp_path_factory.mktemp(section.stem)
            started[section.script] = (pool.submit(run_script, section, directory), directory)
        yield started


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.stem)
def test_section_runs_as_a_script(section, script_runs):
    future, directory = script_runs[section.script]
    proc = future.result()
    assert proc.returncode == 0, proc.stderr
    check_printed(section, proc.stdout)
    assert unexpected_stderr(section, proc.stderr) == [], proc.stderr  # no warning, traceback

    figures = directory / "figures"
    expected = [f"{section.stem}-{i}-{kind}.png" for i, kind in enumerate(section.figures, 1)]
    written = sorted(p.name for p in figures.glob("*.png")) if figures.exists() else []
    assert written == sorted(expected), proc.stderr
    for name in expected:
        assert f"d2l: figure written to {figures / name}\n" in proc.stderr
        data = (figures / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000, name


# --- (b) in a Jupyter kernel -------------------------------------------------------------------


def notebook_of(section: Section):
    """A notebook of the script's ``# %%`` cells, after one that seeds the generators."""
    import nbformat

    cells = [c.strip() for c in section.path.read_text().split("# %%")]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SEEDING.replace("; ", "\n"))]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells if c and not c.startswith('"""')]
    return nb


def recording_client(nb, directory):
    """A RecordingClient (it keeps the updates) that also keeps each displayed figure's
    ``display_id`` (None when it has none), in order."""
    from tests.kernel import RecordingClient

    class Client(RecordingClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.display_ids = []

        def process_message(self, msg, cell, cell_index):
            content = msg.get("content", {})
            if msg["msg_type"] == "display_data" and any(k in content.get("data", {})
                                                         for k in FIGURE_TYPES):
                self.display_ids.append(content.get("transient", {}).get("display_id"))
            return super().process_message(msg, cell, cell_index)

    return Client(nb, timeout=600, kernel_name="python3",
                  resources={"metadata": {"path": str(directory)}})


async def execute_all(clients: dict, env: dict[str, str]) -> dict:
    """Run every client's notebook, a few kernels at a time; ``{script: exception or None}``."""
    limit = asyncio.Semaphore(WORKERS)

    async def execute(client):
        async with limit:
            await client.async_execute(env=env)

    results = await asyncio.gather(*(execute(c) for c in clients.values()),
                                   return_exceptions=True)
    return dict(zip(clients, results, strict=True))


@pytest.fixture(scope="module")
def kernel_runs(request, tmp_path_factory):
    """``{script: (client, error or None, working directory)}`` after all kernels finished."""
    if not os.environ.get("CI"):
        pytest.importorskip("nbclient")
        pytest.importorskip("ipykernel")
    directory = tmp_path_factory.mktemp("kernels")
    env = run_env(directory)
    env.pop("MPLBACKEND", None)  # the kernel's own inline backend
    clients = {section.script: recording_client(notebook_of(section), directory)
               for section in selected(request, "test_section_runs_in_a_kernel")}
    errors = asyncio.run(execute_all(clients, env))
    return {script: (client, errors[script], directory) for script, client in clients.items()}


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.stem)
def test_section_runs_in_a_kernel(section, kernel_runs):
    client, error, directory = kernel_runs[section.script]
    if error is not None:
        raise error  # a CellExecutionError names the cell and its traceback

    outputs = [o for cell in client.nb.cells for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stdout = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    check_printed(section, stdout)
    stderr = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert unexpected_stderr(section, stderr) == [], stderr

    figures = [o for o in outputs if o.output_type == "display_data"
               and any(kind in o.data for kind in FIGURE_TYPES)]
    assert len(figures) == len(section.figures), outputs  # one output per figure
    # Each board is displayed once with a display_id, then redrawn in place (at least when
    # its cell or fit ends); the other figures are shown once, with none.
    boards = [i for i in client.display_ids if i is not None]
    assert len(boards) == len(set(boards)) == section.figures.count("board"), client.display_ids
    updated = [u.get("transient", {}).get("display_id") for u in client.updates]
    assert set(updated) == set(boards), updated
    assert all(any(kind in u["data"] for kind in FIGURE_TYPES) for u in client.updates)
    assert not (directory / "figures").exists()  # the cells show figures; no files
