"""Recipes: named settings that are ordinary options, listed, used, overridden, honest."""

from __future__ import annotations

import json

import pytest
import torch

from shallownet.errors import UsageError
from shallownet.recipes import RECIPES, recipe
from shallownet.registry import build
from shallownet.training import RunConfig, Trainer, load_training_data
from tests.cli.clitools import run
from tests.conftest import write_tiny_dataset


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("recipes") / "tiny"
    write_tiny_dataset(directory, n_train=64, n_test=32)
    return directory


def test_there_are_recipes_for_softmax_the_mlp_and_lenet():
    assert {r.model for r in RECIPES.values()} == {"softmax", "mlp", "lenet"}
    for r in RECIPES.values():
        assert 0.8 < r.test_acc < 1 and r.seconds > 0 and 0.8 < r.val_acc < 1
        assert r.why and r.summary
        config = r.config().resolved()  # every setting is a valid option
        assert config.train.recipe == r.name


def test_an_unknown_recipe_names_the_others():
    with pytest.raises(UsageError, match="unknown recipe 'fastest'; choose one of"):
        recipe("fastest")


def test_shallownet_recipes_lists_them(capsys):
    code, out, _ = run(capsys, "recipes", "--json")
    assert code == 0
    listed = json.loads(out.splitlines()[-1])
    assert [r["name"] for r in listed] == list(RECIPES)
    for r in listed:
        assert r["command"].startswith("shallownet train --model ")
        assert f"shallownet train --recipe {r['name']}" in out


@pytest.mark.parametrize("name", list(RECIPES))
def test_a_recipe_is_the_same_run_as_its_options(name, capsys, tmp_path, idx_dir):
    """``--recipe NAME`` and the options it stands for write the same config and figures."""
    chosen = RECIPES[name]
    common = ["--data-dir", idx_dir, "--no-verify", "--epochs", 1, "--batch-size", 16,
              "-q", "--no-plots", "--json"]
    code, out, err = run(capsys, "train", "--recipe", name, "--out", tmp_path / "r", *common)
    assert code == 0, err
    assert f"with recipe {name}" in out.splitlines()[0]
    by_recipe = json.loads(out.splitlines()[-1])
    words = chosen.describe().split()
    code, out, err = run(capsys, "train", *words, "--out", tmp_path / "o", *common)
    assert code == 0, err
    by_options = json.loads(out.splitlines()[-1])
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert by_recipe[key] == by_options[key], key
    saved = [json.loads((tmp_path / d / "config.json").read_text()) for d in ("r", "o")]
    assert saved[0]["train"].pop("recipe") == name and saved[1]["train"].pop("recipe") is None
    assert saved[0]["model"] == saved[1]["model"] and saved[0]["train"] == saved[1]["train"]


def test_options_beside_a_recipe_override_it(capsys, tmp_path, idx_dir):
    name = next(n for n, r in RECIPES.items() if r.model == "mlp")
    code, out, err = run(capsys, "train", "--recipe", name, "--data-dir", idx_dir,
                         "--no-verify", "--epochs", 1, "--lr", "0.123", "--out", tmp_path / "r",
                         "-q", "--no-plots")
    assert code == 0, err
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["model"]["lr"] == 0.123 and saved["train"]["epochs"] == 1
    assert saved["model"]["model"] == "mlp"


@pytest.mark.parametrize("name", list(RECIPES))
def test_no_decision_a_recipe_takes_reads_the_test_set(name, idx_dir):
    """Poisoned test labels train exactly the same model: nothing the recipe does while it
    trains (its schedule, augmentation, which weights it keeps) reads the test set."""
    from shallownet.training import DataSpec

    config = RECIPES[name].config(data=DataSpec("fashion-mnist", data_dir=str(idx_dir),
                                                verify=False), epochs=2, batch_size=16)
    config = config.resolved()
    runs = []
    for poison in (False, True):
        data = load_training_data(config.data)
        if poison:
            data.test_y = (data.test_y + 3) % 10
            data.test_X = torch.flip(data.test_X, dims=(0,))
        setup = build(config.model, input_shape=data.input_shape,
                      num_outputs=data.num_outputs, seed=0)
        history = Trainer.from_config(config, log=False, progress=False).fit(setup, data)
        runs.append((history, setup.model.state_dict()))
    (clean, clean_w), (poisoned, poisoned_w) = runs
    assert [r["train_loss"] for r in clean] == [r["train_loss"] for r in poisoned]
    for key, value in clean_w.items():
        assert torch.equal(value, poisoned_w[key]), key
    assert [r["test_acc"] for r in clean] != [r["test_acc"] for r in poisoned]


def test_a_recipe_config_is_a_run_config():
    config = next(iter(RECIPES.values())).config(seed=3)
    assert isinstance(config, RunConfig) and config.train.seed == 3
