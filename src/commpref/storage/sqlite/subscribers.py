"""Subscribers and their statuses on SQLite (`subscribers.SubscriberStore`): loading them,
with erased addresses as suppressed ones; `mutate`'s work inside the writer's transaction,
which saves the touched rows, appends their ledger entries and their tally delta
(`tallies.add`) and queues their webhook deliveries; the export's pages.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Container, Sequence
from typing import Any, TypeVar

import msgspec

from commpref.domain import erasure
from commpref.domain.model import Subscriber
from commpref.domain.tallies import Delta
from commpref.errors import NotFound
from commpref.storage import codec
from commpref.storage.sqlite import tallies
from commpref.storage.sqlite.connection import SqliteConnections
from commpref.storage.sqlite.transactions import one
from commpref.storage.subscribers import Outcome, Plan

R = TypeVar("R")
Conn = sqlite3.Connection

_LOAD = "SELECT email, created_at, state, last_event FROM subscribers WHERE portal_id = ? AND "
SQL_LOAD_SUBSCRIBERS = _LOAD + "email IN (SELECT value FROM json_each(?))"
SQL_LOAD_SUBSCRIBER = _LOAD + "email = ?"  # one address (a GET, a single write): no JSON
SQL_SAVE_SUBSCRIBER = (
    "INSERT INTO subscribers (portal_id, email, created_at, state, last_event) "
    "VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (portal_id, email) DO UPDATE SET state = excluded.state, "
    "last_event = excluded.last_event"
)
# Ids are given, not drawn, so that each entry can name its subject's previous one: the next
# id is what AUTOINCREMENT would take (one writer; ids are never reused).
SQL_NEXT_EVENT_ID = (
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0), "
    "coalesce((SELECT max(id) FROM events), 0)) + 1"
)
SQL_APPEND_EVENT = (
    "INSERT INTO events (id, portal_id, email, at, source, actor, correlation_id, changes, prev) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SQL_HAS_WEBHOOKS = "SELECT 1 FROM webhooks WHERE portal_id = ? AND active = 1 LIMIT 1"
# The entries just appended are the newest ids: one writer, one transaction.
SQL_QUEUE_DELIVERIES = (
    "INSERT INTO webhook_deliveries (webhook_id, portal_id, event_id, email, state, "
    "next_attempt_at, created_at) "
    "SELECT w.id, e.portal_id, e.id, e.email, 'PENDING', 0, ? FROM events e "
    "JOIN webhooks w ON w.portal_id = e.portal_id AND w.active = 1 "
    "WHERE e.id > (SELECT max(id) FROM events) - ? AND e.portal_id = ? ORDER BY e.id, w.id"
)
SQL_HAS_SUPPRESSIONS = "SELECT 1 FROM suppressions WHERE portal_id = ? LIMIT 1"
_SUPPRESSED = (
    "SELECT subject_key, erased_at FROM suppressions WHERE portal_id = ? AND subject_key IN"
)
_KEYS_PER_STATEMENT = 500
SQL_SUPPRESSION = (
    "SELECT erased_at, last_event FROM suppressions WHERE portal_id = ? AND subject_key = ?"
)
SQL_KEEP_SUPPRESSION = (
    "INSERT INTO suppressions (portal_id, subject_key, erased_at, last_event) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (portal_id, subject_key) DO UPDATE "
    "SET erased_at = max(erased_at, excluded.erased_at), last_event = excluded.last_event"
)


class SqliteSubscribers(SqliteConnections):
    """Reads on the calling thread, `mutate` on the writer (`apply`)."""

    async def read_subscribers(
        self, portal_id: int, emails: Sequence[str]
    ) -> dict[str, Subscriber]:
        if not emails:
            return {}
        return self._read_now(lambda c: load(c, portal_id, emails))

    async def mutate(self, portal_id: int, emails: Sequence[str], plan: Plan[R]) -> R:
        outcome: Outcome[R] = await self._write(lambda c: apply(c, portal_id, emails, plan))
        self._committed(outcome)
        return outcome.value

    async def subscribers_page(
        self, portal_id: int, *, after_email: str = "", limit: int = 1000
    ) -> list[Subscriber]:
        return await self._read(lambda c: _subscribers_page(c, portal_id, after_email, limit))


# --- loading and saving ---------------------------------------------------------------------


def load_subscribers(
    c: Conn, portal_id: int, emails: Sequence[str], heads: dict[str, int] | None = None
) -> dict[str, Subscriber]:
    """The stored subscribers among `emails`, with one primary-key SELECT; `heads` (when
    given) gets each one's newest ledger entry id, for `save`."""
    if not emails:
        return {}
    subs = {}
    if len(emails) == 1:  # loaded by key: cheaper than json_each for one row
        rows = c.execute(SQL_LOAD_SUBSCRIBER, (portal_id, emails[0]))
    else:
        listed = msgspec.json.encode(list(emails)).decode()
        rows = c.execute(SQL_LOAD_SUBSCRIBERS, (portal_id, listed))
    for email, created_at, state, last_event in rows:
        types, wide, bounce = codec.decode(state)
        subs[email] = Subscriber(email, created_at, types, wide, bounce=bounce)
        if heads is not None and last_event is not None:
            heads[email] = last_event
    return subs


