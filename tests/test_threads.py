"""The thread policy: the cores other processes leave free, followed while training."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from shallownet import threads
from shallownet.errors import UsageError
from shallownet.threads import ThreadPolicy, other_load

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def test_other_load_is_the_machines_busy_cores_less_this_processes():
    n = os.cpu_count()
    # 1 s of wall: the machine's ticks say 1.5 cores were busy, this process used 0.5 s of CPU
    before = (0.0, 1.0, 0, 0)
    after = (1.0, 1.5, 1.5 / n * 1000, 1000)
    assert other_load(before, after) == pytest.approx(1.0)
    assert other_load(before, before) is None  # no time has passed
    assert other_load(None, after) is None


def test_a_number_fixes_the_count_and_stop_puts_back_the_old_one():
    before = torch.get_num_threads()
    policy = ThreadPolicy(1)
    policy.start()
    assert torch.get_num_threads() == 1
    policy.update(force=True)
    assert torch.get_num_threads() == 1 and policy.history == [1]
    policy.stop()
    assert torch.get_num_threads() == before


def test_the_environment_sets_the_count(monkeypatch):
    monkeypatch.setenv(threads.THREADS_ENV, "1")
    assert ThreadPolicy().fixed == 1
    monkeypatch.setenv(threads.THREADS_ENV, "auto")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert ThreadPolicy().fixed is None


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_bad_count_is_refused(monkeypatch, value):
    monkeypatch.setenv(threads.THREADS_ENV, value)
    with pytest.raises(UsageError, match="auto' or a whole number of at least 1"):
        ThreadPolicy()


@pytest.mark.skipif(CORES < 2 or not os.path.exists("/proc/stat"),
                    reason="needs two cores and /proc/stat")
def test_a_busy_process_beside_training_takes_a_core_away(monkeypatch):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    policy = ThreadPolicy()
    if policy.most is None or policy.most < 2:
        pytest.skip("torch runs one thread here")
    loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        policy.start()
        time.sleep(0.6)  # the loop's CPU time shows in /proc/stat
        policy.update(force=True)
        assert torch.get_num_threads() < policy.most, policy.history
    finally:
        loop.kill()
        loop.wait()
        policy.stop()


def test_adapting_sets_the_count_for_its_block_and_nested_blocks_share_one_policy(monkeypatch):
    monkeypatch.setenv(threads.THREADS_ENV, "1")
    before = torch.get_num_threads()
    threads.keep_up()  # outside any block: nothing to follow
    assert torch.get_num_threads() == before
    with threads.adapting() as outer:
        assert torch.get_num_threads() == 1
        with threads.adapting() as inner:
            assert inner is outer
            threads.keep_up()
        assert torch.get_num_threads() == 1  # the inner block's end does not stop the policy
    assert torch.get_num_threads() == before


def test_adapting_puts_the_count_back_when_the_block_raises(monkeypatch):
    monkeypatch.setenv(threads.THREADS_ENV, "1")
    before = torch.get_num_threads()
    with pytest.raises(KeyError), threads.adapting():
        raise KeyError("boom")
    assert torch.get_num_threads() == before
    with threads.adapting() as policy:  # a fresh policy after the failed block
        assert policy.history == [1]
