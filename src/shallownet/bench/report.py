"""The benchmark's results as Markdown tables: runs, scaling, targets."""

from __future__ import annotations

__all__ = ["format_report"]

MIB = 2**20


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}×"


def _rss(value: int | None) -> str:
    return "—" if value is None else f"{value / MIB:.0f} MiB"


def format_report(report: dict) -> str:
    """The report of :func:`~shallownet.bench.suite.run_bench` as text for a terminal."""
    m, o = report["machine"], report["options"]
    lines = [
        f"shallownet bench: {o['epochs']} epochs, batch {o['batch_size']}, {o['data']}, "
        f"best of {o.get('repeats', 1)} "
        f"on {m['device']} ({m['processor']}, {m['threads']} threads, torch {m['torch']})",
        f"best float32 matmul {m['matmul']['flops_per_second'] / 1e9:.0f} GFLOP/s "
        f"({m['matmul']['size']}² products); memory read "
        f"{m['bandwidth']['bytes_per_second'] / 1e9:.1f} GB/s",
        "",
    ]
    rows = []
    for model, floor in report["floors"].items():
        for r in (r for r in report["runs"] if r["model"] == model):
            rows.append([model, r["impl"], f"shallownet, {r['step']} step", f"{r['seconds']:.2f}",
                         f"{r['samples_per_second']:,.0f}", f"{r['test_acc']:.3f}",
                         _rss(r["peak_rss"]), _ratio(r["faster_than_per_sample"]),
                         _ratio(r["times_floor"])])
        for p in (p for p in report["per_sample"] if p["model"] == model):
            rows.append([model, p["impl"], f"per-sample DataLoader, {p['workers']} workers",
                         f"{p['seconds']:.2f}", f"{p['samples_per_second']:,.0f}",
                         f"{p['test_acc']:.3f}", _rss(p["peak_rss"]), "1.0×",
                         _ratio(p["seconds"] / floor["seconds"])])
        rows.append([model, "—", f"arithmetic floor ({floor['bound']}-bound, "
                     f"{floor['flops'] / 1e9:.1f} GFLOP)", f"{floor['seconds']:.3f}",
                     "—", "—", "—", "—", "1.0×"])
    lines += _table(["model", "impl", "pipeline", "seconds", "samples/s", "test acc",
                     "peak RSS", "faster than per-sample", "× floor"], rows)
    scaling = [s for s in report["scaling"] if len(s["points"]) > 1]
    if scaling:
        lines += ["", "Scaling (each model's main step): seconds at k× the data; "
                  "t grows as N^exponent"]
        scales = [p["n_train"] / scaling[0]["points"][0]["n_train"] for p in scaling[0]["points"]]
        rows = [[s["model"], s["impl"], s["step"],
                 *[f"{p['seconds']:.2f}" for p in s["points"]], f"{s['exponent']:.2f}"]
                for s in scaling]
        lines += _table(["model", "impl", "step", *[f"{k:g}×" for k in scales], "exponent"],
                        rows)
    loaded = [r for r in report["runs"] if "under_load_seconds" in r]
    if loaded:
        lines += ["", "Beside busy processes (one per core but one, started by the benchmark):"]
        rows = [[r["model"], r["impl"], r["step"], f"{r['seconds']:.2f}",
                 f"{r['under_load_seconds']:.2f}", _ratio(r["under_load_ratio"])] for r in loaded]
        lines += _table(["model", "impl", "step", "quiet s", "under load s", "ratio"], rows)
    whole = report.get("whole")
    if whole:
        lines += ["", f"The whole command (shallownet train {' '.join(whole['argv'])}): "
                  f"{whole['wall']:.2f} s wall, {whole['times_floor']:.2f}× the start-up floor "
                  f"(python -c 'import torch': {whole['floor']:.2f} s)"]
        order = ("startup", "data", "training", "evaluation", "checkpoints", "figures", "other",
                 "exit")
        phases = whole["phases"]
        lines += _table(list(order), [[f"{phases.get(k, 0.0):.2f}" for k in order]])
    if report.get("frontier"):
        lines += ["", "Accuracy per second: each recipe's time to each scikit-learn reference's "
                  "test accuracy (from its per-epoch test figures), same data, same run"]
        rows = [[f["reference"], f"{f['reference_acc']:.4f}", f"{f['reference_seconds']:.1f}",
                 f["recipe"], "—" if f["epoch"] is None else str(f["epoch"]),
                 "—" if f["seconds"] is None else f"{f['seconds']:.2f}",
                 "—" if f["ratio"] is None else f"{f['ratio']:.3f}",
                 f"{f['final_acc']:.4f} in {f['final_seconds']:.1f} s"]
                for f in report["frontier"]]
        lines += _table(["reference", "its test acc", "its seconds", "recipe", "epoch",
                         "seconds", "ratio", "recipe's last epoch"], rows)
    for s in report.get("skipped", []):
        lines += ["", f"not measured: {s['model']} {s['impl']}, {s['step']} step: {s['why']}"]
    if report["targets"]:
        lines += ["", "Targets"]
        rows = [[t["target"], f"{t['value']:.3g}", str(t["limit"]), "yes" if t["met"] else "NO"]
                for t in report["targets"]]
        lines += _table(["target", "measured", "limit", "met"], rows)
    return "\n".join(lines)
