"""In a real Jupyter kernel a search draws its optimisation history and redraws it in place."""

from __future__ import annotations

import os

import pytest

if not os.environ.get("CI"):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

import nbformat  # noqa: E402

from tests.kernel import RecordingClient  # noqa: E402

CELL = """
from shallownet.training.config import RunConfig
from shallownet.tune import tune

base = RunConfig.from_dict({"model": {"model": "linreg"},
                            "data": {"name": "synthetic-linear", "num_examples": 200}})
result = tune({"lr": "choice:0.01,0.02,0.03"}, base, sampler="grid", out="search",
              retrain=False, plots=False)
"""


def test_the_history_is_drawn_once_and_redrawn_per_finished_trial(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELL)]
    client = RecordingClient(nb, timeout=180, kernel_name="python3",
                             resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = nb.cells[0].outputs
    displays = [o for o in outputs if o.output_type == "display_data"]
    assert len(displays) == 1, outputs
    assert displays[0].data["image/png"]
    assert len(client.updates) == 2  # trials 1 and 2 redraw the figure of trial 0
    assert all("image/png" in u["data"] for u in client.updates)
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "trial 0" in text and "trial 2" in text
    assert "Warning" not in text
