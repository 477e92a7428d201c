"""Data-parallel training on ``torch.distributed``: the process group, sharding, the launcher.

A run on W processes trains exactly what one process would with the same
global batch: every rank draws the same permutation of the epoch (the same
seed), each global batch of B rows is split evenly into W contiguous shards
(``torch.tensor_split``: sizes differ by at most one), and rank r trains on
shard r. Its gradient contribution is scaled so that, summed over the ranks,
it is the gradient of the global batch's mean loss::

    ∇ (1/B) Σ_{i in batch} l_i  =  Σ_r (n_r / B) ∇ mean_{i in shard r} l_i

Concise models train under ``DistributedDataParallel`` (which averages the
ranks' gradients, so each rank's loss is multiplied by W); scratch models
call ``torch.distributed.all_reduce`` on each gradient themselves. Loss sums,
correct counts and example counts are all-reduced, so every rank holds the
figures of the whole data set.

:func:`from_environment` joins the group that ``torchrun`` (or ``shallownet
train --nproc N``, :mod:`shallownet.cli.launch`) describes in the environment
(``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``): gloo on the CPU,
nccl on CUDA.
"""

from __future__ import annotations

import datetime
import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from shallownet.training.steps import GatheringStep

__all__ = ["Group", "DistributedStep", "from_environment", "in_distributed_launch", "leave",
           "shard", "shard_sizes", "TIMEOUT_SECONDS"]

#: how long a collective waits for the other ranks before it fails (SHALLOWNET_DIST_TIMEOUT)
TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Group:
    """This process's place in the run: ``rank`` of ``world_size``, ``local_rank`` on its host."""

    rank: int
    world_size: int
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 prints, plots and writes the run directory."""
        return self.rank == 0

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` summed over the ranks (every rank gets the sum; in place)."""
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def min(self, value: int, device: torch.device | str = "cpu") -> int:
        """The smallest of the ranks' ``value``."""
        t = torch.tensor([value], dtype=torch.int64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return int(t.item())

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def in_distributed_launch() -> bool:
    """Whether torchrun (or ``shallownet train --nproc``) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def from_environment(device: torch.device | str = "cpu") -> Group | None:
    """Join the process group the environment describes; None outside a multi-process launch.

    The backend is nccl for a CUDA device (each local rank takes its own GPU)
    and gloo otherwise; collectives time out after ``SHALLOWNET_DIST_TIMEOUT``
    seconds (default :data:`TIMEOUT_SECONDS`).
    """
    if not in_distributed_launch():
        return None
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        cuda = torch.device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(local_rank)
        timeout = float(os.environ.get("SHALLOWNET_DIST_TIMEOUT", TIMEOUT_SECONDS))
        dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=timeout))
    if "OMP_NUM_THREADS" not in os.environ:  # share the host's cores between its workers
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    return Group(rank, world, local_rank)


def leave() -> None:
    """Leave the process group, if this process joined one, before the process ends.

    Without it the group is torn down while Python shuts down, and gloo's
    worker threads can then abort the process (SIGABRT, "terminate called
    without an active exception") after its work is done. A
    ``DistributedDataParallel`` wrapper keeps the group alive too, and sits in
    reference cycles (its autograd hooks), so the garbage is collected first:
    call this once the training objects are out of scope.
    """
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def shard(rows: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s contiguous share of a global batch's ``rows`` (sizes differ by <= 1)."""
    return torch.tensor_split(rows, world_size)[rank]


class DistributedStep(GatheringStep):
    """One data-parallel step (a :class:`~shallownet.training.steps.Step` named ``autograd``).

    ``step(rows, out)`` trains this rank's shard of the global batch ``rows``,
    leaves every rank's parameters equal to those one process would have after
    the step on the whole global batch (see the module's formula), writes the
    shard's outputs to ``out`` and returns the shard's rows. Models whose tier
    trains ``torch.nn`` modules (:attr:`shallownet.registry.Tier.ddp`) run
    under ``DistributedDataParallel``; the scratch tier's sum their gradients
    with one ``all_reduce`` a step.
    """

    name = "autograd"

    def __init__(self, setup, group: Group) -> None:
        from torch.nn.parallel import DistributedDataParallel

        self.setup, self.group = setup, group
        self.ddp = setup.tier.ddp
        # DDP broadcasts rank 0's parameters now and averages gradients in backward
        self.model = DistributedDataParallel(setup.model) if self.ddp else setup.model

    def __call__(self, rows: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        mine = shard(rows, self.group.rank, self.group.world_size)
        X, y = self._X.index_select(0, mine), self._y.index_select(0, mine)
        if self.augment is not None:
            X = self.augment(X)
        self._step(X, y, out[: len(mine)], total=len(rows))
        return mine

    def _step(self, X: torch.Tensor, y: torch.Tensor, out: torch.Tensor, total: int) -> None:
        setup, n = self.setup, len(y)
        setup.optimizer.zero_grad()
        if setup.hand:  # the scratch tier's chain rule: gradients of this shard's mean loss
            if n:
                _, outputs = setup.model.hand_backward(X, y)
                for p in setup.model.parameters():
                    p.grad.mul_(n / total)
            else:
                outputs = setup.model(X).detach()
        else:
            outputs = self.model(X)
            losses = setup.loss(outputs, y)
            weight = self.group.world_size / total if self.ddp else 1 / total
            (losses.sum() * weight).backward()
            outputs = outputs.detach()
        if not self.ddp:  # the readable way: sum the gradients over the ranks
            params = list(setup.model.parameters())
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            # one all_reduce for all of them: each call costs a round trip between processes
            flat = torch.cat([p.grad.reshape(-1) for p in params])
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            for p, g in zip(params, flat.split([p.numel() for p in params]), strict=True):
                p.grad.copy_(g.view_as(p.grad))
        setup.optimizer.step()
        out.copy_(outputs)


def shard_sizes(n: int, batch_size: int, rank: int, world_size: int) -> list[int]:
    """The size of rank ``rank``'s shard of each global batch of an epoch over ``n`` rows."""
    sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    return [s // world_size + (1 if rank < s % world_size else 0) for s in sizes]
