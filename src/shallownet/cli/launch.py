"""``shallownet train --nproc N``: the run in N local worker processes, under PyTorch's launcher.

Each worker is ``python -m shallownet train`` with the same arguments (less
``--nproc``); it joins the process group through
:func:`shallownet.training.distributed.from_environment`, as under ``torchrun``.
"""

from __future__ import annotations

import logging
import signal
import sys
import uuid

from shallownet.errors import ShallownetError, UsageError

__all__ = ["launch", "WorkerFailed"]


class WorkerFailed(ShallownetError):
    """A worker process of a distributed run failed, and the run was stopped."""


def launch(argv: list[str], nproc: int) -> int:
    """Run ``shallownet train ARGV`` in ``nproc`` local workers under PyTorch's elastic launcher.

    The workers find each other through a c10d rendezvous on a free local port.
    If one fails (an error, a signal) the launcher stops the others and this
    raises :class:`WorkerFailed` naming it; nothing is restarted.
    """
    if nproc < 1:
        raise UsageError(f"--nproc must be at least 1, not {nproc}.")
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    for name in ("torch.distributed.elastic", "torch.distributed.launcher"):
        logging.getLogger(name).setLevel(logging.ERROR)  # its own failure reports: ours below
    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"shallownet-{uuid.uuid4()}",
        rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0,
        monitor_interval=0.2, start_method="spawn",
    )
    try:
        elastic_launch(config, entrypoint=sys.executable)("-m", "shallownet", "train", *argv)
    except ChildFailedError as exc:
        raise WorkerFailed(_describe(exc.failures)) from None
    return 0


def _describe(failures: dict) -> str:
    parts = []
    for rank, failure in sorted(failures.items()):
        code = failure.exitcode
        try:
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else None
        except ValueError:  # not a signal this platform names
            how = None
        how = how or f"exited with status {code}"
        parts.append(f"worker {rank} (pid {failure.pid}) {how}")
    return (f"{'; '.join(parts)}, so the distributed run was stopped (the other workers "
            "too). A run directory keeps the checkpoint of its last complete epoch: "
            "continue with shallownet train --resume RUN_DIR --nproc N.")
