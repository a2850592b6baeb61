"""The ledger and erasure on SQLite (`ledger.LedgerStore`).

The ledger has no index by subject (migration 4): a subject's entries are a chain of `prev`
pointers from its newest, walked by `CHAIN`; `subscribers.save` appends to it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec

from commpref.domain import erasure
from commpref.domain.model import Event, Subscriber
from commpref.domain.tallies import Delta
from commpref.storage import codec
from commpref.storage.ledger import Erasure, StoredEvent
from commpref.storage.sqlite.connection import SqliteConnections
from commpref.storage.sqlite.subscribers import (
    SQL_KEEP_SUPPRESSION,
    SQL_SUPPRESSION,
    portal_secret,
    save,
)
from commpref.storage.sqlite.transactions import one
from commpref.storage.subscribers import Outcome

Conn = sqlite3.Connection

EVENT_COLUMNS = "id, portal_id, email, at, source, actor, correlation_id, changes"
# The ledger has no index by subject (migration 4): a subject's entries are a chain of `prev`
# pointers from its newest (`subscribers.last_event`, or `suppressions.last_event` for an
# erasure label). CHAIN walks the chains from a JSON array of heads down to an id bound.
# Each step looks its entry's `prev` up by primary key in a scalar subquery: written as a
# join, SQLite builds a Bloom filter over the whole ledger first (a scan per history read).
_PREV = "(SELECT e.prev FROM events e WHERE e.id = chain.id)"
CHAIN = (
    "WITH RECURSIVE chain(id) AS (SELECT value FROM json_each(?) WHERE value > ? "
    f"UNION ALL SELECT {_PREV} FROM chain WHERE {_PREV} > ?) "
)
SQL_EVENTS_BY_EMAIL = (
    f"{CHAIN}SELECT {EVENT_COLUMNS} FROM events WHERE id IN chain AND portal_id = ? "
    "ORDER BY id LIMIT ?"
)
SQL_HEAD = "SELECT last_event FROM subscribers WHERE portal_id = ? AND email = ?"
SQL_ERASED_RECORD = (
    "SELECT last_event, created_at, state FROM subscribers WHERE portal_id = ? AND email = ?"
)
SQL_EVENTS = (
    f"SELECT {EVENT_COLUMNS} FROM events WHERE portal_id = ? AND id > ? ORDER BY id LIMIT ?"
)
_LABEL_HEAD = "SELECT last_event FROM suppressions WHERE portal_id = ? AND subject_key = ?"


class SqliteLedger(SqliteConnections):
    async def events(
        self,
        portal_id: int,
        *,
        email: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[StoredEvent]:
        return await self._read(lambda c: _events(c, portal_id, email, after_id, limit))

    # --- the ledger ------------------------------------------------------------------------
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
        # SQLite has one writer, whose commits make ids visible in order.
        return await self._read(
            lambda c: _ledger(c, portal_id, subjects, after_id, limit, actor, at_from, at_to)
        )

    async def ledger_entries(self, portal_id: int, ids: Sequence[int]) -> list[StoredEvent]:
        return await self._read(lambda c: entries(c, portal_id, ids))

    # --- erasure and export ---------------------------------------------------------------------
    async def erase(
        self, portal_id: int, email: str, *, actor: str, correlation_id: str, source: str, now: int
    ) -> Erasure:
        result, outcome = await self._write(
            lambda c: _erase(c, portal_id, email, actor, correlation_id, source, now)
        )
        self._committed(outcome)
        return result

    async def subject_label(self, portal_id: int, email: str) -> str:
        return await self._read(lambda c: _subject_label(c, portal_id, email))

    async def erasure_key(self, portal_id: int) -> str:
        return (await self._read(lambda c: portal_secret(c, portal_id))).decode()

    async def suppressions_page(
        self, portal_id: int, *, after_key: bytes = b"", limit: int = 1000
    ) -> list[tuple[bytes, int]]:
        return await self._read(lambda c: _suppressions_page(c, portal_id, after_key, limit))


# --- statements ---------------------------------------------------------------------------


def stored_event(r: Sequence[Any]) -> StoredEvent:
    """A row of `EVENT_COLUMNS` as a ledger entry."""
    changes = codec.decode_changes(r[7])
    return StoredEvent(r[0], r[1], Event(r[2], changes, r[4], r[5], r[6], r[3]))


def chain_args(heads: Sequence[int], after_id: int) -> tuple[str, int, int]:
    """CHAIN's three parameters."""
    return msgspec.json.encode(list(heads)).decode(), after_id, after_id


def _events(
    c: Conn, portal_id: int, email: str | None, after_id: int, limit: int
) -> list[StoredEvent]:
    if email is None:
        rows = c.execute(SQL_EVENTS, (portal_id, after_id, limit))
    else:
        head = one(c, SQL_HEAD, (portal_id, email))
        heads = [] if head is None or head[0] is None else [head[0]]
        rows = c.execute(SQL_EVENTS_BY_EMAIL, (*chain_args(heads, after_id), portal_id, limit))
    return [stored_event(r) for r in rows]


