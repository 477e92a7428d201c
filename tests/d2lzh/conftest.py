"""Fixtures of the ``shallownet.d2lzh`` tests: file-mode figures, as for ``shallownet.d2l``."""

from __future__ import annotations

from tests.d2l.conftest import figure_files  # noqa: F401  (autouse: Agg, figures in tmp_path)
