"""SQLite statements of the extensions: suppressions, the webhook outbox, ledger queries,
erasure and export. Plain functions over one connection, like `sqlite_sql`."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec

from commpref.domain import erasure
from commpref.domain.model import Event, Subscriber
from commpref.errors import NotFound
from commpref.storage import codec
from commpref.storage import sqlite_sql as core
from commpref.storage.base import Erasure, Outcome, StoredEvent

Conn = sqlite3.Connection

SQL_HAS_SUPPRESSIONS = "SELECT 1 FROM suppressions WHERE portal_id = ? LIMIT 1"
_SUPPRESSED = (
    "SELECT subject_key, erased_at FROM suppressions WHERE portal_id = ? AND subject_key IN"
)
_KEYS_PER_STATEMENT = 500
_SUPPRESSION = (
    "SELECT erased_at, last_event FROM suppressions WHERE portal_id = ? AND subject_key = ?"
)
_KEEP_SUPPRESSION = (
    "INSERT INTO suppressions (portal_id, subject_key, erased_at, last_event) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (portal_id, subject_key) DO UPDATE "
    "SET erased_at = max(erased_at, excluded.erased_at), last_event = excluded.last_event"
)
_LABEL_HEAD = "SELECT last_event FROM suppressions WHERE portal_id = ? AND subject_key = ?"


# --- suppressions ---------------------------------------------------------------------------


def portal_secret(c: Conn, portal_id: int) -> bytes:
    row = core.one(c, "SELECT secret FROM portals WHERE id = ?", (portal_id,))
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
    if not missing or core.one(c, SQL_HAS_SUPPRESSIONS, (portal_id,)) is None:
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
    subs = core.load_subscribers(c, portal_id, emails, heads)
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
    stored = load(c, portal_id, emails, heads)
    subs = {e: stored.get(e) or Subscriber(e) for e in emails}
    if keys is None:
        outcome: Outcome[Any] = plan(subs)
        core.save(c, portal_id, subs, outcome, heads)
        return outcome
    erased: dict[bytes, int] = {}
    for key in keys:
        row = core.one(c, _SUPPRESSION, (portal_id, key))
        if row is not None:
            erased[key] = row[0]
            if row[1] is not None:
                heads[erasure.label(key)] = row[1]
    outcome = plan(subs, erased)
    core.save(c, portal_id, subs, outcome, heads)
    c.executemany(
        _KEEP_SUPPRESSION,
        [(portal_id, key, at, heads.get(erasure.label(key)))
         for key, at in outcome.suppressions.items()],
    )  # fmt: skip
    return outcome


# --- the ledger -------------------------------------------------------------------------------


def ledger(
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
        chain, where[1] = core.CHAIN, "id IN chain"  # the chain stops at after_id
        args = [*core.chain_args(heads, after_id), portal_id]
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
        f"{chain}SELECT {core.EVENT_COLUMNS} FROM events WHERE {' AND '.join(where)} "
        "ORDER BY id LIMIT ?"
    )
    return [core.stored_event(r) for r in c.execute(sql, (*args, limit))]


def subject_heads(c: Conn, portal_id: int, subjects: Sequence[str]) -> list[int]:
    """The newest ledger entry of each subject that has one: an address's is on its
    subscriber row, an erasure label's on its suppression row."""
    heads = []
    for subject in subjects:
        if erasure.is_label(subject):
            key = erasure.key_of(subject)
            row = None if key is None else core.one(c, _LABEL_HEAD, (portal_id, key))
        else:
            row = core.one(c, core.SQL_HEAD, (portal_id, subject))
        if row is not None and row[0] is not None:
            heads.append(row[0])
    return heads


def ledger_entries(c: Conn, portal_id: int, ids: Sequence[int]) -> list[StoredEvent]:
    if not ids:
        return []
    sql = (
        f"SELECT {core.EVENT_COLUMNS} FROM events WHERE id IN (SELECT value FROM json_each(?)) "
        "AND portal_id = ? ORDER BY id"
    )
    args = (msgspec.json.encode(list(ids)).decode(), portal_id)
    return [core.stored_event(r) for r in c.execute(sql, args)]


def subject_label(c: Conn, portal_id: int, email: str) -> str:
    return erasure.label(erasure.subject_key(portal_secret(c, portal_id), email))


# --- erasure --------------------------------------------------------------------------------


def erase(
    c: Conn, portal_id: int, email: str, actor: str, correlation_id: str, source: str, now: int
) -> tuple[Erasure, Outcome[None]]:
    key = erasure.subject_key(portal_secret(c, portal_id), email)
    label = erasure.label(key)
    row = core.one(c, core.SQL_HEAD, (portal_id, email))
    own = [] if row is None or row[0] is None else [row[0]]
    ids = [r[0] for r in c.execute(f"{core.CHAIN}SELECT id FROM chain", core.chain_args(own, 0))]
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
    core.save(c, portal_id, {}, outcome, heads)
    c.execute(_KEEP_SUPPRESSION, (portal_id, key, now, heads[label]))
    return Erasure(label, row is not None, len(ids)), outcome


# --- export -------------------------------------------------------------------------------------


def suppressions_page(
    c: Conn, portal_id: int, after_key: bytes, limit: int
) -> list[tuple[bytes, int]]:
    rows = c.execute(
        "SELECT subject_key, erased_at FROM suppressions WHERE portal_id = ? AND subject_key > ? "
        "ORDER BY subject_key LIMIT ?",
        (portal_id, after_key, limit),
    )
    return [(bytes(key), erased_at) for key, erased_at in rows]


def subscribers_page(c: Conn, portal_id: int, after_email: str, limit: int) -> list[Subscriber]:
    rows = c.execute(
        "SELECT email, created_at, state FROM subscribers WHERE portal_id = ? AND email > ? "
        "ORDER BY email LIMIT ?",
        (portal_id, after_email, limit),
    )
    out = []
    for email, created_at, state in rows:
        types, wide = codec.decode(state)
        out.append(Subscriber(email, created_at, types, wide))
    return out
