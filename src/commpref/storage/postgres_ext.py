"""The PostgreSQL backend's extension methods: suppressions, ledger queries, erasure and
export (import jobs and webhooks: `postgres_jobs`). A mixin of `postgres.PostgresStore`,
which supplies the pool, `_apply` (mutate's work inside a transaction) and `_append`
(ledger + outbox); the statements live in `postgres_ext_sql`."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from commpref.domain import erasure
from commpref.domain.model import Event, Subscriber
from commpref.errors import NotFound, Unavailable
from commpref.storage import codec
from commpref.storage import postgres_ext_sql as sql
from commpref.storage import postgres_sql as core
from commpref.storage.base import Erasure, Outcome, StoredEvent

T = TypeVar("T")
ATTEMPTS = 5
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


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


def _stored(portal_id: int, r: Any) -> StoredEvent:
    changes = codec.decode_changes(r["changes"])
    event = Event(r["email"], changes, r["source"], r["actor"], r["correlation_id"], r["at"])
    return StoredEvent(r["id"], portal_id, event)


class PostgresExtensions:
    """Mixed into `PostgresStore`."""

    _portal_secrets: dict[int, bytes]

    if TYPE_CHECKING:

        def _connection(self) -> AbstractAsyncContextManager[Any]: ...

        async def _apply(
            self,
            con: Any,
            portal_id: int,
            addresses: list[str],
            plan: Any,
            keys: Sequence[bytes] | None = None,
        ) -> Outcome[Any]: ...

        async def _append(self, con: Any, portal_id: int, events: list[Event]) -> None: ...

        def _committed(self, outcome: Outcome[Any]) -> None: ...

    # --- suppressions ------------------------------------------------------------------------
    async def _secret(self, con: Any, portal_id: int) -> bytes:
        """The portal's secret (it never changes, so it is cached)."""
        secret = self._portal_secrets.get(portal_id)
        if secret is None:
            value = await con.fetchval(sql.PORTAL_SECRET, portal_id)
            if value is None:
                raise NotFound(f"Portal {portal_id} does not exist")
            secret = self._portal_secrets[portal_id] = str(value).encode()
        return secret

    async def _subscribers(
        self, con: Any, portal_id: int, rows: Any, emails: Sequence[str]
    ) -> dict[str, Subscriber]:
        """Rows of `LOAD_SUBSCRIBERS`/`LOAD_CLAIMED` as subscribers; when the rows say the
        portal has erased addresses, those among the missing ones are added as
        `erasure.suppressed_subscriber`."""
        subs: dict[str, Subscriber] = {}
        erasures = False
        for r in rows:
            if r["email"] is None:
                erasures = True
            else:
                types, wide = codec.decode(r["state"])
                subs[r["email"]] = Subscriber(r["email"], r["created_at"], types, wide)
        missing = [e for e in dict.fromkeys(emails) if e not in subs] if erasures else []
        if not missing:
            return subs
        secret = await self._secret(con, portal_id)
        by_key = {erasure.subject_key(secret, e): e for e in missing}
        found = await con.fetch(sql.SUPPRESSED, portal_id, list(by_key))
        if found:
            definitions, units = await con.fetchrow(sql.SCOPE_OF_SUPPRESSED, portal_id)
            for key, erased_at in found:
                email = by_key[bytes(key)]
                subs[email] = erasure.suppressed_subscriber(email, erased_at, definitions, units)
        return subs

    # --- the ledger --------------------------------------------------------------------------
    async def ledger(
        self,
        portal_id: int,
        *,
        subjects: Sequence[str] | None = None,
        after_id: int = 0,
        limit: int = 1000,
        actor: str | None = None,
        at_from: int | None = None,
        at_to: int | None = None,
    ) -> list[StoredEvent]:
        statement = sql.ledger_sql(
            subjects=subjects is not None,
            actor=actor is not None,
            at_from=at_from is not None,
            at_to=at_to is not None,
        )
        args = [a for a in (subjects, actor, at_from, at_to) if a is not None]
        if subjects is not None:
            args[0] = list(subjects)
        async with self._connection() as con, con.transaction(isolation="read_committed"):
            if subjects is None:
                # The feed: wait for writers holding ids (see postgres_sql.EVENTS_LOCK_CLASS).
                await con.execute(core.LOCK_EVENTS_FOR_READ, core.EVENTS_LOCK_CLASS, portal_id)
            rows = await con.fetch(statement, portal_id, after_id, limit, *args)
        return [_stored(portal_id, r) for r in rows]

    async def ledger_entries(self, portal_id: int, ids: Sequence[int]) -> list[StoredEvent]:
        async with self._connection() as con:
            rows = await con.fetch(sql.LEDGER_ENTRIES, portal_id, list(ids))
        return [_stored(portal_id, r) for r in rows]

    # --- erasure and export ------------------------------------------------------------------
    async def erase(
        self, portal_id: int, email: str, *, actor: str, correlation_id: str, source: str, now: int
    ) -> Erasure:
        async def once() -> tuple[Erasure, Outcome[None]]:
            async with self._connection() as con, con.transaction(isolation="read_committed"):
                key = erasure.subject_key(await self._secret(con, portal_id), email)
                label = erasure.label(key)
                # Locked like `mutate`: a concurrent write to the address waits for us.
                await con.execute(core.CLAIM_SUBSCRIBERS, portal_id, [email])
                existed = bool(await con.fetchval(sql.DELETE_SUBSCRIBER, portal_id, email))
                await con.execute(sql.SUPPRESS, portal_id, key, now)
                status = await con.execute(sql.RELABEL_EVENTS, portal_id, email, label)
                await con.execute(sql.RELABEL_DELIVERIES, portal_id, email, label)
                await con.execute(sql.RELABEL_REPORTS, portal_id, email, label)
                event = Event(label, (erasure.ERASURE_CHANGE,), source, actor, correlation_id, now)
                await self._append(con, portal_id, [event])
            return Erasure(label, existed, sql.affected(status)), Outcome(None, set(), [event])

        result, outcome = await retrying(once)
        self._committed(outcome)
        return result

    async def subject_label(self, portal_id: int, email: str) -> str:
        async with self._connection() as con:
            return erasure.label(erasure.subject_key(await self._secret(con, portal_id), email))

    async def erasure_key(self, portal_id: int) -> str:
        async with self._connection() as con:
            return (await self._secret(con, portal_id)).decode()

    async def suppressions_page(
        self, portal_id: int, *, after_key: bytes = b"", limit: int = 1000
    ) -> list[tuple[bytes, int]]:
        async with self._connection() as con:
            rows = await con.fetch(sql.SUPPRESSIONS_PAGE, portal_id, after_key, limit)
        return [(bytes(key), erased_at) for key, erased_at in rows]

    async def subscribers_page(
        self, portal_id: int, *, after_email: str = "", limit: int = 1000
    ) -> list[Subscriber]:
        async with self._connection() as con:
            rows = await con.fetch(sql.SUBSCRIBERS_PAGE, portal_id, after_email, limit)
        out = []
        for r in rows:
            types, wide = codec.decode(r["state"])
            out.append(Subscriber(r["email"], r["created_at"], types, wide))
        return out
