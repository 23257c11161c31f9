"""Does PostgreSQL order text the way ClickHouse does (by bytes)?

The one place that decides it.  The C bridge describes each collation a
query compares or sorts text under (src/context.c chfdw_collation_facts:
name, provider, libc collate / ICU or builtin locale, deterministic); the
server context carries the database default's facts.

Byte order: libc "C"/"POSIX", and libc "C.UTF-8" (glibc sorts it by code
point, which for UTF-8 is byte order); the builtin provider's C, C.UTF-8
and PG_UNICODE_FAST (code point order).  ICU and other libc locales are
linguistic.  A nondeterministic collation makes even equality differ from
ClickHouse's, so a query using one is not pushed at all.
"""

from __future__ import annotations

_LIBC_BYTES = {"c", "posix", "c.utf8", "c.utf-8"}
_BUILTIN_BYTES = {"c", "c.utf8", "c.utf-8", "pg_unicode_fast"}


def orders_by_bytes(facts) -> bool:
    """facts: chfdw_collation_facts() (None: not a collatable type, or a
    bool from an older caller)."""
    if facts is None or isinstance(facts, bool):
        return facts is None or facts
    if not facts.get("deterministic", True):
        return False
    provider = facts.get("provider")
    if provider == "c":
        return (facts.get("collate") or "").lower() in _LIBC_BYTES
    if provider == "b":
        return (facts.get("locale") or "").lower() in _BUILTIN_BYTES
    return False


def text_collation_c(ctx: dict) -> bool:
    """Every collation the query (or, for a table, the database) compares
    text under orders by bytes."""
    colls = ctx.get("collations")
    if colls is None:
        return bool(ctx.get("text_collation_c"))    # contexts built elsewhere (multicorn)
    return all(orders_by_bytes(c) for c in colls)


def refusal(ctx: dict) -> str | None:
    """Why a query cannot be pushed at all because of its collations."""
    for c in ctx.get("collations") or []:
        if isinstance(c, dict) and not c.get("deterministic", True):
            return f"it uses the nondeterministic collation \"{c.get('name')}\""
    return None
