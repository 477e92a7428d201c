"""The same section scripts, cell by cell, in a real Jupyter kernel (nbclient).

Each ``# %%`` cell of a script becomes a notebook cell, after one that seeds
the generators. The run (``SHALLOWNET_QUICK=1``) must finish without an
error, print the edition's per-epoch lines, learn, and show each figure in
its cell; nothing is written to files in a notebook. The kernels of the
selected sections run together (as many at a time as there are CPUs) when
the first test needs one.
"""

from __future__ import annotations

import asyncio
import os

import pytest

if not os.environ.get("CI"):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

import nbformat  # noqa: E402

from tests.d2lzh.sections import (  # noqa: E402
    SECTIONS,
    SEEDING,
    Section,
    check_printed,
    run_env,
    selected_sections,
    unexpected_stderr,
)
from tests.kernel import RecordingClient  # noqa: E402

pytestmark = pytest.mark.realdata

FIGURE_TYPES = ("image/svg+xml", "image/png")


def notebook_of(section: Section):
    """A notebook with the script's cells, after one that seeds the generators."""
    cells = [c.strip() for c in section.path.read_text().split("# %%")]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SEEDING.replace("; ", "\n"))]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells if c and not c.startswith('"""')]
    return nb


async def execute_all(clients: dict[str, RecordingClient], env: dict[str, str]) -> dict:
    """Run every client's notebook, a few kernels at a time; ``{script: exception or None}``."""
    limit = asyncio.Semaphore(max(2, os.cpu_count() or 1))

    async def execute(client: RecordingClient):
        async with limit:
            await client.async_execute(env=env)

    results = await asyncio.gather(*(execute(c) for c in clients.values()),
                                    return_exceptions=True)
    return dict(zip(clients, results, strict=True))


@pytest.fixture(scope="module")
def executed(request, tmp_path_factory):
    """``{script: (client, error or None, working directory)}`` after all kernels finished."""
    directory = tmp_path_factory.mktemp("kernels")
    env = run_env(directory)
    env.pop("MPLBACKEND", None)  # the kernel's own inline backend
    clients = {
        section.script: RecordingClient(notebook_of(section), timeout=600,
                                        kernel_name="python3",
                                        resources={"metadata": {"path": str(directory)}})
        for section in selected_sections(request)
    }
    errors = asyncio.run(execute_all(clients, env))
    return {script: (client, errors[script], directory) for script, client in clients.items()}


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.stem)
def test_section_runs_in_a_kernel(section, executed):
    client, error, directory = executed[section.script]
    if error is not None:
        raise error  # a CellExecutionError names the cell and its traceback

    outputs = [o for cell in client.nb.cells for o in cell.outputs]
    stdout = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    check_printed(section, stdout)
    stderr = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert "Warning" not in unexpected_stderr(stderr), stderr

    figures = [o for o in outputs if o.output_type == "display_data"
               and any(kind in o.data for kind in FIGURE_TYPES)]
    assert len(figures) == len(section.figures), outputs
    assert not client.updates  # the edition's helpers draw each figure once
    assert not (directory / "figures").exists()  # the cells show figures; no files
