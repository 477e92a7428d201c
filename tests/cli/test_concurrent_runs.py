"""Eight ``shallownet train`` processes at once on one fresh data directory: one download, 8 runs.

The real Fashion-MNIST files (from /usr/share/datasets/fashion-mnist) are served
by a local HTTP server on 127.0.0.1 and named to the runs through
``SHALLOWNET_MIRRORS``. The runs share an explicit ``--data-dir`` (one fresh,
empty directory) rather than the user cache: with the cache, the system copy in
/usr/share/datasets would be found before any download and nothing would be
fetched. Every other address goes to a dead proxy on 127.0.0.1, so a run that
ignored the mirrors would fail rather than reach the internet.

The server holds back the first file until every run has printed its header (it
loads the data right after), so all eight are on their way to the dataset while
its download is still pending: the runs overlap for certain, not by luck.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from shallownet.data.catalog import FASHION_MNIST
from shallownet.data.download import decompressed_md5
from shallownet.data.locate import LOCK_NAME
from tests.conftest import SYSTEM_FASHION_MNIST, requires_real_data
from tests.httpserver import serving

pytestmark = [requires_real_data, pytest.mark.realdata]

N_RUNS = 8
TEST_TIMEOUT = 300.0  # the whole test, processes included
SECONDS_PER_FILE = 0.5  # once the gate opens: about 2 s for the four files
FIGURES = ("epochs", "train_loss", "train_acc", "test_loss", "test_acc")


@pytest.fixture
def server(monkeypatch):
    with serving(monkeypatch) as srv:
        yield srv


def dead_proxy() -> str:
    """A proxy URL on 127.0.0.1 where nobody listens (a port that was just free)."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = srv.server_address[1]
    srv.server_close()
    return f"http://127.0.0.1:{port}"


def test_eight_train_runs_share_one_fresh_data_dir(server, tmp_path):
    begin = time.monotonic()
    deadline = begin + TEST_TIMEOUT
    sources = {f.name: SYSTEM_FASHION_MNIST / f"{f.name}.gz" for f in FASHION_MNIST.files.values()}
    gate = threading.Event()
    mirror = server.serve_files(sources.values(), "/fmnist", seconds=SECONDS_PER_FILE, gate=gate)
    shared = tmp_path / "shared"
    shared.mkdir()
    proxy = dead_proxy()
    env = {
        **os.environ,
        "SHALLOWNET_MIRRORS": mirror,
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
        **{var: proxy for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY")},
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen] = []
    try:
        for i in range(N_RUNS):
            with open(logs / f"{i}.out", "wb") as out, open(logs / f"{i}.err", "wb") as err:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "shallownet", "train", "--data-dir", str(shared),
                     "--epochs", "1", "--max-train", "2000", "--max-test", "500", "--no-plots",
                     "-q", "--json", "--seed", "0", "--out", str(tmp_path / f"run{i}")],
                    stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=tmp_path,
                ))

        def stdout(i: int) -> str:
            return (logs / f"{i}.out").read_text(errors="replace")

        def stderr(i: int) -> str:
            return (logs / f"{i}.err").read_text(errors="replace")

        # Every run prints its header, then loads the data: wait for all eight headers.
        while not all("training softmax" in stdout(i) for i in range(N_RUNS)):
            ended = [i for i, p in enumerate(procs) if p.poll() is not None]
            assert not ended, f"run {ended[0]} ended early:\n{stderr(ended[0])}"
            assert time.monotonic() < deadline, "the runs never got to their data"
            time.sleep(0.05)
        while server.total_hits == 0:  # from the header to the lock file: milliseconds
            assert time.monotonic() < deadline, "no run asked for the data"
            time.sleep(0.05)
        time.sleep(1.0)
        # One run holds the lock and waits for its first file; the others wait for the lock.
        assert server.total_hits == 1, server.hits
        assert all(p.poll() is None for p in procs)
        gate.set()

        codes = [p.wait(timeout=max(1.0, deadline - time.monotonic())) for p in procs]
    finally:
        gate.set()
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
    wall = time.monotonic() - begin

    errors = [stderr(i) for i in range(N_RUNS)]
    assert codes == [0] * N_RUNS, errors
    assert not any("Traceback" in e for e in errors), errors
    reports = [json.loads(stdout(i).strip().splitlines()[-1]) for i in range(N_RUNS)]
    figures = [{k: r[k] for k in FIGURES} for r in reports]
    assert figures == [figures[0]] * N_RUNS, figures  # same seed, same data, same numbers
    assert figures[0]["epochs"] == 1
    assert 0.3 < figures[0]["test_acc"] <= 1.0  # it learnt something from real data
    assert [r["run_dir"] for r in reports] == [str(tmp_path / f"run{i}") for i in range(N_RUNS)]

    # Fetched once: one GET per file, each answered to the end, nothing else asked for.
    expected_hits = {f"/fmnist/{name}": 1 for name in (p.name for p in sources.values())}
    assert server.hits == expected_hits
    assert server.completed() == expected_hits

    # The shared directory holds the dataset and its lock file, nothing half-written.
    assert [p.name for p in shared.iterdir()] == [FASHION_MNIST.name]
    target = shared / FASHION_MNIST.name
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted([*(p.name for p in sources.values()), LOCK_NAME]), names
    assert (target / LOCK_NAME).stat().st_size == 0
    for f in FASHION_MNIST.files.values():
        path = target / f"{f.name}.gz"
        assert decompressed_md5(path) == f.md5, path
        assert path.read_bytes() == sources[f.name].read_bytes()
    print(f"{N_RUNS} concurrent runs: {wall:.1f} s wall time")
    assert wall < TEST_TIMEOUT
