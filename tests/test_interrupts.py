"""SIGTERM taken as Ctrl-C, and signals held back while files that belong together are written."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from shallownet.interrupts import Terminated, deferred_interrupts, terminate_as_interrupt


def send(signum: int) -> None:
    """Deliver ``signum`` to this process; Python runs its handler at the next bytecode."""
    os.kill(os.getpid(), signum)
    for _ in range(1000):  # the handler runs between bytecodes of the main thread
        pass


def test_sigterm_raises_terminated_a_keyboard_interrupt_with_status_143():
    with pytest.raises(Terminated) as caught, terminate_as_interrupt():
        send(signal.SIGTERM)
    assert isinstance(caught.value, KeyboardInterrupt)
    assert caught.value.exit_status == 143


def test_the_sigterm_handler_is_restored_afterwards():
    before = signal.getsignal(signal.SIGTERM)
    with terminate_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_ignored_sigterm_stays_ignored():
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with terminate_as_interrupt():
            send(signal.SIGTERM)  # nothing happens
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_ctrl_c_inside_a_deferred_block_arrives_after_the_block_is_complete():
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            send(signal.SIGINT)
            steps.append("written after the signal")
        steps.append("never reached")
    assert steps == ["written after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_inside_a_deferred_block_arrives_as_terminated_after_it():
    steps = []
    with pytest.raises(Terminated), terminate_as_interrupt(), deferred_interrupts():
        send(signal.SIGTERM)
        steps.append("complete")
    assert steps == ["complete"]


def test_only_the_first_held_signal_is_delivered():
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        send(signal.SIGINT)
        send(signal.SIGINT)
    # no second KeyboardInterrupt pending: this line runs
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_block_without_signals_changes_nothing():
    with deferred_interrupts():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_exception_in_the_block_propagates_and_handlers_are_restored():
    with pytest.raises(ValueError), deferred_interrupts():
        raise ValueError("disk trouble")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_outside_the_main_thread_both_do_nothing():
    errors = []

    def work():
        try:
            with terminate_as_interrupt(), deferred_interrupts():
                pass
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == []
