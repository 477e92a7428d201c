"""The whole command against the start-up floor, with its phases; busy neighbours."""

from __future__ import annotations

import os

import pytest

from shallownet.bench.process import busy, startup_floor, whole_command
from tests.conftest import write_tiny_dataset


def test_busy_starts_and_stops_its_loops():
    with busy(1):
        pass  # the loops are killed and reaped on the way out
    with busy(0):
        pass


def test_the_whole_command_reports_where_its_time_went(tmp_path):
    write_tiny_dataset(tmp_path / "tiny", n_train=64, n_test=16)
    result = whole_command(["--data-dir", str(tmp_path / "tiny"), "--no-verify", "--epochs",
                            "1", "--no-plots"])
    phases = result["phases"]
    assert {"startup", "data", "training", "evaluation", "checkpoints", "other",
            "exit"} <= set(phases)
    assert all(v >= 0 for v in phases.values())
    assert sum(phases.values()) == pytest.approx(result["wall"], rel=0.05, abs=0.05)
    assert phases["startup"] > 0.1  # importing torch is never free
    assert startup_floor(repeats=1) > 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_figures_drawn_in_parallel_are_all_written(tmp_path):
    from shallownet.plots.parallel import draw_all

    def job(name):
        def draw():
            import matplotlib.pyplot as plt

            from shallownet.plots.save import save_figure

            fig, ax = plt.subplots()
            ax.plot([0, 1], [1, 0])
            save_figure(fig, tmp_path / f"{name}.png")
            plt.close(fig)
        return draw

    draw_all([job("a"), job("b"), job("c")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "c.png"]


def test_a_figure_that_fails_in_its_process_is_drawn_again_and_its_error_raised(tmp_path):
    from shallownet.plots.parallel import draw_all

    calls = []

    def fails():
        calls.append(os.getpid())
        raise ValueError("cannot draw")

    with pytest.raises(ValueError, match="cannot draw"):
        draw_all([lambda: None, fails])
    assert calls == [os.getpid()]  # the parent's own attempt; the child's was in the child