def save(
    c: Conn,
    portal_id: int,
    subs: dict[str, Subscriber],
    outcome: Outcome[Any],
    heads: dict[str, int],
    stored: Container[str] = (),
    delta: Delta | None = None,
) -> None:
    """Persist what a plan touched and append its events, chained from `heads` (each
    subject's newest entry id, as `load_subscribers` found them; updated here), and append
    what they change for the tallies, noted in `delta` after what it holds (when given).
    `stored`: the addresses that had a stored record before the plan ran."""
    pack = codec.Packer()
    delta = Delta() if delta is None else delta
    if outcome.events:
        next_id = one(c, SQL_NEXT_EVENT_ID)[0]
        entries = []
        for e in outcome.events:
            entries.append((next_id, portal_id, e.email, e.at, e.source, e.actor,
                            e.correlation_id, pack.changes(e.changes),
                            heads.get(e.email)))  # fmt: skip
            heads[e.email] = next_id
            next_id += 1
        c.executemany(SQL_APPEND_EVENT, entries)
        _, _, subjects, at, _, actors, _, keys, _ = zip(*entries, strict=True)
        delta.appended(at, actors, keys, subjects, stored)
    rows = []
    for email in sorted(outcome.touched):  # key order: neighbouring b-tree pages
        sub = subs[email]
        if sub.created_at is None:
            raise ValueError(f"plan touched {email} without setting created_at")
        rows.append((portal_id, email, sub.created_at, pack.state(sub.types, sub.wide, sub.bounce),
                     heads.get(email)))  # fmt: skip
    c.executemany(SQL_SAVE_SUBSCRIBER, rows)
    delta.created_all([row[3] for row in rows if row[1] not in stored])
    tallies.add(c, portal_id, delta)
    if outcome.events and one(c, SQL_HAS_WEBHOOKS, (portal_id,)) is not None:
        # The webhook outbox, in the same transaction (docs/webhooks.md).
        now = time.time_ns() // 1_000_000
        c.execute(SQL_QUEUE_DELIVERIES, (now, len(outcome.events), portal_id))


# --- suppressions ---------------------------------------------------------------------------


def portal_secret(c: Conn, portal_id: int) -> bytes:
    row = one(c, "SELECT secret FROM portals WHERE id = ?", (portal_id,))
    if row is None:
        raise NotFound(f"Portal {portal_id} does not exist")
    return str(row[0]).encode()


def add_suppressed(
    c: Conn, portal_id: int, emails: Sequence[str], subs: dict[str, Subscriber]
) -> None:
    """Add to `subs` the erased addresses among `emails` that have no stored record, as
    `erasure.suppressed_subscriber` (costs one indexed probe when nothing is missing or the
    portal never erased anyone)."""
    missing = [e for e in emails if e not in subs]
    if not missing or one(c, SQL_HAS_SUPPRESSIONS, (portal_id,)) is None:
        return
    secret = portal_secret(c, portal_id)
    by_key = {erasure.subject_key(secret, e): e for e in missing}
    keys = list(by_key)
    found = []
    for i in range(0, len(keys), _KEYS_PER_STATEMENT):
        part = keys[i : i + _KEYS_PER_STATEMENT]
        sql = f"{_SUPPRESSED} ({', '.join('?' * len(part))})"
        found += c.execute(sql, (portal_id, *part)).fetchall()
    if not found:
        return
    active = "SELECT id FROM definitions WHERE portal_id = ? AND is_active = 1"
    definitions = [r[0] for r in c.execute(active, (portal_id,))]
    units = [
        r[0] for r in c.execute("SELECT id FROM business_units WHERE portal_id = ?", (portal_id,))
    ]
    for key, erased_at in found:
        email = by_key[bytes(key)]
        subs[email] = erasure.suppressed_subscriber(email, erased_at, definitions, units)


def load(
    c: Conn, portal_id: int, emails: Sequence[str], heads: dict[str, int] | None = None
) -> dict[str, Subscriber]:
    """Stored subscribers, plus erased addresses as suppressed ones."""
    subs = load_subscribers(c, portal_id, emails, heads)
    add_suppressed(c, portal_id, emails, subs)
    return subs


# --- mutate, with suppressions ----------------------------------------------------------------


def apply(
    c: Conn, portal_id: int, emails: Sequence[str], plan: Any, keys: Sequence[bytes] | None = None
) -> Outcome[Any]:
    """What `mutate` does inside its transaction. Import chunks pass `keys`: the plan is then
    also handed the erasure times stored under those suppression keys, and the suppressions
    it returns are kept, each with its newest ledger entry (the label's chain head)."""
    heads: dict[str, int] = {}
    stored = load_subscribers(c, portal_id, emails, heads)
    # Stored records only: the suppressed ones added next are no records of their own.
    records = set(stored)
    add_suppressed(c, portal_id, emails, stored)
    subs = {e: stored.get(e) or Subscriber(e) for e in emails}
    if keys is None:
        outcome: Outcome[Any] = plan(subs)
        save(c, portal_id, subs, outcome, heads, records)
        return outcome
    erased: dict[bytes, int] = {}
    for key in keys:
        row = one(c, SQL_SUPPRESSION, (portal_id, key))
        if row is not None:
            erased[key] = row[0]
            if row[1] is not None:
                heads[erasure.label(key)] = row[1]
    outcome = plan(subs, erased)
    save(c, portal_id, subs, outcome, heads, records)
    c.executemany(
        SQL_KEEP_SUPPRESSION,
        [(portal_id, key, at, heads.get(erasure.label(key)))
         for key, at in outcome.suppressions.items()],
    )  # fmt: skip
    return outcome


# --- export -------------------------------------------------------------------------------------


def _subscribers_page(c: Conn, portal_id: int, after_email: str, limit: int) -> list[Subscriber]:
    rows = c.execute(
        "SELECT email, created_at, state FROM subscribers WHERE portal_id = ? AND email > ? "
        "ORDER BY email LIMIT ?",
        (portal_id, after_email, limit),
    )
    out = []
    for email, created_at, state in rows:
        types, wide, bounce = codec.decode(state)
        out.append(Subscriber(email, created_at, types, wide, bounce=bounce))
    return out
