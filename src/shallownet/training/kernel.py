"""A compiled training step for softmax regression: one pass over each row, on every core.

The fused step (:mod:`shallownet.training.fused`) spends most of a softmax
regression step in BLAS products with 16 columns, which BLAS runs far below
its peak, and in gathering the batch. ``softmax_kernel.cpp`` does the whole
step in one C++ function instead: for each row of the batch, read straight
from the dataset by index, it computes the logits ``o = b + x W``, the
gradient ``g = softmax(o) - onehot(y)`` and adds ``xᵀ g`` to the gradient,
six rows at a time in vector registers, the batch split over the cores in
fixed chunks; then ``W <- (1 - lr wd) W - (lr / n) Σ xᵀ g`` and
``b <- b - (lr / n) Σ g``. These are the fused step's formulas; the results
agree with it to float32 rounding, and do not depend on the thread count.

The C++ is compiled for this CPU on first use (``torch.utils.cpp_extension``,
which needs a C++ compiler and ninja; about 40 s, once: the build is kept in
torch's extension cache). It trains when the run's step is ``kernel``
(``Trainer(step="kernel")``; :mod:`shallownet.training.steps`) and
:func:`why_no_kernel` finds nothing against it: softmax regression with at
most 32 classes, cross-entropy, plain SGD, float32 on the CPU, on Linux. The
tests check it against the scratch tier's gradient,
:func:`shallownet.scratch.losses.cross_entropy_grad`.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from shallownet.errors import ShallownetError
from shallownet.init import weight_layers
from shallownet.registry import ModelSetup, why_no_compiled_step
from shallownet.training.fused import weight_bias

__all__ = ["KernelStep", "KernelUnavailable", "load_kernel", "why_no_kernel", "kernel_is_built"]

SOURCE = Path(__file__).with_name("softmax_kernel.cpp")
_WIDTHS = (8, 16, 32)  # the padded output widths the C++ is compiled for
_FLAGS = ["-O3", "-march=native", "-fopenmp"]

_lock = threading.Lock()
_module = None
_failure: str | None = None


class KernelUnavailable(ShallownetError):
    """The compiled softmax step cannot be built or used here."""


def why_no_kernel(setup: ModelSetup, device: torch.device | str = "cpu") -> str | None:
    """Why ``setup`` cannot train with the compiled step on ``device`` (None when it can).

    Does not build anything: a setup that qualifies may still fail to build
    (see :func:`load_kernel`).
    """
    reason = why_no_compiled_step(setup.config)
    if reason is not None:
        return reason
    if torch.device(device).type != "cpu":
        return f"the compiled step runs on the CPU, not {torch.device(device).type}"
    if not sys.platform.startswith("linux"):
        return f"the compiled step is built on Linux only, not {sys.platform}"
    W, _ = weight_bias(weight_layers(setup.model)[0])
    if W.dtype != torch.float32:
        return f"the compiled step takes float32 weights, not {W.dtype}"
    if W.shape[0] > _WIDTHS[-1]:
        return f"the compiled step takes at most {_WIDTHS[-1]} classes, not {W.shape[0]}"
    return None


def load_kernel(say: Callable[[str], None] | None = None):
    """The compiled module (built on first use); raises :class:`KernelUnavailable`.

    ``say`` gets one line before a build that is not in torch's extension
    cache yet (default: print it to stderr). A failed build is not retried
    in the same process.
    """
    global _module, _failure
    with _lock:
        if _module is not None:
            return _module
        if _failure is not None:
            raise KernelUnavailable(_failure)
        try:
            _module = _build(say or (lambda line: print(line, file=sys.stderr, flush=True)))
        except KernelUnavailable as exc:
            _failure = str(exc)
            raise
        return _module


def _build_name() -> tuple[str, str, Path]:
    """(the build's name, its source, torch's extension cache): the name depends on the
    source, the flags, torch's version and this CPU (the build uses -march=native)."""
    from torch.utils import cpp_extension

    source = SOURCE.read_text(encoding="utf-8")
    tag = "\0".join([source, *_FLAGS, torch.__version__, _cpu_name()])
    name = "shallownet_softmax_" + hashlib.sha256(tag.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("TORCH_EXTENSIONS_DIR") or cpp_extension.get_default_build_root())
    return name, source, cache


def kernel_is_built() -> bool:
    """Whether the compiled step is built for this CPU (loaded, or in torch's extension cache),
    so that using it costs no build. Builds nothing."""
    if _module is not None:
        return True
    if _failure is not None or not sys.platform.startswith("linux"):
        return False
    try:
        name, _, cache = _build_name()  # torch builds into cache/[py311_cpu/]name/
        return any(cache.glob(f"{name}/{name}*.so")) or any(cache.glob(f"*/{name}/{name}*.so"))
    except OSError:
        return False


