"""``shallownet data info | fetch | show``, run in-process through ``main`` and once for real."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest

from shallownet.cli import main
from shallownet.data.locate import LOCK_NAME
from tests.conftest import requires_real_data, write_tiny_dataset

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def assert_one_error(err: str) -> None:
    assert err.startswith("shallownet: error: ")
    assert err.count("shallownet: error:") == 1
    assert "Traceback" not in err


# --------------------------------------------------------------------------- info


@requires_real_data
def test_info_fashion_mnist_json(capsys):
    code, out, err = run(capsys, "data", "info", "fashion-mnist", "--json")
    assert code == 0, err
    report = last_json(out)
    assert report["dataset"] == "fashion-mnist"
    assert report["verified"] is True
    assert report["source"] == "system"
    assert report["train_images"] == [60000, 1, 28, 28]
    assert report["test_images"] == [10000, 1, 28, 28]
    assert report["train_labels"] == [60000]
    assert report["per_class"] == {"train": [6000] * 10, "test": [1000] * 10}
    assert report["value_range"] == [0.0, 1.0]
    assert report["classes"][0] == "t-shirt" and report["classes"][9] == "ankle boot"
    assert "Fashion-MNIST" in out
    assert "verified (MD5" in out
    assert "ankle boot" in out


@requires_real_data
def test_info_warns_about_a_bad_cache_copy_and_uses_the_system_one(capsys, tmp_path,
                                                                   monkeypatch):
    cache = tmp_path / "cache"
    write_tiny_dataset(cache / "fashion-mnist")
    monkeypatch.setenv("SHALLOWNET_CACHE", str(cache))
    # Under pytest the warning may be recorded instead of printed; accept either route.
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        code, out, err = run(capsys, "data", "info", "fashion-mnist", "--json")
    assert code == 0, err
    messages = [str(w.message) for w in record] + err.splitlines()
    bad_copy = [m for m in messages if "ignoring a bad copy in the cache" in m]
    assert len(bad_copy) >= 1
    assert all("does not match the published Fashion-MNIST data" in m for m in bad_copy)
    assert all(line.startswith("shallownet: warning: ") for line in err.splitlines())
    assert "Traceback" not in err
    assert last_json(out)["source"] == "system"


def test_info_checksum_mismatch_is_one_error_paragraph(capsys, tmp_path):
    directory = tmp_path / "tiny"
    write_tiny_dataset(directory)
    code, out, err = run(capsys, "data", "info", "fashion-mnist", "--data-dir", str(directory))
    assert code == 1
    assert out == ""
    assert_one_error(err)
    assert "does not match the published Fashion-MNIST data" in err
    assert str(directory) in err
    assert "shallownet data fetch fashion-mnist" in err


def test_info_missing_dataset_in_an_explicit_directory(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "data", "info", "mnist", "--data-dir", str(empty))
    assert code == 1
    assert_one_error(err)
    assert "MNIST was not found" in err
    assert str(empty) in err
    assert "shallownet data fetch mnist" in err
    assert "--data-dir" in err
    assert list(empty.iterdir()) == []  # nothing downloaded without --download


def test_info_missing_dataset_names_every_place_looked_in(capsys, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SHALLOWNET_CACHE", str(cache))
    code, _, err = run(capsys, "data", "info", "mnist")
    assert code == 1
    assert_one_error(err)
    assert str(cache / "mnist") in err
    assert "(user cache)" in err
    assert "/usr/share/datasets/mnist" in err
    assert "shallownet data fetch mnist" in err
    assert "SHALLOWNET_DATA" in err


def test_info_csv_json(capsys, tmp_path):
    path = tmp_path / "flowers.csv"
    path.write_text("petal,sepal,kind\n" + "".join(
        f"{i * 0.5},{i % 3 + 1.5},{[4, 7, 7][i % 3]}\n" for i in range(9)
    ))
    code, out, err = run(capsys, "data", "info", str(path), "--json")
    assert code == 0, err
    report = last_json(out)
    assert report["dataset"] == str(path)
    assert report["examples"] == 9
    assert report["features"] == ["petal", "sepal"]
    assert report["target"] == "kind"
    assert report["task"] == "classification"
    assert report["has_header"] is True
    assert report["classes"] == ["4", "7"]
    assert report["per_class"] == [3, 6]
    assert "header      yes" in out


def test_info_csv_regression_json(capsys, tmp_path):
    path = tmp_path / "reg.csv"
    path.write_text("1,0.25\n2,-1.5\n3,2.75\n")
    code, out, _ = run(capsys, "data", "info", str(path), "--json")
    assert code == 0
    report = last_json(out)
    assert report["task"] == "regression"
    assert report["target_range"] == [-1.5, 2.75]
    assert "classes" not in report


def test_info_bad_csv_names_the_line(capsys, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,y\n1,2,0\n3,4\n")
    code, out, err = run(capsys, "data", "info", str(path))
    assert code == 1
    assert out == ""
    assert_one_error(err)
    assert "line 3" in err


def test_info_missing_csv(capsys, tmp_path):
    code, _, err = run(capsys, "data", "info", str(tmp_path / "absent.csv"))
    assert code == 1
    assert_one_error(err)
    assert "absent.csv" in err


def test_info_synthetic_linear_json(capsys):
    code, out, err = run(capsys, "data", "info", "synthetic-linear", "--json")
    assert code == 0, err
    report = last_json(out)
    assert report["dataset"] == "synthetic-linear"
    assert report["examples"] == 1000
    assert report["features"] == 2
    assert report["true_w"] == [2.0, -3.4]
    assert report["true_b"] == 4.2
    assert report["seconds"] >= 0


def test_info_without_json_prints_no_json(capsys):
    code, out, _ = run(capsys, "data", "info", "synthetic-linear")
    assert code == 0
    assert "1,000" in out
    with pytest.raises(json.JSONDecodeError):
        last_json(out)


@pytest.mark.parametrize("action", ["info", "show", "fetch"])
def test_unknown_dataset_name_lists_the_known_ones(capsys, action):
    code, out, err = run(capsys, "data", action, "cifar-10")
    assert code == 1
    assert out == ""
    assert_one_error(err)
    assert "cifar-10" in err
    assert "fashion-mnist" in err and "mnist" in err


# --------------------------------------------------------------------------- show


@requires_real_data
def test_show_writes_a_png(capsys, tmp_path):
    import matplotlib.image

    out_path = tmp_path / "tmp" / "x.png"  # the parent directory does not exist yet
    code, out, err = run(capsys, "data", "show", "fashion-mnist", "--out", str(out_path))
    assert code == 0, err
    assert out.strip().splitlines()[-1] == str(out_path)
    assert f"wrote {out_path}" in err
    assert out_path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(out_path)
    assert image.ndim == 3
    height, width = image.shape[:2]
    assert height > 100 and width > 100
    assert width > height  # 2 rows of 9 columns
    assert not list(out_path.parent.glob(".x.png.*"))  # no temporary file left behind


@pytest.mark.parametrize(
    "args", [["--rows", "0"], ["--cols", "-2"], ["--rows", "two"], ["--split", "valid"]]
)
def test_show_bad_options_are_usage_errors(capsys, tmp_path, args):
    with pytest.raises(SystemExit) as exc:
        main(["data", "show", "fashion-mnist", "--out", str(tmp_path / "x.png"), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "shallownet data show: error:" in err
    assert "See 'shallownet data show --help'" in err
    assert not (tmp_path / "x.png").exists()


# --------------------------------------------------------------------------- fetch


def test_fetch_from_an_unreachable_mirror_fails_cleanly(capsys, tmp_path):
    target = tmp_path / "D"
    target.mkdir()
    code, out, err = run(
        capsys, "data", "fetch", "mnist", "--data-dir", str(target),
        "--mirror", "http://127.0.0.1:1/", "-q",
    )
    assert code == 1
    assert "downloaded" not in out
    assert_one_error(err)
    assert "could not download" in err
    assert "http://127.0.0.1:1/" in err
    assert [p for p in target.rglob("*") if p.is_file() and p.name != LOCK_NAME] == []


# --------------------------------------------------------------------------- process-level


def test_main_leaves_the_warnings_module_as_it_found_it(capsys, monkeypatch):
    def caller_format(message, category, filename, lineno, line=None):
        return f"caller: {message}\n"

    monkeypatch.setattr(warnings, "formatwarning", caller_format)
    assert main(["data", "info", "synthetic-linear"]) == 0
    capsys.readouterr()
    assert warnings.formatwarning is caller_format


def test_console_entry_point_runs(tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "shallownet", "data", "info", "synthetic-linear", "--json"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert last_json(ok.stdout)["dataset"] == "synthetic-linear"

    bad = subprocess.run(
        [sys.executable, "-m", "shallownet", "bogus"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr
    assert "Traceback" not in bad.stderr
