"""A run's gradient and weight norms per layer, epoch by epoch (``--watch-gradients``).

Left: ‖∂L/∂W‖ of every layer against the epoch (0 is the initialisation), on a
log axis; right: the ratio ‖∂L/∂W‖ / ‖W‖, with the bands where the gradients
count as vanished (below 10⁻⁶) or exploded (above 10²) shaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["plot_gradient_norms"]


def plot_gradient_norms(rows: Sequence[dict], path: str | os.PathLike) -> Path:
    """Draw ``rows`` (``epoch``, ``layer``, ``shape``, ``grad_norm``, ``weight_norm``, as in a
    run's ``gradients.csv``) into ``path``; return the path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from shallownet.plots.save import save_figure
    from shallownet.training.gradients import EXPLODED, VANISHED

    layers: dict[str, dict] = {}
    for row in sorted(rows, key=lambda r: r["epoch"]):
        entry = layers.setdefault(row["layer"], {"shape": row["shape"], "epoch": [],
                                                 "grad": [], "ratio": []})
        entry["epoch"].append(row["epoch"])
        entry["grad"].append(max(row["grad_norm"], 1e-300))
        weight = row["weight_norm"]
        entry["ratio"].append(max(row["grad_norm"] / weight, 1e-300) if weight > 0 else 1e300)
    fig = Figure(figsize=(11.5, 4), layout="constrained")
    grad_ax, ratio_ax = fig.subplots(1, 2)
    for name, entry in sorted(layers.items(), key=lambda kv: int(kv[0].removeprefix("layer"))):
        label = f"{name} ({entry['shape']})"
        grad_ax.plot(entry["epoch"], entry["grad"], marker="o", markersize=3, label=label)
        ratio_ax.plot(entry["epoch"], entry["ratio"], marker="o", markersize=3, label=label)
    grad_ax.set(yscale="log", xlabel="epoch (0: initialisation)", ylabel="‖∂L/∂W‖",
                title="gradient norm per layer")
    ratio_ax.set(yscale="log", xlabel="epoch (0: initialisation)", ylabel="‖∂L/∂W‖ / ‖W‖",
                 title="relative to the layer's weights")
    low, high = ratio_ax.get_ylim()
    ratio_ax.axhspan(min(low, VANISHED / 10), VANISHED, color="tab:blue", alpha=0.12,
                     label="vanished")
    ratio_ax.axhspan(EXPLODED, max(high, EXPLODED * 10), color="tab:red", alpha=0.12,
                     label="exploded")
    ratio_ax.set_ylim(min(low, VANISHED / 10), max(high, EXPLODED * 10))
    for ax in (grad_ax, ratio_ax):
        ax.grid(True, which="major", alpha=0.3)
        epochs = sorted({e for entry in layers.values() for e in entry["epoch"]})
        if len(epochs) <= 12:
            ax.set_xticks(epochs)
    ratio_ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    return save_figure(fig, path)
