"""Noticing PostgreSQL's cancel requests while waiting on ClickHouse.

Inside a backend, the C bridge provides _ch_fdw.interrupt_pending(); it only
reads PostgreSQL's interrupt flags, so it is safe to call at any time.  When
the core runs outside PostgreSQL (unit tests, tools) nothing is ever pending.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

def _backend_flags() -> Callable[[], bool] | None:
    """In a backend without the C bridge (the multicorn wrapper), read
    PostgreSQL's interrupt flags directly; None outside PostgreSQL."""
    import ctypes
    try:
        me = ctypes.CDLL(None)
        flags = [ctypes.c_int.in_dll(me, n) for n in ("InterruptPending", "QueryCancelPending",
                                                       "ProcDiePending")]
    except (OSError, ValueError, AttributeError):
        return None
    pending, cancel, die = flags
    return lambda: bool(pending.value and (cancel.value or die.value))


try:  # provided by the C bridge inside a PostgreSQL backend
    from _ch_fdw import interrupt_pending  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - outside PostgreSQL
    interrupt_pending = _backend_flags() or (lambda: False)

POLL_SECONDS = 0.1


class _Watchdog:
    """One daemon thread per process that polls the interrupt flag while a
    blocking call (e.g. an HTTP read) runs, and fires its callback once.

    The thread blocks every signal so PostgreSQL's handlers keep running on
    the backend's main thread only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: Callable[[], None] | None = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        try:
            self._thread = threading.Thread(target=self._run, name="ch_fdw-watchdog", daemon=True)
            self._thread.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                callback = self._armed
                if callback is None:
                    self._wake.clear()
            if callback is None:
                continue
            if interrupt_pending():
                with self._lock:
                    if self._armed is callback:
                        self._armed = None
                try:
                    callback()
                except Exception:  # the main thread reports the cancel
                    pass
                continue
            threading.Event().wait(POLL_SECONDS)

    @contextmanager
    def guard(self, on_interrupt: Callable[[], None]) -> Iterator[None]:
        if self._thread is None:
            self._start()
        with self._lock:
            self._armed = on_interrupt
            self._wake.set()
        try:
            yield
        finally:
            with self._lock:
                self._armed = None


watchdog = _Watchdog()
