"""Checkpoints: the model's weights, the optimiser's state, the run's config and its epoch.

Written atomically and read with ``torch.load(weights_only=True)``, which
rebuilds only tensors and plain containers: a file crafted to run code when
unpickled is refused, and its code never runs.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import torch
from torch import nn

from shallownet.atomic import write_bytes
from shallownet.errors import CheckpointError, Hint

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "restore_model",
           "check_optimizer_state"]

FORMAT = "shallownet-checkpoint/1"
_ZIP_MAGIC = b"PK\x03\x04"  # how every checkpoint torch.save writes (since torch 1.6) starts
_KEYS = {"format": str, "epoch": int, "model": dict, "optimizer": dict, "config": dict,
         "history": list}


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer,
    config: dict,
    epoch: int,
    history: list[dict],
) -> Path:
    """Write the state after ``epoch`` completed epochs to ``path`` (atomically, fsynced)."""
    state = {
        "format": FORMAT,
        "epoch": int(epoch),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": _to_cpu(optimizer.state_dict()),
        "config": config,
        "history": history,
    }
    buffer = io.BytesIO()  # serialised in memory: a full disk is an OSError of the write
    torch.save(state, buffer)
    return write_bytes(path, buffer.getvalue(), what="checkpoint")


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`, without unpickling objects.

    Raises
    ------
    CheckpointError
        A missing or unreadable file, one that is not a shallownet checkpoint,
        or one that would need arbitrary code to load.
    """
    path = Path(path)
    try:
        is_file = path.is_file()
    except OSError as exc:  # a name too long
        raise CheckpointError(f"cannot read the checkpoint {path}: {exc.strerror or exc}.") from exc
    if not is_file:
        raise CheckpointError(
            f"no checkpoint at {path}. A run directory holds checkpoint.pt once its first "
            f"epoch has started; was the run started with this directory as {Hint('out')}?",
            hints=[Hint("out")]
        )
    try:
        with open(path, "rb") as f:
            magic = f.read(len(_ZIP_MAGIC))
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint {path}: {exc.strerror or exc}.") from exc
    if magic != _ZIP_MAGIC:  # torch's legacy format lets a few bytes demand gigabytes of memory
        raise CheckpointError(
            f"cannot load the checkpoint {path}: it is not the zip archive torch.save writes, "
            "so it is damaged or not a shallownet checkpoint (torch's legacy pickle format is "
            "refused for safety)."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to parse is a bad file
        raise CheckpointError(
            f"cannot load the checkpoint {path}: it is damaged, not a shallownet checkpoint, "
            "or holds objects other than tensors and plain values (refused for safety: "
            f"loading it could run code). ({type(exc).__name__})"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a shallownet checkpoint (expected format {FORMAT!r})."
        )
    for key, kind in _KEYS.items():
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            raise CheckpointError(f"checkpoint {path} is damaged: {key!r} is missing or invalid.")
    if state["epoch"] < 0:
        raise CheckpointError(f"checkpoint {path} is damaged: epoch {state['epoch']} < 0.")
    optimizer = state["optimizer"]
    groups = optimizer.get("param_groups")
    if not (
        isinstance(optimizer.get("state"), dict)
        and all(isinstance(s, dict) for s in optimizer["state"].values())
        and isinstance(groups, list)
        and all(isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups)
    ):
        raise CheckpointError(
            f"checkpoint {path} is damaged: its optimiser state is not a 'state' dict of dicts "
            "and a 'param_groups' list of groups with their 'params'."
        )
    facts = state["config"].get("dataset")  # what the model is rebuilt from
    if isinstance(facts, dict) and not (
        isinstance(facts.get("classes", ...), list | type(None))
        and isinstance(facts.get("input_shape"), list)
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                for n in facts["input_shape"])
    ):
        raise CheckpointError(
            f"checkpoint {path} is damaged: the dataset facts in its config need 'classes' "
            "(a list, or null) and 'input_shape' (a list of positive whole numbers)."
        )
    if not all(isinstance(record, dict) for record in state["history"]):
        raise CheckpointError(
            f"checkpoint {path} is damaged: its history holds something other than one "
            "record (a dict) per epoch."
        )
    return state


