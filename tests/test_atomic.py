"""Atomic writes: a temporary file beside the target, then a rename; nothing left behind."""

from __future__ import annotations

import json
import math
import os
import stat

import pytest

from shallownet.atomic import (
    atomic_path,
    remove_temporaries,
    write_bytes,
    write_json,
    write_text,
)
from shallownet.errors import OutputError


@pytest.fixture
def umask():
    """Set the process umask for one test, restoring it afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def names(directory):
    return sorted(p.name for p in directory.iterdir())


def test_write_text_creates_the_file_and_nothing_else(tmp_path):
    target = tmp_path / "out.txt"
    assert write_text(target, "héllo\n") == target
    assert target.read_text(encoding="utf-8") == "héllo\n"
    assert names(tmp_path) == ["out.txt"]


def test_write_text_replaces_existing_content(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old content that is longer than the new one")
    write_text(target, "new")
    assert target.read_text() == "new"
    assert names(tmp_path) == ["out.txt"]


def test_write_text_makes_missing_parent_directories(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    write_text(target, "x")
    assert target.read_text() == "x"


def test_write_json_round_trips_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "m.json"
    obj = {"a": 1, "b": [1.5, "x", None], "c": {"d": True}}
    write_json(target, obj)
    assert json.loads(target.read_text()) == obj
    write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert names(tmp_path) == ["m.json"]


def test_an_exception_inside_atomic_path_keeps_the_old_file(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    seen = []
    with pytest.raises(RuntimeError, match="writer failed"), atomic_path(target) as tmp:
        seen.append(tmp)
        assert tmp.parent == tmp_path
        assert tmp != target
        tmp.write_text("half-writ")
        raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert not seen[0].exists()
    assert names(tmp_path) == ["keep.txt"]


def test_an_exception_before_any_file_exists_creates_nothing(tmp_path):
    target = tmp_path / "new.txt"
    with pytest.raises(KeyError), atomic_path(target):
        raise KeyError("boom")
    assert names(tmp_path) == []


def test_an_oserror_inside_the_writer_becomes_an_output_error(tmp_path):
    target = tmp_path / "x.bin"
    target.write_text("old")
    with pytest.raises(OutputError, match="checkpoint") as info, \
            atomic_path(target, what="checkpoint"):
        raise OSError(28, "No space left on device")
    assert str(target) in str(info.value)
    assert "No space left on device" in str(info.value)
    assert target.read_text() == "old"
    assert names(tmp_path) == ["x.bin"]


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_permissions_follow_the_umask(tmp_path, umask, mask):
    umask(mask)
    target = tmp_path / "perm.txt"
    write_text(target, "x")
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    json_target = tmp_path / "perm.json"
    write_json(json_target, {})
    assert stat.S_IMODE(json_target.stat().st_mode) == 0o666 & ~mask


def test_permissions_are_not_those_of_mkstemp(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "p.txt"
    write_text(target, "x")
    assert stat.S_IMODE(target.stat().st_mode) != 0o600


def test_nan_and_inf_become_null_in_json(tmp_path):
    target = tmp_path / "n.json"
    write_json(target, {"loss": math.nan, "nested": {"x": [1.0, math.inf, -math.inf]},
                        "tuple": (math.nan, 2)})
    text = target.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"loss": None, "nested": {"x": [1.0, None, None]},
                                "tuple": [None, 2]}


def test_a_path_under_an_existing_file_is_an_output_error_naming_it(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("I am a file")
    target = blocker / "out.json"
    with pytest.raises(OutputError) as info:
        write_json(target, {"a": 1}, what="metrics file")
    assert str(target) in str(info.value)
    assert "metrics file" in str(info.value)
    assert blocker.read_text() == "I am a file"
    assert names(tmp_path) == ["afile"]


def test_replacing_a_directory_is_an_output_error_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "adir"
    target.mkdir()
    (target / "inside").write_text("x")
    with pytest.raises(OutputError, match="adir"):
        write_text(target, "x")
    assert names(tmp_path) == ["adir"]
    assert names(target) == ["inside"]


def test_write_bytes_round_trips(tmp_path):
    target = write_bytes(tmp_path / "blob.bin", bytes(range(256)), what="blob")
    assert target.read_bytes() == bytes(range(256))
    assert names(tmp_path) == ["blob.bin"]


def test_remove_temporaries_removes_only_the_writers_leftovers(tmp_path):
    for name in ("checkpoint.pt", "metrics.csv", ".hidden", "notes.tmp"):
        (tmp_path / name).write_text("keep")
    for name in (".checkpoint.pt.k2j3.tmp", ".metrics.csv.a_b.tmp"):
        (tmp_path / name).write_text("partial")
    (tmp_path / ".dir.x.tmp").mkdir()  # not a file: left alone
    removed = remove_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == [".checkpoint.pt.k2j3.tmp", ".metrics.csv.a_b.tmp"]
    assert names(tmp_path) == [".dir.x.tmp", ".hidden", "checkpoint.pt", "metrics.csv",
                               "notes.tmp"]


def test_the_temporary_of_a_write_is_what_remove_temporaries_clears(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "f.json") as tmp:
        kept = tmp.with_name(tmp.name + "-copy")
        kept.write_text("x")
        copy_name = tmp.name  # the pattern a killed process would leave
        raise RuntimeError
    kept.rename(tmp_path / copy_name)
    assert [p.name for p in remove_temporaries(tmp_path)] == [copy_name]
