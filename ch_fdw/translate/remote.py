"""What both translators know about the remote side, and what they hand back:
a foreign table's columns (ColumnInfo), the ClickHouse server's dialect
(Dialect), and ClickHouse SQL with parameter slots bound at execution
(SqlTemplate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class ColumnInfo:
    pg_name: str
    remote_name: str
    pg_type: str
    ch_type: str | None


@dataclass(frozen=True)
class Dialect:
    version: tuple[int, ...]
    text_collation_c: bool
    timezone: str | None = None   # the session's, where the per-table scan needs it


SLOT_MARK = "\0"   # never appears raw in generated SQL: quoting escapes NUL


@dataclass(frozen=True)
class Slot:
    param_id: int
    render: Callable[[str | None], str]
    shown: str | None = None    # EXPLAIN's text when the slot is more than $n


class SqlTemplate:
    """ClickHouse SQL with parameter slots, bound at execution by render();
    sql_template shows the parameters as $n (for EXPLAIN)."""

    def __init__(self, sql: str, slots: list[Slot]):
        self._sql = sql
        self._slots = tuple(slots)
        parts = sql.split(SLOT_MARK)
        self.sql_template: str = "".join(
            p if i % 2 == 0 else (self._slots[int(p)].shown or f"${self._slots[int(p)].param_id}")
            for i, p in enumerate(parts))
        ids: list[int] = []
        for s in self._slots:
            if s.param_id not in ids:
                ids.append(s.param_id)
        self.param_ids: tuple[int, ...] = tuple(ids)

    def _render_slot(self, slot: Slot, value: str | None) -> str:
        return slot.render(value)

    def render(self, params: dict[int, str | None]) -> str:
        parts = self._sql.split(SLOT_MARK)
        out = []
        for i, p in enumerate(parts):
            if i % 2 == 0:
                out.append(p)
            else:
                slot = self._slots[int(p)]
                if slot.param_id not in params:
                    raise KeyError(f"no value for parameter ${slot.param_id}")
                out.append(self._render_slot(slot, params[slot.param_id]))
        return "".join(out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sql_template!r})"
