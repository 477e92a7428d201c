"""In a real Jupyter kernel the trainer redraws its curves after every epoch.

Runs a notebook cell through nbclient and ipykernel (dev extras): the
cell's output must hold one PNG display whose id receives an update per
further epoch, and the per-epoch lines.
"""

from __future__ import annotations

import os

import pytest

if not os.environ.get("CI"):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

import nbformat  # noqa: E402

from tests.kernel import RecordingClient  # noqa: E402

CELL = """
from shallownet.registry import ModelConfig, build
from shallownet.training import DataSpec, Trainer, load_training_data

data = load_training_data(DataSpec(name="synthetic-linear", num_examples=200))
setup = build(ModelConfig(model="linreg"), input_shape=data.input_shape, num_outputs=1, seed=0)
history = Trainer(epochs=3, batch_size=10, seed=0).fit(setup, data)
"""


def test_trainer_draws_and_redraws_its_curves_in_a_kernel(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELL)]
    client = RecordingClient(nb, timeout=180, kernel_name="python3",
                             resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = nb.cells[0].outputs
    displays = [o for o in outputs if o.output_type == "display_data"]
    assert len(displays) == 1, outputs  # one figure, redrawn in place
    assert displays[0].data["image/png"]
    display_id = displays[0].transient["display_id"] if "transient" in displays[0] else None
    assert len(client.updates) == 2  # epochs 2 and 3
    assert all("image/png" in u["data"] for u in client.updates)
    if display_id is not None:
        assert all(u["transient"]["display_id"] == display_id for u in client.updates)
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "epoch 1/3" in text and "epoch 3/3" in text
    assert "Warning" not in text
