"""Noticing PostgreSQL's cancel requests while waiting on ClickHouse.

Inside a backend, the C bridge provides _ch_fdw.interrupt_pending(); it only
reads PostgreSQL's interrupt flags, so it is safe to call at any time.  When
the core runs outside PostgreSQL (unit tests, tools) nothing is ever pending.
"""

from __future__ import annotations

try:  # provided by the C bridge inside a PostgreSQL backend
    from _ch_fdw import interrupt_pending  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - outside PostgreSQL
    def interrupt_pending() -> bool:
        return False

# How often a blocked wait looks at the flags (see netio): the cancel latency.
POLL_SECONDS = 0.1
