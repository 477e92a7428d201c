"""Fixtures of the figure tests."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest


@pytest.fixture
def close_figures():
    """Figures a test hands to this list are closed after it, whatever happens."""
    figures = []
    yield figures
    for fig in figures:
        plt.close(fig)
