"""ch_fdw's Python core as a multicorn2 wrapper (ch_fdw.multicorn.ClickHouseFdw),
for databases that run multicorn2 instead of the ch_fdw extension.  See the
README section "Using ch_fdw under multicorn2"."""

from .wrapper import ClickHouseFdw

__all__ = ["ClickHouseFdw"]
