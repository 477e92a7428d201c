"""What every fuzz test shares: the property's check, its bounds, the example count, the corpus.

Each parser is fuzzed for one property: whatever the input, the call either
returns a valid result or raises the package's own error (a
:class:`~shallownet.errors.ShallownetError`), in bounded time and memory.
:func:`result_or_own_error` runs the call under both bounds and sorts the
outcome:

* a result is returned (the test then checks the result's invariants);
* a ``ShallownetError`` is returned (the test checks its type and message);
* an attempted huge allocation fails as :class:`HugeAllocation`, also when the
  package caught the ``MemoryError`` and re-raised it as its own error;
* a call running past :data:`HANG_SECONDS` fails as :class:`Hang`;
* any other exception propagates unchanged, for hypothesis to shrink and report.

Memory is bounded for real: on Linux, :func:`memory_cap` lowers the soft
``RLIMIT_AS`` to the process's current virtual size plus :data:`MEMORY_MARGIN`
while the parser runs, so an allocation beyond it fails at once (``MemoryError``
from Python and numpy, ``RuntimeError`` from torch's allocator) instead of
swapping or being killed.

Every input that once made a parser fail is kept under ``corpus/<parser>/``
and replayed by a test of that parser's fuzz module (:func:`corpus`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, settings
from hypothesis import strategies as st

from shallownet.errors import ShallownetError

try:
    import resource
except ImportError:  # not on Windows
    resource = None

__all__ = [
    "FUZZ_EXAMPLES",
    "DEADLINE_MS",
    "HANG_SECONDS",
    "MEMORY_MARGIN",
    "CORPUS",
    "MAX_CORPUS_FILE",
    "CAP_WORKS",
    "HugeAllocation",
    "Hang",
    "fuzz_settings",
    "memory_cap",
    "time_limit",
    "result_or_own_error",
    "corpus",
    "mutated",
    "path_names",
    "check_any_path",
]

#: Examples per fuzz test (hypothesis ``max_examples``). The default keeps all fuzz tests
#: together near a minute on a two-core machine; raise it for a deep campaign.
FUZZ_EXAMPLES = int(os.environ.get("SHALLOWNET_FUZZ_EXAMPLES", 400))

#: Hypothesis deadline per example: generous, for a loaded two-core CI machine.
DEADLINE_MS = 5_000

#: A call still running after this long is interrupted and reported as a hang.
HANG_SECONDS = 30.0

#: Address space a parser may add to the process while it runs.
MEMORY_MARGIN = 1 << 30

CORPUS = Path(__file__).with_name("corpus")

#: Largest file the regression corpus may hold.
MAX_CORPUS_FILE = 50_000

#: Whether :func:`memory_cap` really bounds memory here (Linux enforces RLIMIT_AS).
CAP_WORKS = resource is not None and sys.platform.startswith("linux")

T = TypeVar("T")


class HugeAllocation(AssertionError):
    """The parser tried to allocate more than :data:`MEMORY_MARGIN` at once."""


class Hang(AssertionError):
    """The parser ran for more than :data:`HANG_SECONDS`."""


class _Overtime(BaseException):
    """Raised by the alarm; a BaseException so that the parser's ``except Exception`` lets
    it through."""


def fuzz_settings(**changes) -> settings:
    """Hypothesis settings of a fuzz test: :data:`FUZZ_EXAMPLES` examples, the deadline."""
    values = {
        "max_examples": FUZZ_EXAMPLES,
        "deadline": DEADLINE_MS,
        "print_blob": True,
        "suppress_health_check": [
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
        ],
    }
    values.update(changes)
    return settings(**values)


def _virtual_size() -> int:
    """This process's virtual size in bytes (first field of /proc/self/statm, in pages)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def memory_cap(margin: int = MEMORY_MARGIN):
    """Within the block the process may map at most ``margin`` more bytes (Linux only).

    The soft ``RLIMIT_AS`` is lowered to the current virtual size plus ``margin``
    and restored afterwards; a tighter limit already in force is kept. Elsewhere
    the block runs unbounded (see :data:`CAP_WORKS`).
    """
    if not CAP_WORKS:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _virtual_size() + margin
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY and soft <= limit:
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextlib.contextmanager
def time_limit(seconds: float):
    """Interrupt the block (with ``_Overtime``) once it has run ``seconds``.

    Uses SIGALRM, so it works in the main thread of a POSIX process; the alarm
    is noticed when control returns to Python (a hang inside one C call is
    noticed when that call ends, which the memory cap keeps finite).
    """
    main = threading.current_thread() is threading.main_thread()
    if not hasattr(signal, "setitimer") or not main:
        yield
        return

    def alarm(signum, frame):
        raise _Overtime

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_ALLOCATION_MESSAGES = ("can't allocate memory", "cannot allocate memory", "out of memory",
                        "insufficient memory", "unable to allocate")