def _build(say: Callable[[str], None]):
    from torch.utils import cpp_extension

    if not sys.platform.startswith("linux"):
        raise KernelUnavailable(f"the compiled step is built on Linux only, not {sys.platform}")
    if not cpp_extension.is_ninja_available():
        raise KernelUnavailable("building the compiled step needs ninja (pip install ninja)")
    name, source, cache = _build_name()
    if not any(cache.rglob(f"{name}/{name}*.so")):
        say("building shallownet's compiled softmax step for this CPU "
            "(once; it takes about a minute)...")
    start = time.perf_counter()
    try:
        module = cpp_extension.load_inline(
            name, cpp_sources=[source], functions=["softmax_sgd_step"],
            extra_cflags=_FLAGS, extra_ldflags=["-fopenmp"], verbose=False,
        )
    except (RuntimeError, OSError, ImportError) as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        raise KernelUnavailable(
            "the compiled softmax step did not build: " + (lines[-1] if lines else repr(exc))
        ) from exc
    module.build_seconds = time.perf_counter() - start
    return module


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


class KernelStep:
    """The compiled softmax-regression step (a :class:`~shallownet.training.steps.Step`).

    After ``bind(X, y)``, ``step(rows, out)`` trains on the rows ``rows`` of
    the bound data, read straight from it without gathering them first, and
    writes the batch's logits to ``out``; ``step.train(X, y, out)`` trains on
    a batch given whole. The weights train in a padded (inputs, 8/16/32) copy
    that :meth:`begin_epoch` and :meth:`end_epoch` exchange with the model.

    Raises :class:`KernelUnavailable` when the setup does not qualify
    (:func:`why_no_kernel`) or the C++ does not build.
    """

    name = "kernel"

    def __init__(self, setup: ModelSetup, say: Callable[[str], None] | None = None) -> None:
        reason = why_no_kernel(setup)
        if reason is not None:
            raise KernelUnavailable(reason)
        self.module = load_kernel(say)
        cfg = setup.config
        self.weight_decay = cfg.weight_decay
        self.set_lr(cfg.lr)
        self.W, self.b = weight_bias(weight_layers(setup.model)[0])  # (q, k), (q,)
        self.q, k = self.W.shape
        width = next(w for w in _WIDTHS if w >= self.q)
        self.padded_W = torch.zeros((k, width))  # W's transpose; the padding stays zero
        self.padded_b = torch.zeros(width)
        self._X = self._y = None
        self._no_rows = torch.empty(0, dtype=torch.long)
        self.begin_epoch()

    def set_lr(self, lr: float) -> None:
        """Train the next steps at rate ``lr`` (a schedule's)."""
        self.lr = lr
        self.decay = 1 - lr * self.weight_decay

    def begin_epoch(self) -> None:
        """Copy the model's weights into the padded working copy."""
        with torch.no_grad():
            self.padded_W[:, : self.q].copy_(self.W.T)
            self.padded_b[: self.q].copy_(self.b)

    def end_epoch(self) -> None:
        """Copy the trained weights back into the model."""
        with torch.no_grad():
            self.W.copy_(self.padded_W[:, : self.q].T)
            self.b.copy_(self.padded_b[: self.q])

    def bind(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """Train on rows of ``(X, y)`` from now on."""
        self._X, self._y = _flat(X), y.to(torch.long).contiguous()

    def __call__(self, rows: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Train on the bound data's rows ``rows``; write their logits to ``out``; return rows."""
        self._run(self._X, self._y, rows.to(torch.long).contiguous(), out[: len(rows)])
        return rows

    def train(self, X: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> None:
        """Train on the batch ``(X, y)`` given whole; write its logits to ``out``."""
        self._run(_flat(X), y.to(torch.long).contiguous(), self._no_rows, out)

    def _run(self, X, y, rows, out) -> None:
        try:
            self.module.softmax_sgd_step(X, y, rows, self.padded_W, self.padded_b, out,
                                         self.lr, self.decay)
        except RuntimeError as exc:
            raise ShallownetError(f"the compiled softmax step refused the batch: "
                                  f"{str(exc).splitlines()[0]}") from exc


def _flat(X: torch.Tensor) -> torch.Tensor:
    """``X`` as contiguous float32 rows (a view where it already is)."""
    return X.reshape(len(X), -1).to(torch.float32).contiguous()
