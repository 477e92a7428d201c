"""Data-parallel training on torch.distributed (gloo, CPU): sharding, equivalence with one
process, the CLI's --nproc, and a worker that dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from shallownet.cli.launch import _describe
from shallownet.training import Trainer
from shallownet.training.distributed import leave, shard, shard_sizes
from tests.cli.clitools import last_json
from tests.conftest import write_tiny_dataset
from tests.training.distributed_worker import problem
from tests.training.test_trainer import without_seconds

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("distributed_worker.py")


@pytest.mark.parametrize(("size", "world"), [(16, 2), (17, 2), (3, 4), (1, 2), (256, 3)])
def test_shards_split_a_batch_evenly_and_disjointly(size, world):
    rows = torch.randperm(1000)[:size]
    parts = [shard(rows, r, world) for r in range(world)]
    assert torch.equal(torch.cat(parts), rows)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_leave_destroys_the_process_group_once(tmp_path):
    """Workers leave the group before exiting (a group torn down at interpreter exit can
    abort the process); leaving twice, or without a group, does nothing."""
    import torch.distributed as dist

    leave()  # no group: nothing to do
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        assert dist.is_initialized()
        leave()
        assert not dist.is_initialized()
        leave()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.parametrize(("n", "batch", "world"), [(150, 16, 2), (60000, 256, 2), (10, 4, 3)])
def test_shard_sizes_add_up_to_the_data(n, batch, world):
    sizes = [shard_sizes(n, batch, r, world) for r in range(world)]
    assert sum(map(sum, sizes)) == n
    assert all(len(s) == -(-n // batch) for s in sizes)


def torchrun(*args: str, nproc: int = 2, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc-per-node={nproc}", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


@pytest.mark.parametrize(("model", "impl"), [("softmax", "scratch"), ("mlp", "concise")])
def test_two_processes_train_what_one_does_with_the_same_global_batch(tmp_path, model, impl):
    out = tmp_path / "result.pt"
    done = torchrun(str(WORKER), str(out), model, impl)
    assert done.returncode == 0, done.stderr[-3000:]
    result = torch.load(out)
    assert result["step"] == ("autograd", "data-parallel: gradients " + (
        "summed with all_reduce" if impl == "scratch" else
        "averaged by DistributedDataParallel"))

    data, setup = problem(model, impl)
    history = Trainer(3, 16, seed=0, device="cpu", progress=False, log=False, live_plot=False,
                      step="autograd").fit(setup, data)
    for key, value in setup.model.state_dict().items():
        torch.testing.assert_close(result["state"][key], value, rtol=1e-10, atol=1e-12)
    for a, b in zip(without_seconds(result["history"]), without_seconds(history), strict=True):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-10, abs=1e-12), k

    # each example exactly once per epoch across the ranks: 10 global batches of <= 16
    parts = [torch.load(f"{out}.rank{r}") for r in range(2)]
    assert len(parts[0]) == len(parts[1]) == 3 * 10
    for epoch in range(3):
        batches = range(epoch * 10, (epoch + 1) * 10)
        rows = torch.cat([parts[r][b] for b in batches for r in range(2)])
        assert sorted(rows.tolist()) == list(range(150))
        for b in batches:
            assert abs(len(parts[0][b]) - len(parts[1][b])) <= 1


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("dist-data")
    write_tiny_dataset(directory, n_train=300, n_test=64)
    return directory


def cli(*args, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "shallownet", "train", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_cli_nproc_trains_resumes_exactly_and_only_rank_0_speaks(tmp_path, idx_dir):
    common = ["--data-dir", idx_dir, "--no-verify", "--batch-size", 32, "--no-plots", "--json",
              "--impl", "concise", "--model", "mlp", "--hidden", 16]
    whole = cli(*common, "--epochs", 3, "--nproc", 2, "--out", tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-3000:]
    lines = whole.stdout.splitlines()
    assert lines[0].endswith("2 processes (torch.distributed)")
    assert sum(line.startswith("epoch ") for line in lines) == 3  # once, from rank 0
    single = cli(*common, "--epochs", 3, "--out", tmp_path / "single")
    assert single.returncode == 0, single.stderr[-3000:]
    a, b = last_json(whole.stdout), last_json(single.stdout)
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert a[key] == pytest.approx(b[key], rel=1e-4), key

    part = cli(*common, "--epochs", 1, "--nproc", 2, "--out", tmp_path / "part")
    assert part.returncode == 0, part.stderr[-3000:]
    resumed = cli("--resume", tmp_path / "part", "--epochs", 3, "--nproc", 2, "--no-plots",
                  "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stdout
    c = last_json(resumed.stdout)
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert c[key] == a[key], key


def test_the_same_command_runs_under_torchrun(tmp_path, idx_dir):
    done = torchrun("-m", "shallownet", "train", "--data-dir", str(idx_dir), "--no-verify",
                    "--epochs", "2", "--batch-size", "32", "--no-plots", "--json", "--out",
                    str(tmp_path / "t"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[0].endswith("2 processes (torch.distributed)")
    assert last_json(done.stdout)["epochs"] == 2
    assert (tmp_path / "t" / "checkpoint.pt").is_file()


@pytest.mark.parametrize(("argv", "message"), [
    (["--kernel"], "the kernel step trains in one process; a data-parallel run trains "
                   "through autograd on each process's shard. Use --step autograd"),
    (["--step", "fused"], "the fused step trains in one process"),
    (["--folds", "2"], "--folds trains its folds one after another"),
])
def test_cli_nproc_refuses_what_cannot_be_distributed(idx_dir, argv, message):
    done = cli("--data-dir", idx_dir, "--no-verify", "--nproc", 2, *argv, timeout=60)
    assert done.returncode == 1 and message in done.stderr


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    result, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        result += kids
        todo += kids
    return result


def _is_worker(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"shallownet" in cmdline and b"train" in cmdline


def test_a_worker_killed_mid_run_ends_the_launch_with_an_error(tmp_path, idx_dir):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    launch = subprocess.Popen(
        [sys.executable, "-m", "shallownet", "train", "--data-dir", str(idx_dir), "--no-verify",
         "--epochs", "100000", "--nproc", "2", "--no-plots", "-q", "--out", str(tmp_path / "r")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "r" / "metrics.csv").exists():  # epoch 0's checkpoint: running
            assert launch.poll() is None, launch.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        workers = [p for p in _descendants(launch.pid) if _is_worker(p)]
        assert len(workers) == 2, workers
        os.kill(workers[-1], signal.SIGKILL)
        killed_at = time.monotonic()
        out, err = launch.communicate(timeout=60)
        assert time.monotonic() - killed_at < 60
    finally:
        if launch.poll() is None:
            launch.kill()
    assert launch.returncode == 1
    assert f"(pid {workers[-1]}) was killed by SIGKILL" in err
    assert "the distributed run was stopped" in err and "--resume" in err
    assert all(not Path(f"/proc/{p}").exists() or not _is_worker(p) for p in workers)


def test_failure_messages_name_the_worker_and_the_signal():
    class Failure:
        def __init__(self, pid, exitcode):
            self.pid, self.exitcode = pid, exitcode

    text = _describe({1: Failure(42, -9), 0: Failure(41, 3)})
    assert text.startswith("worker 0 (pid 41) exited with status 3; worker 1 (pid 42) was "
                           "killed by SIGKILL, so the distributed run was stopped")