def _ledger(
    c: Conn,
    portal_id: int,
    subjects: Sequence[str] | None,
    after_id: int,
    limit: int,
    actor: str | None,
    at_from: int | None,
    at_to: int | None,
) -> list[StoredEvent]:
    chain, where = "", ["portal_id = ?", "id > ?"]
    args: list[Any] = [portal_id, after_id]
    if subjects is not None:
        heads = subject_heads(c, portal_id, subjects)
        if not heads:
            return []
        chain, where[1] = CHAIN, "id IN chain"  # the chain stops at after_id
        args = [*chain_args(heads, after_id), portal_id]
    if actor is not None:
        where.append("(actor = ? OR substr(actor, 1, ?) = ?)")
        args += [actor, len(actor) + 1, actor + ":"]
    if at_from is not None:
        where.append("at >= ?")
        args.append(at_from)
    if at_to is not None:
        where.append("at < ?")
        args.append(at_to)
    sql = (
        f"{chain}SELECT {EVENT_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
    )
    return [stored_event(r) for r in c.execute(sql, (*args, limit))]


def subject_heads(c: Conn, portal_id: int, subjects: Sequence[str]) -> list[int]:
    """The newest ledger entry of each subject that has one: an address's is on its
    subscriber row, an erasure label's on its suppression row."""
    heads = []
    for subject in subjects:
        if erasure.is_label(subject):
            key = erasure.key_of(subject)
            row = None if key is None else one(c, _LABEL_HEAD, (portal_id, key))
        else:
            row = one(c, SQL_HEAD, (portal_id, subject))
        if row is not None and row[0] is not None:
            heads.append(row[0])
    return heads


def entries(c: Conn, portal_id: int, ids: Sequence[int]) -> list[StoredEvent]:
    if not ids:
        return []
    sql = (
        f"SELECT {EVENT_COLUMNS} FROM events WHERE id IN (SELECT value FROM json_each(?)) "
        "AND portal_id = ? ORDER BY id"
    )
    args = (msgspec.json.encode(list(ids)).decode(), portal_id)
    return [stored_event(r) for r in c.execute(sql, args)]


def _subject_label(c: Conn, portal_id: int, email: str) -> str:
    return erasure.label(erasure.subject_key(portal_secret(c, portal_id), email))


# --- erasure --------------------------------------------------------------------------------

SQL_ERASE_MAIL = (
    "DELETE FROM mail_outbox WHERE signup_id IN "
    "(SELECT id FROM signups WHERE portal_id = ? AND email = ?)"
)


def _erase(
    c: Conn, portal_id: int, email: str, actor: str, correlation_id: str, source: str, now: int
) -> tuple[Erasure, Outcome[None]]:
    key = erasure.subject_key(portal_secret(c, portal_id), email)
    label = erasure.label(key)
    # Sign-ups and their emails hold the address itself: they go, whatever else is stored.
    c.execute(SQL_ERASE_MAIL, (portal_id, email))
    c.execute("DELETE FROM signups WHERE portal_id = ? AND email = ?", (portal_id, email))
    row = one(c, SQL_ERASED_RECORD, (portal_id, email))
    if row is None and one(c, SQL_SUPPRESSION, (portal_id, key)) is not None:
        return Erasure(label, False, 0, already_erased=True), Outcome(None)
    delta = Delta()
    if row is not None:  # its counts go with it
        types, wide, bounce = codec.decode(row[2])
        delta.replace(Subscriber(email, row[1], types, wide, bounce=bounce), None)
    own = [] if row is None or row[0] is None else [row[0]]
    ids = [r[0] for r in c.execute(f"{CHAIN}SELECT id FROM chain", chain_args(own, 0))]
    c.execute("DELETE FROM subscribers WHERE portal_id = ? AND email = ?", (portal_id, email))
    # The address's chain becomes the label's: relabelled, its oldest entry pointing at what
    # an earlier erasure of the same address left under the label.
    c.execute(
        "UPDATE events SET email = ? WHERE id IN (SELECT value FROM json_each(?))",
        (label, msgspec.json.encode(ids).decode()),
    )
    earlier = subject_heads(c, portal_id, [label])
    if ids and earlier:
        c.execute("UPDATE events SET prev = ? WHERE id = ?", (earlier[0], min(ids)))
    heads = {label: max(ids + earlier)} if ids or earlier else {}
    c.execute(
        "UPDATE webhook_deliveries SET email = ? WHERE state = 'PENDING' AND email = ? AND "
        "webhook_id IN (SELECT id FROM webhooks WHERE portal_id = ?)",
        (label, email, portal_id),
    )
    c.execute(
        "UPDATE import_report SET email = ? WHERE email = ? AND "
        "job_id IN (SELECT id FROM import_jobs WHERE portal_id = ?)",
        (label, email, portal_id),
    )
    event = Event(label, (erasure.ERASURE_CHANGE,), source, actor, correlation_id, now)
    outcome: Outcome[None] = Outcome(None, set(), [event])
    save(c, portal_id, {}, outcome, heads, delta=delta)
    c.execute(SQL_KEEP_SUPPRESSION, (portal_id, key, now, heads[label]))
    return Erasure(label, row is not None, len(ids)), outcome


# --- export -------------------------------------------------------------------------------------


def _suppressions_page(
    c: Conn, portal_id: int, after_key: bytes, limit: int
) -> list[tuple[bytes, int]]:
    rows = c.execute(
        "SELECT subject_key, erased_at FROM suppressions WHERE portal_id = ? AND subject_key > ? "
        "ORDER BY subject_key LIMIT ?",
        (portal_id, after_key, limit),
    )
    return [(bytes(key), erased_at) for key, erased_at in rows]
