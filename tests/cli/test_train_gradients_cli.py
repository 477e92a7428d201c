"""``shallownet train --watch-gradients``: the warning line, the files, TensorBoard's histograms."""

from __future__ import annotations

import pytest

from tests.cli.clitools import run
from tests.conftest import requires_real_data
from tests.training.test_tensorboard import read_log

TINY = ("--model", "mlp", "--max-train", "512", "--max-test", "128", "--epochs", "2")
DEEP = ("--hidden", "64,64,64,64,64,64,64,64", "--activation", "sigmoid")

pytestmark = requires_real_data


def test_vanishing_gradients_are_one_warning_line_naming_the_layers(capsys, tmp_path):
    code, out, err = run(capsys, "train", *TINY, *DEEP, "--watch-gradients", "--no-plots",
                         "--out", tmp_path / "run")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("shallownet: warning:")]
    assert len(warnings) >= 1 and "at initialisation the gradients of" in warnings[0]
    assert "layer1 (64x784)" in warnings[0] and "--init kaiming" in warnings[0]
    assert (tmp_path / "run" / "gradients.csv").is_file()
    assert not (tmp_path / "run" / "gradients.png").exists()  # --no-plots


def test_the_histograms_and_scalars_go_to_tensorboard(capsys, tmp_path):
    pytest.importorskip("tensorboard")
    code, _, err = run(capsys, "train", *TINY, "--watch-gradients", "--tensorboard", "-q",
                       "--out", tmp_path / "run")
    assert code == 0, err
    acc = read_log(tmp_path / "run")
    tags = acc.Tags()
    assert {"gradient/layer1", "gradient/layer2", "weight/layer1"} <= set(tags["histograms"])
    assert [e.step for e in acc.Histograms("gradient/layer1")] == [0, 1, 2]
    assert "grad_norm/layer1" in tags["scalars"]
    assert (tmp_path / "run" / "gradients.png").is_file()


def test_watch_gradients_does_not_go_with_folds(capsys, tmp_path):
    code, _, err = run(capsys, "train", *TINY, "--watch-gradients", "--folds", "3",
                       "--out", tmp_path / "run")
    assert code == 1 and "--watch-gradients follows the layers of one run" in err
