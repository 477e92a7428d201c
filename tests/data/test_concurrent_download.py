"""Many processes, one fresh cache: the dataset is downloaded once, and no one reads a partial file.

Real processes (``python -c WORKER``) call :func:`locate_dataset` on one shared
``SHALLOWNET_CACHE``, released together through a start file, against a slow
mirror on 127.0.0.1 so that they all arrive while the first download is in flight.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from shallownet.data import locate_dataset, read_idx
from shallownet.data.locate import LOCK_NAME
from shallownet.errors import DatasetNotFoundError
from tests.conftest import spec_for, write_tiny_dataset
from tests.httpserver import serving

N_PROCESSES = 8
SECONDS_PER_FILE = 0.5  # the slow mirror: four files, about 2 s for the first process
TIMEOUT = 120.0  # for any one wait on the worker processes

#: One process: load the spec, say it is ready, wait for the start file, locate the dataset,
#: save what it got (arrays as .npz, the rest as .json).
WORKER = r"""
import json, os, pickle, sys, time
from pathlib import Path
import numpy as np
from shallownet.data.locate import locate_dataset
spec_file, mirror, ready, go, out = sys.argv[1:6]
spec = pickle.loads(Path(spec_file).read_bytes())
Path(ready).touch()
deadline = time.monotonic() + 120
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("never told to start")
    time.sleep(0.001)
