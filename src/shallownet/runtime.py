"""Where and how reproducibly to run: ``--device auto|cpu|cuda|mps`` and seeds."""

from __future__ import annotations

import numpy as np
import torch

from shallownet.errors import Hint, UsageError

__all__ = ["DEVICES", "PRECISIONS", "mps_available", "resolve_device", "seed_everything",
           "derive_seed", "why_no_bfloat16",
           "SHUFFLE", "DROPOUT", "TRAIN_DATA", "TEST_DATA", "FOLDS", "FOLD_RUN", "VALIDATION"]

DEVICES = ("auto", "cpu", "cuda", "mps")


def mps_available() -> bool:
    """Whether an Apple GPU (MPS) can be used."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The device called ``name``: ``auto`` picks CUDA, then MPS (Apple), then the CPU.

    ``cuda:1`` style indices are accepted. Asking for a device this machine
    lacks is a :class:`UsageError` that says what is available.
    """
    if isinstance(name, torch.device):
        name = str(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in DEVICES:
        raise UsageError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}.")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(
                f"device {name!r}: this machine (or this PyTorch build, {torch.__version__}) "
                f"has no CUDA GPU. Use {Hint('device', 'auto')} or {Hint('device', 'cpu')}. "
                f"Available: {_available()}.", hints=[Hint("device", "auto"), Hint("device", "cpu")]
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(
                f"device {name!r}: there are {torch.cuda.device_count()} CUDA devices "
                f"(cuda:0..cuda:{torch.cuda.device_count() - 1})."
            )
    if device.type == "mps" and not mps_available():
        raise UsageError(
            f"device {name!r}: Apple's MPS backend is not available here. "
            f"Use {Hint('device', 'auto')} or {Hint('device', 'cpu')}. Available: "
            f"{_available()}.", hints=[Hint("device", "auto"), Hint("device", "cpu")]
        )
    return device


#: what ``precision=`` may name: float32 everywhere, bfloat16 products (mixed precision), or
#: auto: bfloat16 where the hardware has it (:func:`why_no_bfloat16`), else float32
PRECISIONS = ("float32", "bfloat16", "auto")


def why_no_bfloat16(device: torch.device | str) -> str | None:
    """Why ``device`` cannot take matrix products in bfloat16 at full speed (None if it can).

    A CUDA GPU needs bfloat16 support (Ampere or later); a CPU needs the
    AVX-512 BF16 or AMX instructions (without them bfloat16 is emulated, and
    slower than float32).
    """
    device = torch.device(device)
    if device.type == "cuda":
        return None if torch.cuda.is_bf16_supported() else "this GPU has no bfloat16 support"
    if device.type == "cpu":
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                flags = next((line for line in f if line.startswith("flags")), "").split()
        except OSError:
            flags = []
        if "avx512_bf16" in flags or "amx_bf16" in flags:
            return None
        return "this CPU has no bfloat16 instructions (AVX-512 BF16 or AMX)"
    return f"bfloat16 training is not set up for {device.type}"


def _available() -> str:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if mps_available():
        found.append("mps")
    return ", ".join(found)


#: The random streams drawn from one run seed; each is ``derive_seed(seed, STREAM, ...)``.
SHUFFLE, DROPOUT, TRAIN_DATA, TEST_DATA, FOLDS, FOLD_RUN, VALIDATION = range(1, 8)


def derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed for the stream ``keys`` of ``seed``: distinct key tuples, distinct streams.

    numpy's ``SeedSequence`` keeps the entropy (the seed) apart from the
    ``spawn_key`` (the keys), so no seed and key tuple can collide with another.
    """
    sequence = np.random.SeedSequence(int(seed) % 2**64, spawn_key=tuple(int(k) for k in keys))
    return int(sequence.generate_state(1, np.uint64)[0]) >> 1


def seed_everything(seed: int) -> None:
    """Seed torch's global generators (CPU and every GPU) and numpy's."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