def restore_model(model: nn.Module, weights: dict, *, source: str | os.PathLike = "checkpoint"):
    """Load ``weights`` into ``model``, or say exactly which names or shapes differ."""
    own = model.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(str(k) for k in set(weights) - set(own))  # a damaged file's keys: any
    shapes = [
        f"{k} {tuple(weights[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in weights and isinstance(weights[k], torch.Tensor)
        and weights[k].shape != own[k].shape
    ]
    not_tensors = [str(k) for k in weights if not isinstance(weights[k], torch.Tensor)]
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected)}")
    if shapes:
        problems.append(f"shape (checkpoint vs model) {'; '.join(shapes)}")
    if not_tensors:
        problems.append(f"not tensors: {', '.join(not_tensors)}")
    if problems:
        raise CheckpointError(
            f"the weights in {source} do not fit this model ({type(model).__name__}): "
            + "; ".join(problems) + ". Was it saved by a run with another model or options?"
        )
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:  # names and shapes fit, the tensors do not (sparse, ...)
        raise CheckpointError(
            f"the weights in {source} cannot be loaded into this model "
            f"({type(model).__name__}): {exc}"
        ) from exc


def check_optimizer_state(saved: dict, optimizer, *, source: str | os.PathLike = "checkpoint"):
    """Refuse an optimiser state that ``optimizer`` (freshly built) could not train with.

    Every hyper-parameter must have the kind of the fresh optimiser's (numbers
    finite), and every state tensor of a parameter (momentum, moments) must be
    dense, finite and of the parameter's shape and dtype; step counts finite.
    """
    template = optimizer.state_dict()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    problems = []
    groups = saved["param_groups"]
    if len(groups) != len(template["param_groups"]):
        problems.append(f"{len(groups)} parameter groups, not {len(template['param_groups'])}")
    for i, (group, fresh) in enumerate(zip(groups, template["param_groups"], strict=False)):
        if set(map(str, group)) != set(fresh):
            problems.append(f"group {i} has the settings {sorted(map(str, group))}, not "
                            f"{sorted(fresh)}")
            continue
        for key, ref in fresh.items():
            if key == "params":
                ids = group[key]
                if len(ids) != len(ref) or not all(
                        type(j) is int and 0 <= j < len(params) for j in ids):
                    problems.append(f"group {i} lists parameters {ids!r:.60}")
            elif not _same_kind(group[key], ref):
                problems.append(f"group {i}: {key} is {group[key]!r:.40}, not like {ref!r}")
    for index, entry in saved["state"].items():
        if type(index) is not int or not 0 <= index < len(params):
            problems.append(f"state for an unknown parameter {index!r:.40}")
            continue
        param = params[index]
        for name, value in entry.items():
            if not _fits(value, param):
                what = (f"a {tuple(value.shape)} {value.dtype} {value.layout} tensor"
                        if isinstance(value, torch.Tensor) else f"{value!r:.40}")
                problems.append(f"{name} of parameter {index} is {what}")
    if problems:
        raise CheckpointError(
            f"the optimiser state in {source} is damaged: " + "; ".join(problems[:5]) + "."
        )


def _finite_number(value) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _same_kind(value, ref) -> bool:
    if isinstance(ref, bool) or ref is None or isinstance(ref, str):
        return type(value) is type(ref)
    if isinstance(ref, int | float):
        return _finite_number(value)
    if isinstance(ref, tuple | list):
        return (isinstance(value, tuple | list) and len(value) == len(ref)
                and all(_same_kind(v, r) for v, r in zip(value, ref, strict=True)))
    if isinstance(ref, torch.Tensor):
        return _fits(value, ref)
    return type(value) is type(ref)


def _fits(value, param: torch.Tensor) -> bool:
    """A state value for ``param``: a finite number or 0-d tensor, or a tensor like it."""
    if not isinstance(value, torch.Tensor):
        return _finite_number(value)
    if value.layout != torch.strided or value.is_complex() != param.is_complex():
        return False
    if value.ndim == 0:
        return bool(torch.isfinite(value).all())
    return (value.shape == param.shape and value.dtype == param.dtype
            and bool(torch.isfinite(value).all()))
