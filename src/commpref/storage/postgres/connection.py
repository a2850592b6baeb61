"""What every part of the PostgreSQL backend runs on: the pool, fault mapping, migrations,
and retrying a transaction that lost a deadlock.

A lost or refused connection becomes `errors.Unavailable` (HTTP 503); the broken connection
is dropped and the pool opens a fresh one on a later acquire, so service resumes by itself
when the database returns.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg

from commpref.errors import Unavailable, ValidationError
from commpref.storage.migrations import LATEST, MIGRATIONS, Migration
from commpref.storage.store import Store

T = TypeVar("T")

DOWN_MESSAGE = "database unavailable"
CONNECT_TIMEOUT = 5.0  # seconds; a black-holed host must not hang start-up or requests

# Failures that mean "the database is not there", as opposed to a bug or a bad statement.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable; TimeoutError is an OSError
    asyncpg.PostgresConnectionError,  # class 08, incl. "connection was closed mid-operation"
    asyncpg.AdminShutdownError,  # pg_terminate_backend, fast shutdown
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,  # starting up, recovering
    asyncpg.TooManyConnectionsError,
    asyncpg.ReadOnlySQLTransactionError,  # a standby after a failover
)

# An (int4, int4) advisory key: that key space is apart from the single-bigint keys
# `mutate` takes per address, so the two can never collide.
MIGRATION_LOCK = (0x636F6D6D, 0x6D696772)  # "comm", "migr"

CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)
"""

ATTEMPTS = 5
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


class PostgresConnections(Store):
    """The pool every part of `PostgresStore` takes its connections from (set up by
    `PostgresStore.open`)."""

    _pool: Any  # None until opened, and again once closed

    def _connection(self) -> AbstractAsyncContextManager[Any]:
        if self._pool is None:  # not opened yet, or closed by a shutdown
            raise Unavailable(DOWN_MESSAGE)
        return connection(self._pool)


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"postgresql://{user}{host}{port}{parts.path}"


async def apply_migrations(
    con: Any, *, upto: int = LATEST, migrations: Sequence[Migration] = MIGRATIONS
) -> list[int]:
    """Apply pending migrations up to version `upto`, each in its own transaction, under an
    advisory lock so that processes starting together apply each one exactly once.
    Returns the versions this call applied."""
    applied_now: list[int] = []
    await con.execute("SELECT pg_advisory_lock($1, $2)", *MIGRATION_LOCK)
    try:
        await con.execute(CREATE_SCHEMA_MIGRATIONS)
        done = {r[0] for r in await con.fetch("SELECT version FROM schema_migrations")}
        for m in migrations:
            if m.version > upto or m.version in done:
                continue
            async with con.transaction():
                # No arguments: one simple-protocol round trip for the whole migration.
                if statements := m.render("postgresql"):
                    await con.execute(";\n".join(statements))
                await con.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    m.version,
                    m.name,
                    time.time_ns() // 1_000_000,
                )
            applied_now.append(m.version)
    finally:
        if not con.is_closed():
            await con.execute("SELECT pg_advisory_unlock($1, $2)", *MIGRATION_LOCK)
    return applied_now


async def create_pool(
    url: str, *, size: int, init: Callable[[Any], Awaitable[None]] | None = None
) -> tuple[Any, list[int]]:
    """A migrated connection pool and the versions of the migrations this call applied, or
    `Unavailable` with a one-line reason."""
    try:
        pool = await asyncpg.create_pool(
            url,
            min_size=1,
            max_size=size,
            timeout=CONNECT_TIMEOUT,
            init=init,
            reset=_keep_session,
            # Durability is part of the contract; do not inherit a server default.
            server_settings={"synchronous_commit": "on", "application_name": "commpref"},
        )
    except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise Unavailable(f"cannot connect to {describe(url)}: {reason}") from exc
    try:
        async with pool.acquire() as con:
            applied = await apply_migrations(con)
    except BaseException as exc:
        await pool.close()
        if isinstance(exc, CONNECTION_ERRORS):
            raise Unavailable(f"lost {describe(url)} while migrating") from exc
        if isinstance(exc, asyncpg.PostgresError):  # e.g. no right to create tables
            reason = str(exc).splitlines()[0]
            raise Unavailable(f"cannot migrate {describe(url)}: {reason}") from exc
        raise
    return pool, applied


@asynccontextmanager
async def connection(pool: Any) -> AsyncIterator[Any]:
    """A pool connection; connection failures become `Unavailable`."""
    try:
        con = await pool.acquire()
    except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
        # Any failure to connect (refused, database not accepting connections, ...).
        raise Unavailable(DOWN_MESSAGE) from exc
    try:
        yield con
    except asyncpg.CharacterNotInRepertoireError as exc:
        # Input PostgreSQL cannot hold in text (a NUL character): the caller's mistake, not
        # ours (found by the fuzzer).
        raise ValidationError("Text values cannot contain the NUL character") from exc
    except (*CONNECTION_ERRORS, asyncpg.InternalClientError) as exc:
        # InternalClientError: a backend killed while idle leaves asyncpg's protocol
        # waiting for a reply that never comes; that connection is beyond use.
        _discard(con)
        raise Unavailable(DOWN_MESSAGE) from exc
    except asyncpg.InterfaceError as exc:
        # e.g. "connection is closed" from a transaction's exit after the loss.
        if _is_lost(con):
            raise Unavailable(DOWN_MESSAGE) from exc
        raise
    finally:
        # Dropped connections are not returned; the pool reconnects on a later acquire.
        await pool.release(con)


def _is_lost(con: Any) -> bool:
    try:
        return bool(con.is_closed())
    except asyncpg.InterfaceError:  # already detached: the pool saw it close
        return True


def _discard(con: Any) -> None:
    if not _is_lost(con):
        con.terminate()


async def _keep_session(con: Any) -> None:
    """Pool release hook. asyncpg still rolls back an open transaction before calling it;
    its default also runs a reset statement (advisory unlock, RESET ALL, ...) on every
    release: a round trip per call, for session state this store never leaves behind."""


async def retrying(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a transaction again after a deadlock or serialisation failure."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await work()
        except _RETRYABLE as exc:
            if attempt == ATTEMPTS:
                raise Unavailable("database busy: too many conflicting writes") from exc
            await asyncio.sleep(random.uniform(0, 0.01 * attempt))
    raise AssertionError("unreachable")


def affected(status: str) -> int:
    """Rows affected, from a command status such as `UPDATE 3` or `INSERT 0 3`."""
    return int(status.rsplit(" ", 1)[-1])
