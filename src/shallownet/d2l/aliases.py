"""The tensor shorthands the book's ``d2l.torch`` defines (``d2l.tensor``, ``d2l.reduce_sum``...).

The book writes some cells once for every framework through these names;
here they are the torch functions and methods they stand for.
"""

from __future__ import annotations

import torch

__all__ = [
    "ones", "zeros", "tensor", "arange", "meshgrid", "sin", "sinh", "cos", "cosh", "tanh",
    "linspace", "exp", "log", "normal", "rand", "randn", "matmul", "int32", "int64", "float32",
    "concat", "stack", "abs", "eye", "sigmoid", "batch_matmul", "numpy", "size", "reshape", "to",
    "reduce_sum", "reduce_mean", "argmax", "astype", "transpose", "ones_like", "zeros_like",
    "expand_dims", "swapaxes", "repeat", "nn_Module",
]  # fmt: skip

ones, zeros, tensor, arange = torch.ones, torch.zeros, torch.tensor, torch.arange
ones_like, zeros_like = torch.ones_like, torch.zeros_like
#: The base class of the current edition's ``d2l.Module``.
nn_Module = torch.nn.Module
meshgrid, linspace, eye = torch.meshgrid, torch.linspace, torch.eye
sin, sinh, cos, cosh, tanh = torch.sin, torch.sinh, torch.cos, torch.cosh, torch.tanh
exp, log, abs, sigmoid = torch.exp, torch.log, torch.abs, torch.sigmoid
normal, rand, randn = torch.normal, torch.rand, torch.randn
matmul, batch_matmul = torch.matmul, torch.bmm
int32, int64, float32 = torch.int32, torch.int64, torch.float32
concat, stack = torch.cat, torch.stack


def numpy(x, *args, **kwargs):
    """``x`` as a numpy array (detached and moved to the CPU first)."""
    return x.detach().cpu().numpy(*args, **kwargs)


def size(x):
    """Number of elements of ``x``."""
    return x.numel()


def reshape(x, *args):
    """``x.reshape(*args)``."""
    return x.reshape(*args)


def to(x, *args, **kwargs):
    """``x.to(*args, **kwargs)``."""
    return x.to(*args, **kwargs)


def reduce_sum(x, *args, **kwargs):
    """``x.sum(*args, **kwargs)``."""
    return x.sum(*args, **kwargs)


def reduce_mean(x, *args, **kwargs):
    """``x.mean(*args, **kwargs)``."""
    return x.mean(*args, **kwargs)


def argmax(x, *args, **kwargs):
    """``x.argmax(*args, **kwargs)``."""
    return x.argmax(*args, **kwargs)


def astype(x, *args, **kwargs):
    """``x.type(*args, **kwargs)``."""
    return x.type(*args, **kwargs)


def transpose(x, *args, **kwargs):
    """``x.t(*args, **kwargs)``."""
    return x.t(*args, **kwargs)


def expand_dims(x, *args, **kwargs):
    """``x.unsqueeze(*args, **kwargs)``."""
    return x.unsqueeze(*args, **kwargs)


def swapaxes(x, *args, **kwargs):
    """``x.swapaxes(*args, **kwargs)``."""
    return x.swapaxes(*args, **kwargs)


def repeat(x, *args, **kwargs):
    """``x.repeat(*args, **kwargs)``."""
    return x.repeat(*args, **kwargs)
