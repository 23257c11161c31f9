"""Noticing PostgreSQL's cancel requests while waiting on ClickHouse.

Inside a backend, the C bridge provides _ch_fdw.interrupt_pending(); it only
reads PostgreSQL's interrupt flags, so it is safe to call at any time.  When
the core runs outside PostgreSQL (unit tests, tools) nothing is ever pending.
"""

from __future__ import annotations

from typing import Callable


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

# How often a blocked wait looks at the flags (see netio): the cancel latency.
POLL_SECONDS = 0.1
