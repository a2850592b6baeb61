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
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

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
from commpref.storage import codec, ratelimit_sql
from commpref.storage import postgres_conn as conn
from commpref.storage import postgres_ext_sql as ext_sql
from commpref.storage import postgres_sql as sql
from commpref.storage.base import Outcome, Plan, RateCount, Store, StoredEvent, T
from commpref.storage.coalesce import Batcher, Outcomes, one_by_one
from commpref.storage.migrations import LATEST
from commpref.storage.postgres_auth import AuthCache
from commpref.storage.postgres_ext import PostgresExtensions
from commpref.storage.postgres_jobs import PostgresJobs

MUTATE_ATTEMPTS = 5  # our writers lock in one order; this covers foreign sessions and surprises
CLOSE_TIMEOUT = 10.0  # seconds

# Failures after which the whole transaction can simply run again.
_RETRYABLE = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    # Another process migrated the schema under our cached prepared statements; asyncpg
    # has dropped them, and cannot re-prepare by itself inside a transaction.
    asyncpg.InvalidCachedStatementError,
)


# Writes of up to this many addresses share transactions with the others of their loop turn
# (`PostgresStore._write_batch`); larger ones gain little from company and run alone.
GROUP_MAX_ADDRESSES = 100
_Write = tuple[list[str], Plan[Any]]  # a `mutate` call: its addresses and its plan


def _group(jobs: list[_Write]) -> _Write:
    """One plan running the plans of `jobs` in turn over their own addresses, as if each had
    its own transaction: a plan that raises has its changes undone and its exception kept.
    The group's value is one `(True, Outcome)` or `(False, exception)` per job."""
    addresses = list(dict.fromkeys(e for emails, _ in jobs for e in emails))

    def plan(subs: dict[str, Subscriber]) -> Outcome[Outcomes]:
        done: Outcomes = []
        touched: set[str] = set()
        events: list[Event] = []
        for emails, job in jobs:
            before = {e: _copy(subs[e]) for e in emails}
            try:
                outcome = job({e: subs[e] for e in emails})
            except Exception as exc:
                subs.update(before)
                done.append((False, exc))
                continue
            done.append((True, outcome))
            touched |= outcome.touched
            events += outcome.events
        return Outcome(done, touched, events)

    return addresses, plan


def _copy(sub: Subscriber) -> Subscriber:
    return Subscriber(sub.email, sub.created_at, dict(sub.types), dict(sub.wide), sub.id)


