"""Callbacks: what happens around the epochs of :meth:`Trainer.fit`, without touching the loop.

The loop trains and records; everything else — printing the epoch's line,
the live plot, checkpoints, metrics files, TensorBoard, the divergence watch,
a user's own early stopping — is a :class:`Callback`, as in skorch and Keras.
``Trainer.fit`` runs its own (the divergence watch, the printer, the live
plot), then the ones it is given, in order, at each hook.

Write one by overriding the hooks you need::

    class EarlyStopping(Callback):
        '''Stop when the test loss has not improved for ``patience`` epochs.'''

        def __init__(self, patience=2):
            self.patience, self.best, self.waited = patience, float("inf"), 0

        def on_epoch_end(self, trainer, setup, history):
            loss = history[-1]["test_loss"]
            self.best, self.waited = (loss, 0) if loss < self.best else (self.best, self.waited + 1)
            if self.waited >= self.patience:
                trainer.stop_training = True    # the loop ends after this epoch

    trainer.fit(setup, data, callbacks=[EarlyStopping(patience=2)])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shallownet.interrupts import deferred_interrupts
from shallownet.plots.training import LivePlot
from shallownet.training.printing import format_epoch

__all__ = ["Callback", "PrintLog", "LiveCurves", "Together"]


class Callback:
    """Hooks :meth:`Trainer.fit` calls; each does nothing unless overridden.

    Every hook gets the trainer (its settings, ``trainer.epochs``,
    ``trainer.step_choice``; setting ``trainer.stop_training = True`` ends
    training after the current epoch), the model setup and the history: one
    dict per finished epoch (``history[-1]`` is the latest).
    """

    def on_train_begin(self, trainer, setup, history: list[dict]) -> None:
        """Before the first epoch of this call (``history`` holds a resumed run's epochs)."""

    def on_epoch_end(self, trainer, setup, history: list[dict]) -> None:
        """After each epoch, once its record (training and held-out figures) is in ``history``."""

    def on_train_end(self, trainer, setup, history: list[dict]) -> None:
        """After the last epoch, and also when training stops with an error or Ctrl-C."""


class PrintLog(Callback):
    """One line per epoch (:func:`~shallownet.training.printing.format_epoch`) to ``sink``."""

    def __init__(self, sink: Callable[[str], None] = print) -> None:
        self.sink = sink

    def on_epoch_end(self, trainer, setup, history: list[dict]) -> None:
        self.sink(format_epoch(history[-1], trainer.epochs))


class LiveCurves(Callback):
    """The training curves, redrawn in place in a Jupyter cell after every epoch.

    ``enabled=None`` draws only inside a notebook
    (:class:`~shallownet.plots.training.LivePlot`).
    """

    def __init__(self, *, enabled: bool | None = None, title: str | None = None) -> None:
        self.enabled, self.title = enabled, title
        self._plot: LivePlot | None = None

    def on_train_begin(self, trainer, setup, history: list[dict]) -> None:
        self._plot = LivePlot(total_epochs=trainer.epochs, title=self.title,
                              enabled=self.enabled)

    def on_epoch_end(self, trainer, setup, history: list[dict]) -> None:
        self._plot.update(history)

    def on_train_end(self, trainer, setup, history: list[dict]) -> None:
        if self._plot is not None:
            self._plot.close()


class Together(Callback):
    """Several callbacks that write files which belong together (a checkpoint and its
    metrics): each hook runs them all with Ctrl-C and SIGTERM held back until the
    last is done (:func:`~shallownet.interrupts.deferred_interrupts`)."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)

    def on_train_begin(self, trainer, setup, history: list[dict]) -> None:
        with deferred_interrupts():
            for callback in self.callbacks:
                callback.on_train_begin(trainer, setup, history)

    def on_epoch_end(self, trainer, setup, history: list[dict]) -> None:
        with deferred_interrupts():
            for callback in self.callbacks:
                callback.on_epoch_end(trainer, setup, history)

    def on_train_end(self, trainer, setup, history: list[dict]) -> None:
        with deferred_interrupts():
            for callback in self.callbacks:
                callback.on_train_end(trainer, setup, history)
