"""Each recipe trained once on the full Fashion-MNIST, its test accuracy after every epoch.

    python benchmarks/recipes.py [--json FILE]

The recipes' ``test_acc`` and ``seconds`` (``shallownet/recipes.py``) come from
this script's output on the reference machine. The settings themselves were
chosen on a validation split (``--val-fraction 1/6``); this is the one time
each is scored on the test set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from shallownet.recipes import RECIPES
from shallownet.registry import build
from shallownet.training import Trainer, load_training_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--only", help="comma-separated recipe names")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(RECIPES)
    rows = []
    print("| recipe | step | epochs | test acc by epoch | seconds |")
    print("| --- | --- | --- | --- | --- |")
    for name in names:
        config = RECIPES[name].config().resolved()
        data = load_training_data(config.data)
        setup = build(config.model, input_shape=data.input_shape, num_outputs=data.num_outputs,
                      seed=config.train.seed)
        trainer = Trainer.from_config(config, log=False, progress=False, live_plot=False)
        history = trainer.fit(setup, data)
        seconds = sum(r["seconds"] for r in history)
        accs = [round(r["test_acc"], 4) for r in history]
        rows.append({"recipe": name, "step": trainer.step_choice.name, "test_acc": accs[-1],
                     "seconds": round(seconds, 2), "curve": accs,
                     "precision": trainer.precision})
        print(f"| {name} | {trainer.step_choice.name}, {trainer.precision} | {len(history)} | "
              f"{' '.join(f'{a:.4f}' for a in accs)} | {seconds:.2f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
