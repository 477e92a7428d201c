"""The same book-section scripts, cell by cell, in a real Jupyter kernel (nbclient).

Each ``# %%`` cell of a script becomes a notebook cell. The run must
finish without an error, print the per-epoch lines, reach the book's
accuracy, and show the Animator as one figure updated in place after every
epoch; nothing is written to files in a notebook.
"""

from __future__ import annotations

import os

import pytest

if not os.environ.get("CI"):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

import nbformat  # noqa: E402

from tests.d2l.book import SECTIONS, Section, check_printed  # noqa: E402
from tests.kernel import RecordingClient  # noqa: E402

pytestmark = pytest.mark.realdata

FIGURE_TYPES = ("image/svg+xml", "image/png")


def notebook_of(section: Section):
    """A notebook with the script's cells, after one that seeds torch's generator."""
    cells = [c.strip() for c in section.path.read_text().split("# %%")]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import torch\ntorch.manual_seed(0)")]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells if c and not c.startswith('"""')]
    return nb


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.stem)
def test_book_section_runs_in_a_kernel(section, tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own inline backend
    monkeypatch.setenv("SHALLOWNET_FIGURES", str(tmp_path / "figures"))
    nb = notebook_of(section)
    client = RecordingClient(nb, timeout=600, kernel_name="python3",
                             resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on any error in a cell

    outputs = [o for cell in nb.cells for o in cell.outputs]
    stdout = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    check_printed(section, stdout)
    stderr = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert "Warning" not in stderr, stderr

    figures = [o for o in outputs if o.output_type == "display_data"
               and any(kind in o.data for kind in FIGURE_TYPES)]
    assert len(figures) == len(section.figures), outputs
    if section.epochs:  # the Animator: one figure, redrawn once per further epoch
        assert len(client.updates) == section.epochs - 1
        assert all(any(kind in u["data"] for kind in FIGURE_TYPES) for u in client.updates)
    assert not (tmp_path / "figures").exists()  # the cell shows figures; no files