started = time.time()
result = locate_dataset(spec, mirrors=[mirror], progress=None)
finished = time.time()
keys = ("train_images", "train_labels", "test_images", "test_labels")
np.savez(out + ".npz", **{k: getattr(result, k) for k in keys})
Path(out + ".json").write_text(json.dumps({
    "source": result.source, "verified": result.verified,
    "directory": str(result.directory), "started": started, "finished": finished,
}))
"""


@pytest.fixture
def server(monkeypatch):
    with serving(monkeypatch) as srv:
        yield srv


@pytest.fixture
def tiny(tmp_path):
    """(files, spec, pickled spec path) of a tiny dataset; the spec has no system copies."""
    files = write_tiny_dataset(tmp_path / "src", seed=3)
    spec = spec_for(files)
    spec_file = tmp_path / "spec.pickle"
    spec_file.write_bytes(pickle.dumps(spec))
    return files, spec, spec_file


def cache_dir(spec) -> Path:
    return Path(os.environ["SHALLOWNET_CACHE"]) / spec.name


class Workers:
    """Worker processes started now, released together by :meth:`go`, killed on exit."""

    def __init__(self, tmp_path: Path, spec_file: Path, mirror: str, n: int):
        self.dir = tmp_path / "workers"
        self.dir.mkdir(exist_ok=True)
        self.go_file = self.dir / f"go-{time.monotonic_ns()}"
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.procs, self.outs = [], []
        for _ in range(n):
            out = self.dir / f"w{len(self.outs)}-{time.monotonic_ns()}"
            with open(f"{out}.stdout", "wb") as stdout, open(f"{out}.stderr", "wb") as stderr:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-c", WORKER, str(spec_file), mirror, f"{out}.ready",
                     str(self.go_file), str(out)],
                    stdout=stdout, stderr=stderr, env=env, cwd=tmp_path,
                ))
            self.outs.append(out)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)

    def go(self) -> None:
        """Wait until every worker is ready (imports done), then release them all at once."""
        deadline = time.monotonic() + TIMEOUT
        while not all(Path(f"{out}.ready").exists() for out in self.outs):
            ended = [i for i, p in enumerate(self.procs) if p.poll() is not None]
            assert not ended, f"worker {ended[0]} ended before the start: {self.stderr(ended[0])}"
            assert time.monotonic() < deadline, "the workers never got ready"
            time.sleep(0.01)
        self.go_file.touch()

    def wait(self) -> list[int]:
        deadline = time.monotonic() + TIMEOUT
        return [p.wait(timeout=max(1.0, deadline - time.monotonic())) for p in self.procs]

    def stderr(self, i: int) -> str:
        return Path(f"{self.outs[i]}.stderr").read_text(errors="replace")

    def result(self, i: int) -> tuple[dict, dict[str, np.ndarray]]:
        report = json.loads(Path(f"{self.outs[i]}.json").read_text())
        with np.load(f"{self.outs[i]}.npz") as arrays:
            return report, {k: arrays[k] for k in arrays.files}


def assert_only_the_dataset(directory: Path, files: dict[str, Path]) -> None:
    """``directory`` holds the four files, each verified, and the empty lock file: no .part."""
    names = sorted(p.name for p in directory.iterdir())
    assert names == sorted([*(p.name for p in files.values()), LOCK_NAME]), names
    assert (directory / LOCK_NAME).stat().st_size == 0
    for path in files.values():
        assert gzip.decompress((directory / path.name).read_bytes()) == \
            gzip.decompress(path.read_bytes())


def test_eight_processes_one_fresh_cache_download_once(server, tiny, tmp_path):
    files, spec, spec_file = tiny
    mirror = server.serve_files(files.values(), "/slow", seconds=SECONDS_PER_FILE)
    cache = cache_dir(spec)
    assert not cache.exists()
    expected = {key: read_idx(path) for key, path in files.items()}

    with Workers(tmp_path, spec_file, mirror, N_PROCESSES) as workers:
        workers.go()
        codes = workers.wait()
    errors = [workers.stderr(i) for i in range(N_PROCESSES)]
    assert codes == [0] * N_PROCESSES, errors
    assert not any("Traceback" in e for e in errors), errors

    reports = []
    for i in range(N_PROCESSES):
        report, arrays = workers.result(i)
        reports.append(report)
        assert report["verified"] is True
        assert report["directory"] == str(cache)
        assert arrays.keys() == expected.keys()
        for key, array in expected.items():
            np.testing.assert_array_equal(arrays[key], array, err_msg=f"worker {i}: {key}")
            assert arrays[key].dtype == array.dtype

    # The race was real: every process asked for the dataset while the first file was still
    # on its way, so none found a finished cache. The one that fetched the files reports
    # "download", the seven that waited for it and found them "cache".
    first_done = min(r.finished for r in server.requests)
    assert all(r["started"] < first_done for r in reports), (reports, first_done)
    assert sorted(r["source"] for r in reports) == ["cache"] * (N_PROCESSES - 1) + ["download"]
    # One took the lock and downloaded; the seven others waited for it, then verified its files.
    waited = [e for e in errors if "waiting for another process downloading into" in e]
    assert len(waited) == N_PROCESSES - 1, errors

    # One GET per file, each answered to the end, and nothing else asked for.
    assert server.hits == {f"/slow/{p.name}": 1 for p in files.values()}
    assert server.completed() == server.hits
    assert_only_the_dataset(cache, files)


def test_a_stale_part_file_is_removed_and_never_read(server, tiny, tmp_path):
    files, spec, _ = tiny
    mirror = server.serve_files(files.values(), "/m")
    cache = cache_dir(spec)
    cache.mkdir(parents=True)
    # What a killed download leaves: a temporary with garbage, and one with a whole,
    # well-formed file of *other* data (a .part is never trusted, whatever it holds).
    garbage = cache / f".{files['train_images'].name}.k1ll3d.part"
    garbage.write_bytes(b"\x1f\x8b\x08\x00 garbage, cut off" * 50)
    other = write_tiny_dataset(tmp_path / "other", seed=42)
    plausible = cache / f".{files['test_labels'].name}.x7q2zz.part"
    plausible.write_bytes(other["test_labels"].read_bytes())

    result = locate_dataset(spec, mirrors=[mirror], progress=False)

    assert result.source == "download" and result.verified is True
    for key, path in files.items():
        np.testing.assert_array_equal(getattr(result, key), read_idx(path))
    assert server.hits == {f"/m/{p.name}": 1 for p in files.values()}
    assert not garbage.exists() and not plausible.exists()
    assert_only_the_dataset(cache, files)


def test_a_process_killed_mid_download_leaves_no_file_and_the_next_one_finishes(
    server, tmp_path
):
    # Big enough (about 235 kB of training images) that the client writes part of the file
    # (it reads 64 KiB at a time) before it is killed.
    files = write_tiny_dataset(tmp_path / "src", n_train=300, seed=5)
    spec = spec_for(files)
    spec_file = tmp_path / "spec.pickle"
    spec_file.write_bytes(pickle.dumps(spec))
    cache = cache_dir(spec)
    mirror = server.serve_files(files.values(), "/m", seconds=6.0, chunks=30)

    with Workers(tmp_path, spec_file, mirror, 1) as killed:
        killed.go()
        deadline = time.monotonic() + TIMEOUT
        while not any(p.stat().st_size >= 1 << 16 for p in cache.glob(".*.part")):
            assert killed.procs[0].poll() is None, killed.stderr(0)
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.01)
        killed.procs[0].kill()  # SIGKILL: no cleanup of any kind
        assert killed.procs[0].wait(timeout=30) == -9
    assert server.total_hits == 1
    (in_flight,) = server.hits
    assert in_flight == f"/m/{files['train_images'].name}"
    parts = sorted(cache.glob(".*.part"))
    assert len(parts) == 1 and parts[0].name.startswith(f".{files['train_images'].name}.")
    assert 0 < parts[0].stat().st_size < files["train_images"].stat().st_size
    # Nothing under a final name: a reader finds no dataset, rather than a partial file.
    assert sorted(p.name for p in cache.iterdir()) == sorted([parts[0].name, LOCK_NAME])
    with pytest.raises(DatasetNotFoundError):
        locate_dataset(spec, download_missing=False)

    # The next process takes the lock the dead one held, clears its .part and finishes.
    mirror = server.serve_files(files.values(), "/m")  # full speed now
    with Workers(tmp_path, spec_file, mirror, 1) as later:
        later.go()
        assert later.wait() == [0], later.stderr(0)
    report, arrays = later.result(0)
    assert report["source"] == "download" and report["verified"] is True
    for key, path in files.items():
        np.testing.assert_array_equal(arrays[key], read_idx(path))
    assert server.hits == {f"/m/{p.name}": 1 + (f"/m/{p.name}" == in_flight)
                           for p in files.values()}
    assert server.completed() == {f"/m/{p.name}": 1 for p in files.values()}
    assert_only_the_dataset(cache, files)
    # and from now on it is simply the cache
    hits = server.total_hits
    assert locate_dataset(spec, mirrors=[mirror], progress=False).source == "cache"
    assert server.total_hits == hits
