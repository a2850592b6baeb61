"""The ledger and erasure on PostgreSQL (`ledger.LedgerStore`).

Entries are appended with the change that makes them (`subscribers_sql._APPEND`), under a
shared per-portal lock that readers of the feed take exclusively
(`subscribers_sql.EVENTS_LOCK_CLASS`), so a reader paging by id never misses one. An erasure
claims the address as `mutate` does and relabels its entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from commpref.domain import erasure
from commpref.domain.model import Event, Subscriber
from commpref.domain.tallies import Delta
from commpref.storage import codec
from commpref.storage.ledger import Erasure, StoredEvent
from commpref.storage.postgres.connection import affected, retrying
from commpref.storage.postgres.subscribers import PostgresSubscribers
from commpref.storage.postgres.subscribers_sql import (
    ADD_DELTAS,
    CLAIM_SUBSCRIBERS,
    EVENTS_LOCK_CLASS,
    LOCK_EVENTS_FOR_READ,
    SUPPRESS,
    SUPPRESSED,
    pack_deltas,
)
from commpref.storage.subscribers import Outcome

EVENT_COLUMNS = "id, email, at, source, actor, correlation_id, changes"

EVENTS = f"""
SELECT {EVENT_COLUMNS} FROM events
WHERE portal_id = $1 AND id > $2 ORDER BY id LIMIT $3
"""

EVENTS_OF = f"""
SELECT {EVENT_COLUMNS} FROM events
WHERE portal_id = $1 AND email = $2 AND id > $3 ORDER BY id LIMIT $4
"""
LEDGER_ENTRIES = f"""
SELECT {EVENT_COLUMNS} FROM events WHERE portal_id = $1 AND id = ANY($2::bigint[]) ORDER BY id
"""


def ledger_sql(*, subjects: bool, actor: bool, at_from: bool, at_to: bool) -> str:
    """The ledger query for a combination of filters ($1 portal, $2 after id, $3 limit, then
    one parameter per filter given, in this order)."""
    where = ["portal_id = $1", "id > $2"]
    n = 3
    if subjects:
        n += 1
        where.append(f"email = ANY(${n}::text[])")
    if actor:
        n += 1
        where.append(f"(actor = ${n} OR left(actor, length(${n}) + 1) = ${n} || ':')")
    if at_from:
        n += 1
        where.append(f"at >= ${n}")
    if at_to:
        n += 1
        where.append(f"at < ${n}")
    return f"SELECT {EVENT_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY id LIMIT $3"


DELETE_SUBSCRIBER = """
DELETE FROM subscribers WHERE portal_id = $1 AND email = $2 RETURNING created_at, state
"""
ERASE_SIGNUPS = """
WITH gone AS (DELETE FROM signups WHERE portal_id = $1 AND email = $2 RETURNING id)
DELETE FROM mail_outbox WHERE signup_id IN (SELECT id FROM gone)
"""
RELABEL_EVENTS = "UPDATE events SET email = $3 WHERE portal_id = $1 AND email = $2"
RELABEL_DELIVERIES = """
UPDATE webhook_deliveries SET email = $3
WHERE state = 'PENDING' AND email = $2
    AND webhook_id IN (SELECT id FROM webhooks WHERE portal_id = $1)
"""
RELABEL_REPORTS = """
UPDATE import_report SET email = $3
WHERE email = $2 AND job_id IN (SELECT id FROM import_jobs WHERE portal_id = $1)
"""
SUPPRESSIONS_PAGE = """
SELECT subject_key, erased_at FROM suppressions
WHERE portal_id = $1 AND subject_key > $2 ORDER BY subject_key LIMIT $3
"""


def _stored(portal_id: int, r: Any) -> StoredEvent:
    changes = codec.decode_changes(r["changes"])
    event = Event(r["email"], changes, r["source"], r["actor"], r["correlation_id"], r["at"])
    return StoredEvent(r["id"], portal_id, event)


class PostgresLedger(PostgresSubscribers):
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
                rows = await con.fetch(EVENTS_OF, portal_id, email, after_id, limit)
            else:
                async with con.transaction(isolation="read_committed"):
                    # See `subscribers_sql.EVENTS_LOCK_CLASS`: no id below the ones returned can
                    # appear later.
                    await con.execute(LOCK_EVENTS_FOR_READ, EVENTS_LOCK_CLASS, portal_id)
                    rows = await con.fetch(EVENTS, portal_id, after_id, limit)
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
        statement = ledger_sql(
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
                # The feed: wait for writers holding ids (see `subscribers_sql.EVENTS_LOCK_CLASS`).
                await con.execute(LOCK_EVENTS_FOR_READ, EVENTS_LOCK_CLASS, portal_id)
            rows = await con.fetch(statement, portal_id, after_id, limit, *args)
        return [_stored(portal_id, r) for r in rows]

    async def ledger_entries(self, portal_id: int, ids: Sequence[int]) -> list[StoredEvent]:
        async with self._connection() as con:
            rows = await con.fetch(LEDGER_ENTRIES, portal_id, list(ids))
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
                await con.execute(CLAIM_SUBSCRIBERS, portal_id, [email])
                # Sign-ups and their emails hold the address itself: they always go.
                await con.execute(ERASE_SIGNUPS, portal_id, email)
                deleted = await con.fetchrow(DELETE_SUBSCRIBER, portal_id, email)
                existed = deleted is not None and deleted["created_at"] >= 0  # not our claim
                if not existed and await con.fetchval(SUPPRESSED, portal_id, [key]):
                    return Erasure(label, False, 0, already_erased=True), Outcome(None)
                await con.execute(SUPPRESS, portal_id, key, now)
                status = await con.execute(RELABEL_EVENTS, portal_id, email, label)
                await con.execute(RELABEL_DELIVERIES, portal_id, email, label)
                await con.execute(RELABEL_REPORTS, portal_id, email, label)
                event = Event(label, (erasure.ERASURE_CHANGE,), source, actor, correlation_id, now)
                await self._append(con, portal_id, [event])
                delta = Delta()  # the record's counts go with it; the erasure is counted
                if existed:
                    types, wide, bounce = codec.decode(deleted["state"])
                    delta.replace(
                        Subscriber(email, deleted["created_at"], types, wide, bounce=bounce), None
                    )
                delta.entries([event])
                await con.execute(ADD_DELTAS, portal_id, pack_deltas(delta))
            return Erasure(label, existed, affected(status)), Outcome(None, set(), [event])

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
            rows = await con.fetch(SUPPRESSIONS_PAGE, portal_id, after_key, limit)
        return [(bytes(key), erased_at) for key, erased_at in rows]
