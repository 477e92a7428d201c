"""``shallownet recipes``: the named training presets, their settings and what they reach."""

from __future__ import annotations

import json

__all__ = ["register", "run_recipes"]


def register(commands) -> None:
    """Add ``recipes`` to ``commands``."""
    p = commands.add_parser(
        "recipes", help="list the training recipes (use one with train --recipe NAME)",
        description="Named training presets that reach a good model fast. Each was chosen on "
        "a validation split of the training set, never on the test set; its test accuracy "
        "and time are those of one run on a 2-core CPU. Use one with shallownet train "
        "--recipe NAME (other options override its settings).")
    p.add_argument("--json", action="store_true", help="end stdout with one JSON line")
    p.set_defaults(handler=run_recipes)


def run_recipes(args) -> int:
    from shallownet.recipes import RECIPES

    rows = [(r.name, r.model, f"{r.test_acc:.3f}", f"{r.seconds:.1f}", r.summary)
            for r in RECIPES.values()]
    header = ("recipe", "model", "test acc", "seconds", "what")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    print("  ".join(f"{h:<{w}}" for h, w in zip(header[:4], widths, strict=True)) + "  what")
    for row in rows:
        print("  ".join(f"{c:<{w}}" for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
    print()
    for r in RECIPES.values():
        print(f"{r.name}: shallownet train --recipe {r.name}")
        print(f"  = {r.describe()}")
        print(f"  {r.why} (validation accuracy {r.val_acc:.3f})")
    if args.json:
        print(json.dumps([{"name": r.name, "model": r.model, "test_acc": r.test_acc,
                           "seconds": r.seconds, "val_acc": r.val_acc, "summary": r.summary,
                           "settings": r.settings, "command": f"shallownet train {r.describe()}"}
                          for r in RECIPES.values()]))
    return 0
