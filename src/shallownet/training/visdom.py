"""visdom: a run's per-epoch curves, live on a visdom server.

A run sends them when its config says so (``TrainSettings(visdom=URL)``, the
command line's ``train --visdom [URL]``; the default URL,
:data:`DEFAULT_URL`, is a server on this machine, started with
``python -m visdom.server``). In Python, :class:`VisdomCurves` is a callback for
:meth:`~shallownet.training.Trainer.fit`.

What is sent
    Every number of each epoch's record (``epoch`` aside: it is the x value),
    right after the epoch, into the visdom *env* named after the run (its
    directory's name), one window per group of curves (:func:`curve_of`):
    ``train_loss`` and ``test_loss`` are the lines ``train`` and ``test`` of the
    window ``loss``; ``train_acc``/``test_acc`` those of ``acc``; ``w_error``
    and ``b_error`` of ``error``; a key with a slash, such as
    ``grad_norm/layer1`` (``--watch-gradients``), is the line ``layer1`` of the
    window ``grad_norm``; any other number is a window of its own. Window titles
    start with the run's name.

A server that cannot be reached
    The callback never stops a run: when the server does not answer (at the
    start, or because it died mid-run), one :class:`VisdomWarning` names the
    URL and how to start a server, and the run goes on without visdom. Every
    request has a time limit (:data:`TIMEOUT` seconds).

Resuming
    A resumed run sends its whole history again at the start (the checkpoint's
    epochs), replacing the windows of its env, then its new epochs: the windows
    show the whole run, each epoch once, even where the server was restarted
    in between.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

from shallownet.errors import Hint, HintedWarning, UsageError
from shallownet.training.callbacks import Callback

__all__ = ["VisdomCurves", "VisdomWarning", "DEFAULT_URL", "TIMEOUT", "require_visdom",
           "parse_url", "curve_of"]

#: The server ``--visdom`` sends to when given no URL (``python -m visdom.server``'s own).
DEFAULT_URL = "http://localhost:8097"
#: Seconds a request to the server may take before the server counts as gone.
TIMEOUT = 5.0
_SPLITS = ("train", "test", "val")
_START = "python -m visdom.server"


class VisdomWarning(HintedWarning):
    """The visdom server could not be reached; the run goes on without it."""


def require_visdom() -> None:
    """Raise a :class:`UsageError` saying how to install visdom unless it imports."""
    try:
        import visdom  # noqa: F401
    except Exception as exc:  # ImportError; sys.modules["visdom"] = None; a broken install
        hint = Hint("visdom", None)
        raise UsageError(
            "sending the curves to visdom needs the visdom package, and it cannot be imported "
            f"({type(exc).__name__}: {exc}). Install it with pip install 'shallownet[visdom]', "
            f"or train without sending the curves ({hint}).", hints=[hint]
        ) from exc


def parse_url(url: str) -> tuple[str, int, str]:
    """``(server, port, base_url)`` of a visdom URL: ``http://host:port/base``.

    The scheme defaults to ``http://``, the port to 8097. Anything else is a
    :class:`UsageError`.
    """
    if not isinstance(url, str) or not url.strip():
        raise UsageError(f"the visdom URL must be such as {DEFAULT_URL}, not {url!r}.")
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"{url!r} is not a visdom URL such as {DEFAULT_URL}: {exc}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{url!r} is not a visdom URL such as {DEFAULT_URL} "
                         "(http or https, with a host name).")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}", port or 8097, parts.path.rstrip("/") or "/"


def curve_of(key: str) -> tuple[str, str]:
    """``(window, line)`` of a record's key: ``train_loss`` -> ``("loss", "train")``,
    ``w_error`` -> ``("error", "w")``, ``grad_norm/layer1`` -> ``("grad_norm", "layer1")``,
    anything else -> ``(key, key)``."""
    if "/" in key:
        group, _, name = key.partition("/")
        return group, name
    first, _, rest = key.partition("_")
    if rest and first in _SPLITS:
        return rest, first
    if key in ("w_error", "b_error"):
        return "error", first
    return key, key


def _is_number(value) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


class VisdomCurves(Callback):
    """Send each epoch's record to a visdom server, one window per group of curves.

    Parameters
    ----------
    url : str
        The server (default :data:`DEFAULT_URL`).
    env : str
        The visdom env the windows go into: the run's name.
    timeout : float
        Seconds a request may take.

    Raises
    ------
    UsageError
        visdom is not installed, or ``url`` is not a URL.

    Nothing else it meets stops training: a server that cannot be reached
    gives one :class:`VisdomWarning` and the callback sends nothing more.
    ``sent`` counts the epochs sent; ``failed`` is true once it has given up.
    """

    def __init__(self, url: str = DEFAULT_URL, *, env: str = "shallownet",
                 timeout: float = TIMEOUT) -> None:
        require_visdom()
        self.url = url
        self.server, self.port, self.base_url = parse_url(url)
        self.env = str(env) or "shallownet"
        self.timeout = timeout
        self.failed = False
        self.sent = 0
        self._vis = None
        self._windows: dict[str, set[str]] = {}  # window -> its lines

    # -- hooks ----------------------------------------------------------------------------

    def on_train_begin(self, trainer, setup, history: list[dict]) -> None:
        self._windows = {}
        self._send(lambda: self._connect(history))

    def on_epoch_end(self, trainer, setup, history: list[dict]) -> None:
        if history:
            self._send(lambda: self._records(history[-1:]))

    # -- sending --------------------------------------------------------------------------

    def _send(self, what) -> None:
        if self.failed:
            return
        try:
            with _quiet_visdom():
                what()
        except Exception as exc:  # requests' errors, visdom's ConnectionError, a bad answer
            self.failed = True
            off = Hint("visdom", None)
            warnings.warn(VisdomWarning(
                f"visdom: the server at {self.url} cannot be reached ({type(exc).__name__}: "
                f"{exc}); training goes on without sending the curves to visdom (the run "
                f"directory keeps every epoch). Start a server with {_START}"
                + (f" -port {self.port}" if self.port != 8097 else "")
                + f" and open {self.url}, or train without it ({off}).", hints=[off]),
                stacklevel=2)

    def _connect(self, history: Sequence[Mapping]) -> None:
        import requests
        import visdom

        vis = visdom.Visdom(server=self.server, port=self.port, base_url=self.base_url,
                            env=self.env, send=False, raise_exceptions=True,
                            use_incoming_socket=False)
        vis._session = _timed_session(self.timeout)  # every request has a time limit
        vis.send = True
        answer = vis._send({"eid": self.env}, endpoint="env/" + self.env)  # creates the env
        if not isinstance(answer, str):
            raise requests.ConnectionError(f"unexpected answer {answer!r}")
        self._vis = vis
        self._records(history)  # a resumed run's epochs so far, replacing older windows

    def _records(self, records: Sequence[Mapping]) -> None:
        """Append ``records`` (in epoch order) to their windows, a line at a time."""
        import numpy as np

        lines: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        for record in records:
            epoch = record.get("epoch")
            if not _is_number(epoch):
                continue
            for key, value in record.items():
                if key in ("epoch", "fold") or not _is_number(value):
                    continue
                xs, ys = lines.setdefault(curve_of(key), ([], []))
                xs.append(float(epoch))
                ys.append(float(value))
        for (window, line), (xs, ys) in lines.items():
            X, Y = np.asarray(xs), np.asarray(ys)
            seen = self._windows.get(window)
            if seen is None:  # a new window (replacing one of an earlier part of the run)
                self._vis.line(Y=Y, X=X, win=window, env=self.env, name=line,
                               opts={"title": f"{self.env}: {window}", "legend": [line],
                                     "xlabel": "epoch", "ylabel": window, "showlegend": True})
                self._windows[window] = {line}
            else:
                self._vis.line(Y=Y, X=X, win=window, env=self.env, name=line,
                               update="append")
                seen.add(line)
        if records:
            self.sent += len(records)


def _timed_session(timeout: float):
    """A :class:`requests.Session` whose requests time out after ``timeout`` seconds."""
    import requests

    class Session(requests.Session):
        def request(self, *args, **kwargs):
            kwargs.setdefault("timeout", timeout)
            return super().request(*args, **kwargs)

    return Session()


@contextmanager
def _quiet_visdom():
    """Keep the visdom client's own log lines (its new session, its errors) off stderr."""
    import logging

    logger = logging.getLogger("visdom")
    disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = disabled
