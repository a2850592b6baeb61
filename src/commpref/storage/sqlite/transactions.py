"""How the SQLite backend runs statements over one connection: `one`, a transaction, the
group commit's transaction of savepoints, and the migrations, each in its own transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from commpref.storage import migrations

R = TypeVar("R")
Conn = sqlite3.Connection


def one(c: Conn, sql: str, args: Sequence[Any] = ()) -> Any:
    return c.execute(sql, args).fetchone()


def transaction(c: Conn, fn: Callable[[Conn], R]) -> R:
    """Run `fn` in one BEGIN IMMEDIATE transaction; on any failure nothing is written."""
    c.execute("BEGIN IMMEDIATE")
    try:
        result = fn(c)
        c.execute("COMMIT")
    except BaseException:
        if c.in_transaction:
            c.execute("ROLLBACK")
        raise
    return result


def group_transaction(c: Conn, fns: Sequence[Callable[[Conn], Any]]) -> list[tuple[bool, Any]]:
    """Run each of `fns` in its own SAVEPOINT of one BEGIN IMMEDIATE transaction and commit
    once. Returns (True, result) or (False, exception) per function; a function that fails is
    rolled back alone, and if the commit fails every function fails with it."""
    results: list[tuple[bool, Any]] = []
    c.execute("BEGIN IMMEDIATE")
    try:
        for fn in fns:
            c.execute("SAVEPOINT job")
            try:
                results.append((True, fn(c)))
            except Exception as exc:
                c.execute("ROLLBACK TO job")
                results.append((False, exc))
            c.execute("RELEASE job")
        c.execute("COMMIT")
    except BaseException as exc:
        if c.in_transaction:
            c.execute("ROLLBACK")
        if not isinstance(exc, Exception):
            raise
        return [(False, exc)] * len(fns)
    return results


def migrate(c: Conn) -> None:
    """Apply pending migrations, each in its own transaction; the applied version is read
    again under the write lock, so processes starting together never apply one twice."""
    for m in migrations.MIGRATIONS:

        def apply(c: Conn, m: migrations.Migration = m) -> None:
            c.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT, applied_at BIGINT)"
            )
            # By version, not by the highest one: a database may hold a later migration
            # written before an earlier one existed (as PostgreSQL's apply_migrations does).
            done = "SELECT 1 FROM schema_migrations WHERE version = ?"
            if one(c, done, (m.version,)) is not None:
                return
            for statement in m.render("sqlite"):
                c.execute(statement)
            c.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (m.version, m.name, time.time_ns() // 1_000_000),
            )

        transaction(c, apply)


def applied_version(c: Conn) -> int:
    return int(one(c, "SELECT coalesce(max(version), 0) FROM schema_migrations")[0])
