"""SQLite statements of import jobs and webhooks (`base_jobs.JobStore`).

Every write runs on the store's single writer thread, so a claim (select, then update) is
atomic across threads, and across processes through BEGIN IMMEDIATE.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from commpref.domain.imports import ImportJob, ImportStatus, ImportTally, ReportRow
from commpref.domain.webhooks import Delivery, DeliveryState, EventFilter, Webhook
from commpref.storage import sqlite_ext_sql as ext
from commpref.storage import sqlite_sql as core
from commpref.storage.base import Outcome
from commpref.storage.base_jobs import ClaimedDelivery, ImportChunk

Conn = sqlite3.Connection

_JOB = (
    "id, portal_id, status, format, file_name, sha256, allow_resubscribe, actor, "
    "correlation_id, total_rows, processed_rows, applied_rows, unchanged_rows, skipped_rows, "
    "rejected_rows, chunks, chunks_done, lease_owner, lease_until, error, created_at, "
    "started_at, finished_at"
)
_WEBHOOK = (
    "w.id, w.portal_id, w.url, w.secret, w.event_filter, w.active, w.created_at, w.updated_at"
)
_DELIVERY = (
    "d.id, d.webhook_id, d.portal_id, d.event_id, coalesce(e.email, d.email), d.state, "
    "d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error, "
    "d.created_at, d.delivered_at"
)
_OPEN = ("PENDING", "PROCESSING", "UPLOADING")
WEBHOOK_FIELDS = frozenset({"url", "secret", "event_filter", "active"})


def job(r: Sequence[Any]) -> ImportJob:
    return ImportJob(r[0], r[1], ImportStatus(r[2]), r[3], r[4], r[5], bool(r[6]), *r[7:])


def webhook(r: Sequence[Any]) -> Webhook:
    return Webhook(r[0], r[1], r[2], r[3], EventFilter.from_json(r[4]), bool(r[5]), r[6], r[7])


def delivery(r: Sequence[Any]) -> Delivery:
    return Delivery(r[0], r[1], r[2], r[3], r[4], DeliveryState(r[5]), *r[6:13])


def get_job(c: Conn, job_id: int) -> ImportJob | None:
    row = core.one(c, f"SELECT {_JOB} FROM import_jobs WHERE id = ?", (job_id,))
    return None if row is None else job(row)


# --- import jobs -------------------------------------------------------------------------------


def create_import(c: Conn, values: dict[str, Any]) -> ImportJob:
    job_id = c.execute(
        "INSERT INTO import_jobs (portal_id, status, format, file_name, sha256, "
        "allow_resubscribe, actor, correlation_id, created_at, updated_at) "
        "VALUES (:portal_id, 'UPLOADING', :format, :file_name, :sha256, :allow_resubscribe, "
        ":actor, :correlation_id, :now, :now)",
        values,
    ).lastrowid
    assert job_id is not None
    found = get_job(c, job_id)
    assert found is not None
    return found


def find_import(c: Conn, portal_id: int, sha256: str, allow_resubscribe: bool) -> ImportJob | None:
    row = core.one(
        c,
        f"SELECT {_JOB} FROM import_jobs WHERE portal_id = ? AND sha256 = ? "
        "AND allow_resubscribe = ? AND status IN (?, ?, ?) ORDER BY id DESC LIMIT 1",
        (portal_id, sha256, allow_resubscribe, *_OPEN),
    )
    return None if row is None else job(row)


def restart_upload(c: Conn, job_id: int, now: int) -> None:
    c.execute("DELETE FROM import_chunks WHERE job_id = ?", (job_id,))
    c.execute("DELETE FROM import_report WHERE job_id = ?", (job_id,))
    c.execute(
        "UPDATE import_jobs SET status = 'UPLOADING', total_rows = 0, processed_rows = 0, "
        "applied_rows = 0, unchanged_rows = 0, skipped_rows = 0, rejected_rows = 0, "
        "chunks = 0, chunks_done = 0, lease_owner = NULL, lease_until = NULL, updated_at = ? "
        "WHERE id = ?",
        (now, job_id),
    )


def add_report(c: Conn, job_id: int, rows: Sequence[ReportRow]) -> None:
    c.executemany(
        "INSERT INTO import_report (job_id, line, email, kind, reason) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (job_id, line) DO NOTHING",
        [(job_id, r.line, r.email, r.kind, r.reason) for r in rows],
    )


def add_chunk(c: Conn, job_id: int, chunk: ImportChunk, rejects: Sequence[ReportRow]) -> None:
    c.execute(
        "INSERT INTO import_chunks (job_id, seq, first_line, row_count, data) "
        "VALUES (?, ?, ?, ?, ?)",
        (job_id, chunk.seq, chunk.first_line, chunk.rows, chunk.data),
    )
    add_report(c, job_id, rejects)


def finish_upload(c: Conn, job_id: int, values: dict[str, Any]) -> ImportJob:
    c.execute(
        "UPDATE import_jobs SET status = CASE WHEN :owner IS NULL THEN 'PENDING' "
        "ELSE 'PROCESSING' END, lease_owner = :owner, lease_until = :lease_until, "
        "started_at = CASE WHEN :owner IS NULL THEN NULL ELSE :now END, "
        "total_rows = :total_rows, rejected_rows = :rejected_rows, chunks = :chunks, "
        "updated_at = :now WHERE id = :id AND status = 'UPLOADING'",
        {**values, "id": job_id},
    )
    found = get_job(c, job_id)
    if found is None:
        raise LookupError(f"import job {job_id} does not exist")
    return found


def list_imports(c: Conn, portal_id: int, limit: int) -> list[ImportJob]:
    sql = f"SELECT {_JOB} FROM import_jobs WHERE portal_id = ? ORDER BY id DESC LIMIT ?"
    return [job(r) for r in c.execute(sql, (portal_id, limit))]


def cancel_import(c: Conn, job_id: int, now: int) -> ImportJob | None:
    c.execute(
        "UPDATE import_jobs SET status = 'CANCELED', finished_at = ?, updated_at = ?, "
        "lease_owner = NULL, lease_until = NULL WHERE id = ? AND status IN (?, ?, ?)",
        (now, now, job_id, *_OPEN),
    )
    return get_job(c, job_id)


def claim_import(
    c: Conn,
    owner: str,
    now: int,
    lease_until: int,
    job_id: int | None,
    steal_from: Sequence[str],
) -> ImportJob | None:
    stolen = f" OR lease_owner IN ({', '.join('?' * len(steal_from))})" if steal_from else ""
    only = " AND id = ?" if job_id is not None else ""
    row = core.one(
        c,
        "SELECT id FROM import_jobs WHERE (status = 'PENDING' OR (status = 'PROCESSING' AND "
        f"(lease_until < ?{stolen}))){only} ORDER BY id LIMIT 1",
        (now, *steal_from, *([job_id] if job_id is not None else [])),
    )
    if row is None:
        return None
    c.execute(
        "UPDATE import_jobs SET status = 'PROCESSING', lease_owner = ?, lease_until = ?, "
        "started_at = coalesce(started_at, ?), updated_at = ?, attempts = attempts + 1 "
        "WHERE id = ?",
        (owner, lease_until, now, now, row[0]),
    )
    return get_job(c, row[0])


def import_chunks(c: Conn, job_id: int, after_seq: int, limit: int) -> list[ImportChunk]:
    rows = c.execute(
        "SELECT seq, first_line, row_count, data FROM import_chunks "
        "WHERE job_id = ? AND seq > ? AND done = 0 ORDER BY seq LIMIT ?",
        (job_id, after_seq, limit),
    )
    return [ImportChunk(r[0], r[1], r[2], bytes(r[3])) for r in rows]


def apply_chunk(
    c: Conn,
    job_id: int,
    seq: int,
    owner: str,
    portal_id: int,
    emails: Sequence[str],
    keys: Sequence[bytes],
    plan: Any,
    lease_until: int,
    now: int,
) -> Outcome[ImportTally] | None:
    state = core.one(c, "SELECT status, lease_owner FROM import_jobs WHERE id = ?", (job_id,))
    if state is None or state[0] != ImportStatus.PROCESSING or state[1] != owner:
        return None
    done = core.one(c, "SELECT done FROM import_chunks WHERE job_id = ? AND seq = ?", (job_id, seq))
    if done is None or done[0]:
        return None
    outcome: Outcome[ImportTally] = ext.apply(c, portal_id, emails, plan, keys)
    tally = outcome.value
    c.execute(
        "UPDATE import_chunks SET done = 1, data = NULL WHERE job_id = ? AND seq = ?",
        (job_id, seq),
    )
    c.execute(
        "UPDATE import_jobs SET processed_rows = processed_rows + ?, "
        "applied_rows = applied_rows + ?, unchanged_rows = unchanged_rows + ?, "
        "skipped_rows = skipped_rows + ?, chunks_done = chunks_done + 1, lease_until = ?, "
        "updated_at = ? WHERE id = ?",
        (tally.processed, tally.applied, tally.unchanged, tally.skipped, lease_until, now, job_id),
    )
    add_report(c, job_id, tally.report)
    return outcome


def finish_import(
    c: Conn, job_id: int, owner: str, status: ImportStatus, error: str | None, now: int
) -> ImportJob | None:
    updated = c.execute(
        "UPDATE import_jobs SET status = ?, error = ?, finished_at = ?, updated_at = ?, "
        "lease_owner = NULL, lease_until = NULL "
        "WHERE id = ? AND status = 'PROCESSING' AND lease_owner = ?",
        (status.value, error, now, now, job_id, owner),
    ).rowcount
    return get_job(c, job_id) if updated else None


def import_report(c: Conn, job_id: int, after_line: int, limit: int) -> list[ReportRow]:
    rows = c.execute(
        "SELECT line, email, kind, reason FROM import_report WHERE job_id = ? AND line > ? "
        "ORDER BY line LIMIT ?",
        (job_id, after_line, limit),
    )
    return [ReportRow(*r) for r in rows]


# --- webhooks ---------------------------------------------------------------------------------


def get_webhook(c: Conn, portal_id: int, webhook_id: int) -> Webhook | None:
    row = core.one(
        c, f"SELECT {_WEBHOOK} FROM webhooks w WHERE w.portal_id = ? AND w.id = ?",
        (portal_id, webhook_id),
    )  # fmt: skip
    return None if row is None else webhook(row)


def create_webhook(c: Conn, values: dict[str, Any]) -> Webhook:
    webhook_id = c.execute(
        "INSERT INTO webhooks (portal_id, url, secret, event_filter, active, created_at, "
        "updated_at) VALUES (:portal_id, :url, :secret, :event_filter, :active, :now, :now)",
        values,
    ).lastrowid
    assert webhook_id is not None
    found = get_webhook(c, values["portal_id"], webhook_id)
    assert found is not None
    return found


def list_webhooks(c: Conn, portal_id: int) -> list[Webhook]:
    sql = f"SELECT {_WEBHOOK} FROM webhooks w WHERE w.portal_id = ? ORDER BY w.id"
    return [webhook(r) for r in c.execute(sql, (portal_id,))]


def update_webhook(
    c: Conn, portal_id: int, webhook_id: int, now: int, fields: dict[str, object]
) -> Webhook | None:
    values = {k: v.to_json() if isinstance(v, EventFilter) else v for k, v in fields.items()}
    sets = "".join(f", {k} = ?" for k in values)  # names come from WEBHOOK_FIELDS only
    c.execute(
        f"UPDATE webhooks SET updated_at = ?{sets} WHERE portal_id = ? AND id = ?",
        (now, *values.values(), portal_id, webhook_id),
    )
    return get_webhook(c, portal_id, webhook_id)


def delete_webhook(c: Conn, portal_id: int, webhook_id: int) -> bool:
    sql = "DELETE FROM webhooks WHERE portal_id = ? AND id = ?"
    return c.execute(sql, (portal_id, webhook_id)).rowcount == 1


def deliveries(
    c: Conn,
    portal_id: int,
    webhook_id: int,
    state: DeliveryState | None,
    after_id: int,
    limit: int,
) -> list[Delivery]:
    only = " AND d.state = ?" if state is not None else ""
    sql = (
        f"SELECT {_DELIVERY} FROM webhook_deliveries d LEFT JOIN events e ON e.id = d.event_id "
        f"WHERE d.webhook_id = ? AND d.portal_id = ? AND d.id > ?{only} ORDER BY d.id LIMIT ?"
    )
    args = (webhook_id, portal_id, after_id, *([state.value] if state else []), limit)
    return [delivery(r) for r in c.execute(sql, args)]


def replay(c: Conn, portal_id: int, webhook_id: int, from_event_id: int, now: int) -> int:
    if get_webhook(c, portal_id, webhook_id) is None:
        return 0
    return c.execute(
        "INSERT INTO webhook_deliveries (webhook_id, portal_id, event_id, email, state, "
        "next_attempt_at, created_at) SELECT ?, portal_id, id, email, 'PENDING', 0, ? "
        "FROM events WHERE +portal_id = ? AND id >= ? ORDER BY id",
        (webhook_id, now, portal_id, from_event_id),
    ).rowcount


def retry(c: Conn, portal_id: int, webhook_id: int, ids: Sequence[int], now: int) -> int:
    if not ids:
        return 0
    return c.execute(
        "UPDATE webhook_deliveries SET state = 'PENDING', attempts = 0, next_attempt_at = ?, "
        "lease_until = 0, created_at = ?, delivered_at = NULL, "
        "email = coalesce((SELECT e.email FROM events e WHERE e.id = event_id), email) "
        f"WHERE webhook_id = ? AND portal_id = ? AND id IN ({', '.join('?' * len(ids))})",
        (now, now, webhook_id, portal_id, *ids),
    ).rowcount


# Due deliveries of active webhooks, never one with an older PENDING delivery (by ledger
# id, then delivery id) of the same webhook and subscriber: per subscriber, ledger order.
SQL_DUE = (
    "SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
    "WHERE d.state = 'PENDING' AND d.next_attempt_at <= ? AND d.lease_until <= ? "
    "AND w.active = 1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p "
    "WHERE p.webhook_id = d.webhook_id AND p.email = d.email AND p.state = 'PENDING' "
    "AND (p.event_id < d.event_id OR (p.event_id = d.event_id AND p.id < d.id))) "
    "ORDER BY d.next_attempt_at, d.id LIMIT ?"
)


def claim_deliveries(c: Conn, now: int, lease_until: int, limit: int) -> list[ClaimedDelivery]:
    ids = [r[0] for r in c.execute(SQL_DUE, (now, now, limit))]
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    c.execute(
        f"UPDATE webhook_deliveries SET lease_until = ? WHERE id IN ({marks})", (lease_until, *ids)
    )
    rows = c.execute(
        f"SELECT {_DELIVERY}, {_WEBHOOK} FROM webhook_deliveries d "
        "JOIN webhooks w ON w.id = d.webhook_id LEFT JOIN events e ON e.id = d.event_id "
        f"WHERE d.id IN ({marks}) ORDER BY d.id",
        ids,
    ).fetchall()
    out = []
    for r in rows:
        d, w = delivery(r[:13]), webhook(r[13:])
        entries = ext.ledger_entries(c, d.portal_id, [d.event_id])
        if entries:
            out.append(ClaimedDelivery(d, w, entries[0]))
    return out


def finish_delivery(
    c: Conn,
    delivery_id: int,
    state: DeliveryState,
    attempts: int,
    next_attempt_at: int,
    status_code: int | None,
    error: str | None,
    now: int,
) -> None:
    # Finished deliveries drop the address: only PENDING ones need it (for ordering).
    c.execute(
        "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, "
        "lease_until = 0, last_attempt_at = ?, last_status = ?, last_error = ?, "
        "delivered_at = CASE WHEN ? = 'DELIVERED' THEN ? ELSE delivered_at END, "
        "email = CASE WHEN ? = 'PENDING' THEN email ELSE '' END WHERE id = ?",
        (state.value, attempts, next_attempt_at, now, status_code, error, state.value, now,
         state.value, delivery_id),
    )  # fmt: skip


def backlog(c: Conn) -> int:
    return int(core.one(c, "SELECT count(*) FROM webhook_deliveries WHERE state = 'PENDING'")[0])