class PostgresStore(PostgresExtensions, PostgresJobs, Store):
    kind = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool: Any = None
        self._portal_secrets: dict[int, bytes] = {}  # never change: see postgres_ext._secret
        self.auth_cache = AuthCache(url)
        # One read at a time per portal and process: the reads that arrive meanwhile go
        # together next, on one connection, instead of each turn's on a connection of its own.
        self._reads: Batcher[Sequence[str], dict[str, Subscriber]]
        self._reads = Batcher(self._read_batch, limit=1)
        self._writes: Batcher[_Write, Any] = Batcher(self._write_batch)

    # --- lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:
        if self._pool is None:
            self._pool = await conn.create_pool(
                self.url, size=self.pool_size, init=self._init_connection
            )
            await self.auth_cache.start()

    async def _init_connection(self, con: Any) -> None:
        """Called for each new pool connection (tests hook in here to count statements)."""

    async def close(self) -> None:
        """Wait for in-flight calls to finish (bounded: a hung query must not hang shutdown)."""
        pool, self._pool = self._pool, None
        await self.auth_cache.stop()
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT)
            except TimeoutError:
                pool.terminate()

    async def ping(self) -> None:
        async with self._connection() as con:
            await con.fetchval("SELECT 1")

    async def schema_version(self) -> tuple[int, int]:
        async with self._connection() as con:
            applied = await con.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(applied), LATEST

    def _connection(self) -> AbstractAsyncContextManager[Any]:
        if self._pool is None:  # not opened yet, or closed by a shutdown
            raise Unavailable(conn.DOWN_MESSAGE)
        return conn.connection(self._pool)

    @asynccontextmanager
    async def _changing(self) -> AsyncIterator[Any]:
        """A connection for a change to what `authenticate` answers. Other processes drop
        their cached look-ups when notified; this one drops its own once the change is
        made, so its next request sees it (a revoked token fails at once)."""
        try:
            async with self._connection() as con:
                yield con
        finally:
            self.auth_cache.changed()

    # --- portals, business units, definitions, tokens --------------------------------------
    async def create_portal(
        self,
        *,
        name: str,
        gdpr: bool = False,
        brands: bool = False,
        default_language: str = "en",
        erasure_key: str | None = None,
        now: int,
    ) -> Portal:
        names, descriptions, purposes, internal = zip(*sql.DEFAULT_DEFINITIONS, strict=True)
        async with self._changing() as con, con.transaction():
            row = await con.fetchrow(
                sql.INSERT_PORTAL,
                name,
                gdpr,
                brands,
                default_language,
                erasure_key or secrets.token_hex(32),
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
        async with self._changing() as con:
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
        async with self._changing() as con:
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
        async with self._changing() as con:
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
        async with self._changing() as con, con.transaction():
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
        async with self._changing() as con:
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
        async with self._changing() as con:
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
        async with self._changing() as con:
            row = await con.fetchrow(sql.REVOKE_TOKEN, portal_id, token_id, now)
        return row is not None

    async def list_tokens(self, portal_id: int) -> list[Token]:
        async with self._connection() as con:
            rows = await con.fetch(sql.LIST_TOKENS, portal_id)
        return [sql.token(r) for r in rows]

    async def authenticate(self, secret_hash: str) -> tuple[Token, PortalContext] | None:
        found = self.auth_cache.get(secret_hash)
        if found is not None:
            return found
        generation = self.auth_cache.generation
        async with self._connection() as con:
            row = await con.fetchrow(sql.AUTHENTICATE, secret_hash)
        if row is None:
            return None
        found = sql.token(row), sql.context(row, offset=8)
        self.auth_cache.put(secret_hash, generation, found)
        return found

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
        return await self._reads.submit(portal_id, emails)

    async def _read_batch(self, portal_id: int, jobs: list[Sequence[str]]) -> Outcomes:
        """The reads of one loop turn (`coalesce`) as one query."""
        emails = list(dict.fromkeys(e for wanted in jobs for e in wanted))
        try:
            async with self._connection() as con:
                rows = await con.fetch(sql.LOAD_SUBSCRIBERS, portal_id, emails)
                found = await self._subscribers(con, portal_id, rows, emails)
        except ValidationError:
            if len(jobs) == 1:
                raise
            return await one_by_one(self._read_batch, portal_id, jobs)
        return [(True, {e: found[e] for e in wanted if e in found}) for wanted in jobs]

    async def mutate(self, portal_id: int, emails: Sequence[str], plan: Plan[T]) -> T:
        addresses = list(dict.fromkeys(emails))
        if len(addresses) > GROUP_MAX_ADDRESSES:
            return await self._mutate_alone(portal_id, addresses, plan)
        value: T = await self._writes.submit(portal_id, (addresses, plan))
        return value

    async def _write_batch(self, portal_id: int, jobs: list[_Write]) -> Outcomes:
        """The writes of one loop turn (`coalesce`) as one transaction: one claim, load,
        save and commit for all of them. A failing plan fails alone (`_group`); if the
        transaction fails, each write is tried again on its own."""
        if len(jobs) == 1:
            return [(True, await self._mutate_alone(portal_id, *jobs[0]))]
        addresses, plan = _group(jobs)
        try:
            done = await self._mutate_once(portal_id, addresses, plan)
        except Exception:
            return await one_by_one(self._write_batch, portal_id, jobs)
        return [(ok, o.value if ok else o) for ok, o in done]

    async def _mutate_alone(self, portal_id: int, addresses: list[str], plan: Plan[T]) -> T:
        for attempt in range(1, MUTATE_ATTEMPTS + 1):
            try:
                return await self._mutate_once(portal_id, addresses, plan)
            except _RETRYABLE as exc:
                if attempt == MUTATE_ATTEMPTS:
                    raise Unavailable("database busy: too many conflicting writes") from exc
                # Jitter so that the same contenders do not collide again in lockstep.
                await asyncio.sleep(random.uniform(0, 0.01 * attempt))
        raise AssertionError("unreachable")

    async def _mutate_once(self, portal_id: int, addresses: list[str], plan: Plan[T]) -> T:
        async with self._connection() as con, con.transaction(isolation="read_committed"):
            # READ COMMITTED whatever the server default: each statement's fresh snapshot is
            # what makes the load below see the previous lock holders' commits.
            outcome = await self._apply(con, portal_id, addresses, plan)
        self._committed(outcome)
        return outcome.value

    async def _apply(
        self,
        con: Any,
        portal_id: int,
        addresses: list[str],
        plan: Callable[..., Outcome[T]],
        keys: Sequence[bytes] | None = None,
    ) -> Outcome[T]:
        """`mutate`'s work inside an open transaction. Import chunks pass `keys`: the plan is
        then also handed the erasure times stored under those suppression keys, and the
        suppressions it returns are kept."""
        await con.execute(sql.CLAIM_SUBSCRIBERS, portal_id, addresses)
        # A separate statement, so its snapshot is taken after the locks are held.
        rows = await con.fetch(sql.LOAD_CLAIMED, portal_id, addresses)
        in_db = {r["email"] for r in rows if r["email"] is not None}
        stored = await self._subscribers(con, portal_id, rows, addresses)
        subs = {e: stored.get(e) or Subscriber(e) for e in addresses}
        if keys is None:
            outcome = plan(subs)
        else:
            found = await con.fetch(ext_sql.SUPPRESSED_FOR_UPDATE, portal_id, list(keys))
            outcome = plan(subs, {bytes(k): at for k, at in found})
            if outcome.suppressions:
                await con.executemany(
                    ext_sql.SUPPRESS, [(portal_id, k, at) for k, at in outcome.suppressions.items()]
                )
        touched = sorted(outcome.touched)
        for e in touched:
            if e not in subs or subs[e].created_at is None:
                raise ValueError(f"plan touched {e!r} without setting created_at")
        untouched_new = [e for e in addresses if e not in in_db and e not in outcome.touched]
        if touched or untouched_new or outcome.events:
            pack = codec.Packer()
            await con.execute(
                sql.SAVE_BATCH,
                *self._ledger_args(portal_id, outcome.events, pack),
                touched,
                [subs[e].created_at for e in touched],
                [pack.state(subs[e].types, subs[e].wide) for e in touched],
                untouched_new,
            )
        return outcome

    async def _append(self, con: Any, portal_id: int, events: list[Event]) -> None:
        """Append ledger entries (and their webhook outbox rows) inside a transaction."""
        if events:
            await con.execute(sql.APPEND_EVENTS, *self._ledger_args(portal_id, events))

    @staticmethod
    def _ledger_args(
        portal_id: int, events: list[Event], pack: codec.Packer | None = None
    ) -> tuple[Any, ...]:
        """Parameters $1-$8 of the ledger append (sql._APPEND)."""
        pack = pack or codec.Packer()
        return (
            portal_id,
            [e.email for e in events],
            [e.at for e in events],
            [e.source for e in events],
            [e.actor for e in events],
            [e.correlation_id for e in events],
            [pack.changes(e.changes) for e in events],
            time.time_ns() // 1_000_000,
        )

    async def events(
        self,
        portal_id: int,
        *,
        email: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[StoredEvent]:
        async with self._connection() as con:
            if email is not None:
                # One address's entries are written under its row lock, so their ids already
                # follow commit order: no feed lock needed.
                rows = await con.fetch(sql.EVENTS_OF, portal_id, email, after_id, limit)
            else:
                async with con.transaction(isolation="read_committed"):
                    # See postgres_sql.EVENTS_LOCK_CLASS: no id below the ones returned can
                    # appear later.
                    await con.execute(sql.LOCK_EVENTS_FOR_READ, sql.EVENTS_LOCK_CLASS, portal_id)
                    rows = await con.fetch(sql.EVENTS, portal_id, after_id, limit)
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

    async def count_request(
        self, *, token_id: int, now: int, window_ms: int, window_max: int, daily_max: int
    ) -> RateCount:
        day = now // ratelimit_sql.DAY_MS
        async with self._connection() as con:
            row = await con.fetchrow(
                ratelimit_sql.POSTGRES_COUNT, token_id, day, now, window_ms, window_max, daily_max
            )
        return ratelimit_sql.postgres_result(row)

    def pool_stats(self) -> dict[str, int]:
        pool = self._pool
        if pool is None:
            return {}
        size = pool.get_size()
        return {"size": size, "in_use": size - pool.get_idle_size(), "max": pool.get_max_size()}
