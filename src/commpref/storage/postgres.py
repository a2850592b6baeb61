"""The PostgreSQL backend: asyncpg, one connection pool per process.

Several commpref processes may share one database. Start-up migrations run under a
session advisory lock; `mutate` serialises writers per address with row locks taken in
email order (see `postgres_sql.CLAIM_SUBSCRIBERS`), so concurrent batches neither lose
updates nor deadlock. Lost connections surface as `errors.Unavailable`; the
pool replaces dead connections on the next acquire, so service resumes by itself.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from commpref.domain.model import (
    BusinessUnit,
    Definition,
    Event,
    Portal,
    PortalContext,
    Subscriber,
    Token,
)
from commpref.errors import NotFound, Unavailable, ValidationError
from commpref.storage import codec
from commpref.storage import postgres_sql as sql
from commpref.storage.base import Plan, Store, StoredEvent, T
from commpref.storage.migrations import LATEST, MIGRATIONS, Migration

DOWN_MESSAGE = "database unavailable"
CONNECT_TIMEOUT = 5.0  # seconds; a black-holed host must not hang start-up or requests
MUTATE_ATTEMPTS = 5  # deadlocks cannot happen by design; this bounds the unexpected

# Failures that mean "the database is not there", as opposed to a bug or a bad statement.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable; TimeoutError is an OSError
    asyncpg.PostgresConnectionError,  # class 08, incl. "connection was closed mid-operation"
    asyncpg.AdminShutdownError,  # pg_terminate_backend, fast shutdown
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,  # starting up, recovering
    asyncpg.TooManyConnectionsError,
    asyncpg.ReadOnlySQLTransactionError,  # a standby after a failover
)


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
    await con.execute("SELECT pg_advisory_lock($1, $2)", *sql.MIGRATION_LOCK)
    try:
        await con.execute(sql.CREATE_SCHEMA_MIGRATIONS)
        done = {r[0] for r in await con.fetch("SELECT version FROM schema_migrations")}
        for m in migrations:
            if m.version > upto or m.version in done:
                continue
            async with con.transaction():
                # No arguments: one simple-protocol round trip for the whole migration.
                await con.execute(";\n".join(m.render("postgresql")))
                await con.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    m.version,
                    m.name,
                    time.time_ns() // 1_000_000,
                )
            applied_now.append(m.version)
    finally:
        if not con.is_closed():
            await con.execute("SELECT pg_advisory_unlock($1, $2)", *sql.MIGRATION_LOCK)
    return applied_now


class PostgresStore(Store):
    kind = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool: Any = None

    # --- lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=self.pool_size,
                timeout=CONNECT_TIMEOUT,
                init=self._init_connection,
                reset=_keep_session,
                # Durability is part of the contract; do not inherit a server default.
                server_settings={"synchronous_commit": "on", "application_name": "commpref"},
            )
        except (*_CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise Unavailable(f"cannot connect to {describe(self.url)}: {reason}") from exc
        try:
            async with pool.acquire() as con:
                await apply_migrations(con)
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, _CONNECTION_ERRORS):
                raise Unavailable(f"lost {describe(self.url)} while migrating") from exc
            raise
        self._pool = pool

    async def _init_connection(self, con: Any) -> None:
        """Called for each new pool connection (tests hook in here to count statements)."""

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def ping(self) -> None:
        async with self._connection() as con:
            await con.fetchval("SELECT 1")

    async def schema_version(self) -> tuple[int, int]:
        async with self._connection() as con:
            applied = await con.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(applied), LATEST

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pool connection; connection failures become `Unavailable`."""
        pool = self._pool
        if pool is None:
            raise RuntimeError("PostgresStore is not open")
        try:
            con = await pool.acquire()
        except (*_CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
            # Any failure to connect (refused, database not accepting connections, ...).
            raise Unavailable(DOWN_MESSAGE) from exc
        try:
            yield con
        except (*_CONNECTION_ERRORS, asyncpg.InternalClientError) as exc:
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

    # --- portals, business units, definitions, tokens --------------------------------------
    async def create_portal(
        self,
        *,
        name: str,
        gdpr: bool = False,
        brands: bool = False,
        default_language: str = "en",
        now: int,
    ) -> Portal:
        names, descriptions, purposes, internal = zip(*sql.DEFAULT_DEFINITIONS, strict=True)
        async with self._connection() as con, con.transaction():
            row = await con.fetchrow(
                sql.INSERT_PORTAL,
                name,
                gdpr,
                brands,
                default_language,
                secrets.token_urlsafe(32),
                now,
            )
            await con.execute(sql.INSERT_BUSINESS_UNIT, row["id"], 0, sql.DEFAULT_UNIT_NAME)
            await con.execute(
                sql.INSERT_DEFAULT_DEFINITIONS,
                row["id"],
                list(names),
                list(descriptions),
                list(purposes),
                now,
                list(internal),
            )
        return sql.portal(row)

    async def update_portal(self, portal_id: int, **flags: object) -> Portal:
        unknown = set(flags) - sql.PORTAL_FLAGS
        if unknown:
            raise ValueError(f"unknown portal field(s): {', '.join(sorted(unknown))}")
        async with self._connection() as con:
            if flags:
                names = sorted(flags)
                statement = sql.update_portal_sql(names)
                row = await con.fetchrow(statement, portal_id, *(flags[n] for n in names))
            else:
                row = await con.fetchrow(sql.GET_PORTAL, portal_id)
        if row is None:
            raise NotFound(f"Portal {portal_id} does not exist")
        return sql.portal(row)

    async def get_portal(self, portal_id: int) -> Portal | None:
        async with self._connection() as con:
            row = await con.fetchrow(sql.GET_PORTAL, portal_id)
        return None if row is None else sql.portal(row)

    async def list_portals(self) -> list[Portal]:
        async with self._connection() as con:
            rows = await con.fetch(sql.LIST_PORTALS)
        return [sql.portal(r) for r in rows]

    async def create_business_unit(
        self, *, portal_id: int, business_unit_id: int, name: str
    ) -> BusinessUnit:
        async with self._connection() as con:
            try:
                await con.execute(sql.INSERT_BUSINESS_UNIT, portal_id, business_unit_id, name)
            except asyncpg.ForeignKeyViolationError as exc:
                raise NotFound(f"Portal {portal_id} does not exist") from exc
            except asyncpg.UniqueViolationError as exc:
                raise ValidationError(f"Business unit {business_unit_id} already exists") from exc
        return BusinessUnit(portal_id, business_unit_id, name)

    async def create_definition(
        self,
        *,
        portal_id: int,
        name: str,
        description: str,
        business_unit_id: int = 0,
        purpose: str = "",
        communication_method: str = "",
        is_active: bool = True,
        is_default: bool = False,
        is_internal: bool = False,
        now: int,
    ) -> Definition:
        async with self._connection() as con:
            row = await con.fetchrow(
                sql.INSERT_DEFINITION,
                portal_id,
                business_unit_id,
                name,
                description,
                purpose,
                communication_method,
                is_active,
                is_default,
                is_internal,
                now,
            )
            if row is None and await con.fetchrow(sql.GET_PORTAL, portal_id) is None:
                raise NotFound(f"Portal {portal_id} does not exist")
        if row is None:
            raise ValidationError(f"Business unit {business_unit_id} does not exist")
        return sql.definition(row)

    async def update_definition(
        self, definition_id: int, *, now: int, **fields: object
    ) -> Definition:
        unknown = set(fields) - sql.DEFINITION_FIELDS
        if unknown:
            raise ValueError(f"unknown definition field(s): {', '.join(sorted(unknown))}")
        names = sorted(fields)
        async with self._connection() as con, con.transaction():
            if names:
                statement = sql.update_definition_sql(names)
                row = await con.fetchrow(statement, definition_id, now, *(fields[n] for n in names))
            else:  # nothing to change: updated_at stays
                row = await con.fetchrow(sql.GET_DEFINITION, definition_id)
            if row is None:
                raise NotFound(f"Subscription definition {definition_id} does not exist")
            translations = await con.fetch(sql.GET_TRANSLATIONS, definition_id)
        return sql.definition(row, tuple(sql.translation(t) for t in translations))

    async def set_translation(
        self,
        *,
        definition_id: int,
        language_code: str,
        name: str,
        description: str,
        now: int,
    ) -> None:
        async with self._connection() as con:
            try:
                await con.execute(
                    sql.UPSERT_TRANSLATION, definition_id, language_code, name, description, now
                )
            except asyncpg.ForeignKeyViolationError as exc:
                message = f"Subscription definition {definition_id} does not exist"
                raise NotFound(message) from exc

    async def create_token(
        self,
        *,
        portal_id: int,
        name: str,
        secret_hash: str,
        scopes: frozenset[str],
        app_id: int | None = None,
        expires_at: int | None = None,
        now: int,
    ) -> Token:
        async with self._connection() as con:
            try:
                row = await con.fetchrow(
                    sql.INSERT_TOKEN,
                    portal_id,
                    name,
                    secret_hash,
                    sql.encode_scopes(scopes),
                    app_id,
                    now,
                    expires_at,
                )
            except asyncpg.ForeignKeyViolationError as exc:
                raise NotFound(f"Portal {portal_id} does not exist") from exc
        return sql.token(row)

    async def revoke_token(self, *, portal_id: int, token_id: int, now: int) -> bool:
        async with self._connection() as con:
            row = await con.fetchrow(sql.REVOKE_TOKEN, portal_id, token_id, now)
        return row is not None

    async def list_tokens(self, portal_id: int) -> list[Token]:
        async with self._connection() as con:
            rows = await con.fetch(sql.LIST_TOKENS, portal_id)
        return [sql.token(r) for r in rows]

    async def authenticate(self, secret_hash: str) -> tuple[Token, PortalContext] | None:
        async with self._connection() as con:
            row = await con.fetchrow(sql.AUTHENTICATE, secret_hash)
        if row is None:
            return None
        return sql.token(row), sql.context(row, offset=8)

    async def portal_context(self, portal_id: int) -> PortalContext:
        async with self._connection() as con:
            row = await con.fetchrow(sql.PORTAL_CONTEXT, portal_id)
        if row is None:
            raise NotFound(f"Portal {portal_id} does not exist")
        return sql.context(row)

    # --- subscribers and the ledger -------------------------------------------------------
    async def read_subscribers(
        self, portal_id: int, emails: Sequence[str]
    ) -> dict[str, Subscriber]:
        if not emails:
            return {}
        async with self._connection() as con:
            rows = await con.fetch(sql.LOAD_SUBSCRIBERS, portal_id, list(emails))
        return {r["email"]: _subscriber(r) for r in rows}

    async def mutate(self, portal_id: int, emails: Sequence[str], plan: Plan[T]) -> T:
        addresses = list(dict.fromkeys(emails))
        for attempt in range(1, MUTATE_ATTEMPTS + 1):
            try:
                return await self._mutate_once(portal_id, addresses, plan)
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
                if attempt == MUTATE_ATTEMPTS:
                    raise Unavailable("database busy: too many conflicting writes") from exc
                # Jitter so that the same contenders do not collide again in lockstep.
                await asyncio.sleep(random.uniform(0, 0.01 * attempt))
        raise AssertionError("unreachable")

    async def _mutate_once(self, portal_id: int, addresses: list[str], plan: Plan[T]) -> T:
        async with self._connection() as con, con.transaction():
            await con.execute(sql.CLAIM_SUBSCRIBERS, portal_id, addresses)
            # A separate statement: READ COMMITTED takes its snapshot after the locks are
            # held, so it sees everything the previous holders committed.
            rows = await con.fetch(sql.LOAD_CLAIMED, portal_id, addresses)
            stored = {r["email"]: _subscriber(r) for r in rows}
            subs = {e: stored.get(e) or Subscriber(e) for e in addresses}
            outcome = plan(subs)
            touched = sorted(outcome.touched)
            for e in touched:
                if e not in subs or subs[e].created_at is None:
                    raise ValueError(f"plan touched {e!r} without setting created_at")
            if touched:
                await con.execute(
                    sql.SAVE_SUBSCRIBERS,
                    portal_id,
                    touched,
                    [subs[e].created_at for e in touched],
                    [codec.encode(subs[e].types, subs[e].wide) for e in touched],
                )
            untouched_new = [e for e in addresses if e not in stored and e not in outcome.touched]
            if untouched_new:  # reads never create subscribers; neither do no-op writes
                await con.execute(sql.DROP_PLACEHOLDERS, portal_id, untouched_new)
            if outcome.events:
                ev = outcome.events
                await con.execute(
                    sql.APPEND_EVENTS,
                    portal_id,
                    [e.email for e in ev],
                    [e.at for e in ev],
                    [e.source for e in ev],
                    [e.actor for e in ev],
                    [e.correlation_id for e in ev],
                    [codec.encode_changes(e.changes) for e in ev],
                )
        return outcome.value

    async def events(
        self,
        portal_id: int,
        *,
        email: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[StoredEvent]:
        async with self._connection() as con:
            if email is None:
                rows = await con.fetch(sql.EVENTS, portal_id, after_id, limit)
            else:
                rows = await con.fetch(sql.EVENTS_OF, portal_id, email, after_id, limit)
        return [
            StoredEvent(
                r["id"],
                portal_id,
                Event(
                    r["email"],
                    codec.decode_changes(r["changes"]),
                    r["source"],
                    r["actor"],
                    r["correlation_id"],
                    r["at"],
                ),
            )
            for r in rows
        ]

    async def get_secret(self, name: str) -> str | None:
        async with self._connection() as con:
            value = await con.fetchval(sql.GET_SECRET, name)
        return None if value is None else str(value)

    async def set_secret_if_absent(self, name: str, value: str) -> str:
        async with self._connection() as con:
            inserted = await con.fetchval(sql.INSERT_SECRET, name, value)
            # On a conflict, a fresh statement (and snapshot) sees the winner's value.
            stored = inserted if inserted is not None else await con.fetchval(sql.GET_SECRET, name)
        return str(stored)


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


def _subscriber(row: Any) -> Subscriber:
    types, wide = codec.decode(row["state"])
    return Subscriber(row["email"], row["created_at"], types, wide)
