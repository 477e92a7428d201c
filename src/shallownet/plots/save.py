"""Figures as files: where they go (``$SHALLOWNET_FIGURES``), and writing one atomically."""

from __future__ import annotations

import os
from pathlib import Path

from shallownet.atomic import atomic_path

__all__ = ["FIGURES_ENV", "DEFAULT_FIGURES", "figures_dir", "save_figure"]

#: Environment variable naming the directory figures are written to outside a notebook.
FIGURES_ENV = "SHALLOWNET_FIGURES"
#: The directory used when ``$SHALLOWNET_FIGURES`` is unset or empty (relative: the working one).
DEFAULT_FIGURES = "figures"


def figures_dir() -> Path:
    """The directory figures are written to: ``$SHALLOWNET_FIGURES``, else ``./figures``.

    Read at each call (not created here), so a change of the variable applies
    to the next figure.
    """
    return Path(os.environ.get(FIGURES_ENV) or DEFAULT_FIGURES)


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 120, **savefig_kwargs) -> Path:
    """Write ``fig`` to ``path`` atomically (format from the suffix, e.g. .png or .svg).

    Further keywords go to ``fig.savefig`` (e.g. ``bbox_inches="tight"``).
    """
    path = Path(path)
    with atomic_path(path, what="figure") as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png", **savefig_kwargs)
    return path