def _allocation_failure(exc: BaseException) -> BaseException | None:
    """The failed allocation among ``exc``, its causes and contexts, if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MemoryError):
            return exc
        if isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
            return exc
        if not isinstance(exc, ShallownetError) and any(
            m in str(exc).lower() for m in _ALLOCATION_MESSAGES
        ):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def result_or_own_error(call: Callable[[], T], *, label: str = "outcome",
                        seconds: float = HANG_SECONDS,
                        margin: int = MEMORY_MARGIN) -> T | ShallownetError:
    """``call()`` under the memory cap and the time limit: its result, or its ShallownetError.

    Inside a hypothesis test the outcome is also recorded as an event ("``label``:
    result" or the error's type), which ``--hypothesis-show-statistics`` tallies.

    Raises
    ------
    HugeAllocation
        The call tried to allocate more than ``margin`` bytes (whatever it raised then).
    Hang
        The call ran more than ``seconds``.
    Exception
        Anything else the call raised, unchanged: the property is broken.
    """
    try:
        with memory_cap(margin), time_limit(seconds):
            value = call()
    except _Overtime:
        raise Hang(f"the parser ran for more than {seconds} s (a hang)") from None
    except Exception as exc:
        failed = _allocation_failure(exc)
        if failed is not None:
            raise HugeAllocation(
                f"the parser tried to allocate more than {margin:,} bytes "
                f"({type(failed).__name__}: {failed}); it raised {type(exc).__name__}: {exc}"
            ) from exc
        if isinstance(exc, ShallownetError):
            _record(label, type(exc).__name__)
            return exc
        raise
    _record(label, "result")
    return value


def _record(label: str, kind: str) -> None:
    if currently_in_test_context():
        event(f"{label}: {kind}")


def corpus(parser: str) -> list:
    """``pytest.param(path, id=name)`` for every file of ``corpus/<parser>/``, sorted."""
    directory = CORPUS / parser
    if not directory.is_dir():
        return []
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    return [pytest.param(p, id=p.name) for p in files]


#: Values a mutation writes into a 1-, 2- or 4-byte field: sizes and offsets that lie.
INTERESTING_INTS = (0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
                    0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
_EDITS = ("set", "field", "truncate", "delete", "insert", "splice")


@st.composite
def mutated(draw, seeds: st.SearchStrategy[bytes], max_edits: int = 6) -> bytes:
    """A file drawn from ``seeds`` with up to ``max_edits`` edits.

    An edit sets one byte, writes an interesting integer (big- or little-endian,
    1, 2 or 4 bytes) over a field, truncates, deletes or inserts a run of bytes,
    or splices in a copy of another part of the file.
    """
    data = bytearray(draw(seeds))
    for _ in range(draw(st.integers(0, max_edits))):
        edit = draw(st.sampled_from(_EDITS))
        pos = draw(st.integers(0, len(data)))
        if edit == "set" and data:
            data[min(pos, len(data) - 1)] = draw(st.integers(0, 255))
        elif edit == "field":
            width = draw(st.sampled_from([1, 2, 4]))
            value = draw(st.sampled_from(INTERESTING_INTS)) % 256**width
            order = draw(st.sampled_from(["big", "little"]))
            data[pos : pos + width] = value.to_bytes(width, order)
        elif edit == "truncate":
            del data[pos:]
        elif edit == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif edit == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif edit == "splice":
            start = draw(st.integers(0, len(data)))
            data[pos:pos] = data[start : start + draw(st.integers(1, 256))]
    return bytes(data)


def path_names(existing: str) -> st.SearchStrategy[str]:
    """Names to join to a directory holding the valid file ``existing``: that name, spelt
    differently or not, any text, and names the file system refuses (a NUL byte, a lone
    surrogate, a component longer than 255 bytes) or that name a directory."""
    return st.one_of(
        st.just(existing),
        st.sampled_from(["", ".", "..", "/", "~", "a\x00b", "\ud800", "\udcff", "a" * 300,
                         f"./{existing}", f"{existing}/", f"{existing}\x00", f"missing/{existing}",
                         f"{existing}/{'a' * 300}", "a" * 300 + f"/{existing}"]),
        st.text(max_size=40),
    )


def check_any_path(path: str, call: Callable[[str], T], error: type[ShallownetError],
                   check: Callable[[T], None], *, label: str = "outcome") -> None:
    """The "any path" property: ``call(path)`` gives a result that passes ``check``, or an
    ``error`` that names the path."""
    outcome = result_or_own_error(lambda: call(path), label=label)
    if isinstance(outcome, Exception):
        assert isinstance(outcome, error), repr(outcome)
        assert str(Path(path)) in str(outcome)
    else:
        check(outcome)
