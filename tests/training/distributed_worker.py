"""A worker of the distributed tests: ``torchrun ... distributed_worker.py OUT MODEL IMPL``.

Trains a float64 model on the trainer tests' blobs with global batch 16 and
writes (rank 0) its final weights and history to OUT; every rank writes the
rows it trained, batch by batch, to OUT.rank<r>.
"""

from __future__ import annotations

import sys

import torch

from shallownet.registry import ModelConfig, build
from shallownet.training import Trainer
from shallownet.training import distributed as distributed_module
from shallownet.training.distributed import from_environment, leave, shard
from tests.training.test_trainer import blobs


def problem(model: str, impl: str):
    """(data, setup): the trainer tests' blobs and a model, both float64."""
    data = blobs(n_train=150)
    data.train_X, data.test_X = data.train_X.double(), data.test_X.double()
    extra = {"hidden": (8,)} if model == "mlp" else {}
    setup = build(ModelConfig(model=model, impl=impl, **extra), input_shape=data.input_shape,
                  num_outputs=data.num_outputs, seed=0, dtype=torch.float64)
    return data, setup


def main(out: str, model: str, impl: str) -> None:
    group = from_environment()
    data, setup = problem(model, impl)
    trainer = Trainer(3, 16, seed=0, device="cpu", progress=False, log=False, live_plot=False,
                      group=group)
    seen = []  # the rows the trainer took for this rank, batch by batch

    def recording_shard(rows, rank, world_size):
        part = shard(rows, rank, world_size)
        if len(rows) <= 16:  # a training batch (the test pass shards its 60 rows too)
            seen.append(part.clone())
        return part

    distributed_module.shard = recording_shard
    history = trainer.fit(setup, data)
    torch.save(seen, f"{out}.rank{group.rank}")
    if group.is_main:
        torch.save({"state": setup.model.state_dict(), "history": history,
                    "step": tuple(trainer.step_choice)}, out)


if __name__ == "__main__":
    main(*sys.argv[1:])
    leave()  # after main: its model, DDP wrapper and trainer are garbage by now
