"""SQL text and row decoding of the PostgreSQL extensions (`postgres_ext`): ledger queries,
erasure, export, import jobs and webhooks. Claims use `FOR UPDATE SKIP LOCKED`, so any
number of processes can run workers against one database."""

from __future__ import annotations

from typing import Any

from commpref.domain.imports import ImportJob, ImportStatus, ReportRow
from commpref.domain.webhooks import Delivery, DeliveryState, EventFilter, Webhook

# --- subscribers ---------------------------------------------------------------------------

PORTAL_SECRET = "SELECT secret FROM portals WHERE id = $1"
SUPPRESSED = """
SELECT subject_key, erased_at FROM suppressions
WHERE portal_id = $1 AND subject_key = ANY($2::bytea[])
"""
# An import chunk decides on the stored erasure time, so it holds the rows until it commits.
SUPPRESSED_FOR_UPDATE = SUPPRESSED + "ORDER BY subject_key FOR UPDATE"
SUPPRESSIONS_PAGE = """
SELECT subject_key, erased_at FROM suppressions
WHERE portal_id = $1 AND subject_key > $2 ORDER BY subject_key LIMIT $3
"""
SCOPE_OF_SUPPRESSED = """
SELECT ARRAY(SELECT id FROM definitions WHERE portal_id = $1 AND is_active ORDER BY id),
       ARRAY(SELECT id FROM business_units WHERE portal_id = $1 ORDER BY id)
"""
SUBSCRIBERS_PAGE = """
SELECT email, created_at, state FROM subscribers
WHERE portal_id = $1 AND email > $2 AND created_at >= 0 ORDER BY email LIMIT $3
"""

# --- the ledger ----------------------------------------------------------------------------

EVENT_COLUMNS = "id, email, at, source, actor, correlation_id, changes"
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


# --- erasure -------------------------------------------------------------------------------

DELETE_SUBSCRIBER = """
DELETE FROM subscribers WHERE portal_id = $1 AND email = $2 RETURNING created_at >= 0
"""
SUPPRESS = """
INSERT INTO suppressions (portal_id, subject_key, erased_at) VALUES ($1, $2, $3)
ON CONFLICT (portal_id, subject_key)
DO UPDATE SET erased_at = greatest(suppressions.erased_at, EXCLUDED.erased_at)
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

# --- import jobs ---------------------------------------------------------------------------

JOB_COLUMNS = """id, portal_id, status, format, file_name, sha256, allow_resubscribe, actor,
    correlation_id, total_rows, processed_rows, applied_rows, unchanged_rows, skipped_rows,
    rejected_rows, chunks, chunks_done, lease_owner, lease_until, error, created_at,
    started_at, finished_at"""
OPEN = ["PENDING", "PROCESSING", "UPLOADING"]

CREATE_IMPORT = f"""
INSERT INTO import_jobs (portal_id, status, format, file_name, sha256, allow_resubscribe,
    actor, correlation_id, created_at, updated_at)
VALUES ($1, 'UPLOADING', $2, $3, $4, $5, $6, $7, $8, $8)
RETURNING {JOB_COLUMNS}
"""
GET_IMPORT = f"SELECT {JOB_COLUMNS} FROM import_jobs WHERE id = $1"
FIND_IMPORT = f"""
SELECT {JOB_COLUMNS} FROM import_jobs
WHERE portal_id = $1 AND sha256 = $2 AND allow_resubscribe = $3 AND status = ANY($4::text[])
ORDER BY id DESC LIMIT 1
"""
LIST_IMPORTS = f"""
SELECT {JOB_COLUMNS} FROM import_jobs WHERE portal_id = $1 ORDER BY id DESC LIMIT $2
"""
RESTART_UPLOAD = """
UPDATE import_jobs SET status = 'UPLOADING', total_rows = 0, processed_rows = 0,
    applied_rows = 0, unchanged_rows = 0, skipped_rows = 0, rejected_rows = 0, chunks = 0,
    chunks_done = 0, lease_owner = NULL, lease_until = NULL, updated_at = $2
WHERE id = $1
"""
ADD_CHUNK = """
INSERT INTO import_chunks (job_id, seq, first_line, row_count, data) VALUES ($1, $2, $3, $4, $5)
"""
ADD_REPORT = """
INSERT INTO import_report (job_id, line, email, kind, reason)
SELECT $1, l, e, k, r FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS u(l, e, k, r)
ON CONFLICT (job_id, line) DO NOTHING
"""
FINISH_UPLOAD = f"""
UPDATE import_jobs SET
    status = CASE WHEN $5::text IS NULL THEN 'PENDING' ELSE 'PROCESSING' END,
    lease_owner = $5, lease_until = $6,
    started_at = CASE WHEN $5::text IS NULL THEN NULL ELSE $7::bigint END,
    total_rows = $2, rejected_rows = $3, chunks = $4, updated_at = $7
WHERE id = $1 AND status = 'UPLOADING'
RETURNING {JOB_COLUMNS}
"""
CANCEL_IMPORT = f"""
UPDATE import_jobs SET status = 'CANCELED', finished_at = $2, updated_at = $2,
    lease_owner = NULL, lease_until = NULL
WHERE id = $1 AND status = ANY($3::text[])
RETURNING {JOB_COLUMNS}
"""
CLAIM_IMPORT = f"""
UPDATE import_jobs SET status = 'PROCESSING', lease_owner = $1, lease_until = $2,
    started_at = coalesce(started_at, $3), updated_at = $3, attempts = attempts + 1
WHERE id = (
    SELECT id FROM import_jobs
    WHERE (status = 'PENDING' OR (status = 'PROCESSING'
            AND (lease_until < $3 OR lease_owner = ANY($4::text[]))))
        AND ($5::bigint IS NULL OR id = $5)
    ORDER BY id LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING {JOB_COLUMNS}
"""
IMPORT_CHUNKS = """
SELECT seq, first_line, row_count, data FROM import_chunks
WHERE job_id = $1 AND seq > $2 AND NOT done ORDER BY seq LIMIT $3
"""
LOCK_JOB = "SELECT status, lease_owner FROM import_jobs WHERE id = $1 FOR UPDATE"
CHUNK_DONE = "SELECT done FROM import_chunks WHERE job_id = $1 AND seq = $2"
MARK_CHUNK = "UPDATE import_chunks SET done = TRUE, data = NULL WHERE job_id = $1 AND seq = $2"
COUNT_CHUNK = """
UPDATE import_jobs SET processed_rows = processed_rows + $2, applied_rows = applied_rows + $3,
    unchanged_rows = unchanged_rows + $4, skipped_rows = skipped_rows + $5,
    chunks_done = chunks_done + 1, lease_until = $6, updated_at = $7
WHERE id = $1
"""
FINISH_IMPORT = f"""
UPDATE import_jobs SET status = $3, error = $4, finished_at = $5, updated_at = $5,
    lease_owner = NULL, lease_until = NULL
WHERE id = $1 AND status = 'PROCESSING' AND lease_owner = $2
RETURNING {JOB_COLUMNS}
"""
IMPORT_REPORT = """
SELECT line, email, kind, reason FROM import_report
WHERE job_id = $1 AND line > $2 ORDER BY line LIMIT $3
"""

# --- webhooks ------------------------------------------------------------------------------

WEBHOOK_COLUMNS = """w.id, w.portal_id, w.url, w.secret, w.event_filter, w.active,
    w.created_at, w.updated_at"""
WEBHOOK_FIELDS = frozenset({"url", "secret", "event_filter", "active"})
CREATE_WEBHOOK = f"""
INSERT INTO webhooks AS w (portal_id, url, secret, event_filter, active, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)
RETURNING {WEBHOOK_COLUMNS}
"""
GET_WEBHOOK = f"SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.portal_id = $1 AND w.id = $2"
LIST_WEBHOOKS = f"SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.portal_id = $1 ORDER BY w.id"
DELETE_WEBHOOK = "DELETE FROM webhooks WHERE portal_id = $1 AND id = $2 RETURNING id"


def update_webhook_sql(names: list[str]) -> str:
    """Names come from `WEBHOOK_FIELDS` only, never from input."""
    sets = "".join(f", {n} = ${i}" for i, n in enumerate(names, start=4))
    return (
        f"UPDATE webhooks AS w SET updated_at = $3{sets} WHERE w.portal_id = $1 AND w.id = $2 "
        f"RETURNING {WEBHOOK_COLUMNS}"
    )


DELIVERY_COLUMNS = """d.id, d.webhook_id, d.portal_id, d.event_id, coalesce(e.email, d.email),
    d.state, d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error,
    d.created_at, d.delivered_at"""
DELIVERIES = f"""
SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d LEFT JOIN events e ON e.id = d.event_id
WHERE d.webhook_id = $1 AND d.portal_id = $2 AND d.id > $3
    AND ($4::text IS NULL OR d.state = $4)
ORDER BY d.id LIMIT $5
"""
REPLAY = """
INSERT INTO webhook_deliveries (webhook_id, portal_id, event_id, email, state,
    next_attempt_at, created_at)
SELECT $2, portal_id, id, email, 'PENDING', 0, $4 FROM events
WHERE portal_id = $1 AND id >= $3
    AND EXISTS (SELECT 1 FROM webhooks WHERE id = $2 AND portal_id = $1)
ORDER BY id
"""
RETRY = """
UPDATE webhook_deliveries d SET state = 'PENDING', attempts = 0, next_attempt_at = $4,
    lease_until = 0, created_at = $4, delivered_at = NULL,
    email = coalesce((SELECT e.email FROM events e WHERE e.id = d.event_id), d.email)
WHERE d.webhook_id = $1 AND d.portal_id = $2 AND d.id = ANY($3::bigint[])
"""
# Due deliveries of active webhooks, never one with an older PENDING delivery (by ledger
# id, then delivery id) of the same webhook and subscriber: per subscriber, ledger order.
CLAIM_DELIVERIES = """
WITH due AS (
    SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
    WHERE d.state = 'PENDING' AND d.next_attempt_at <= $1 AND d.lease_until <= $1
        AND w.active
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
            WHERE p.webhook_id = d.webhook_id AND p.email = d.email AND p.state = 'PENDING'
                AND (p.event_id < d.event_id OR (p.event_id = d.event_id AND p.id < d.id)))
    ORDER BY d.next_attempt_at, d.id LIMIT $3
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d SET lease_until = $2 FROM due WHERE d.id = due.id
RETURNING d.id
"""
CLAIMED = f"""
SELECT {DELIVERY_COLUMNS}, {WEBHOOK_COLUMNS}, e.at, e.source, e.actor, e.correlation_id,
    e.changes
FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
JOIN events e ON e.id = d.event_id
WHERE d.id = ANY($1::bigint[]) ORDER BY d.id
"""
FINISH_DELIVERY = """
UPDATE webhook_deliveries SET state = $2, attempts = $3, next_attempt_at = $4, lease_until = 0,
    last_attempt_at = $7, last_status = $5, last_error = $6,
    delivered_at = CASE WHEN $2 = 'DELIVERED' THEN $7 ELSE delivered_at END,
    email = CASE WHEN $2 = 'PENDING' THEN email ELSE '' END
WHERE id = $1
"""
BACKLOG = "SELECT count(*) FROM webhook_deliveries WHERE state = 'PENDING'"

# --- row decoding --------------------------------------------------------------------------


def job(r: Any) -> ImportJob:
    v = tuple(r)
    return ImportJob(v[0], v[1], ImportStatus(v[2]), *v[3:])


def report_row(r: Any) -> ReportRow:
    return ReportRow(r[0], r[1], r[2], r[3])


def webhook(v: Any) -> Webhook:
    return Webhook(v[0], v[1], v[2], v[3], EventFilter.from_json(v[4]), v[5], v[6], v[7])


def delivery(v: Any) -> Delivery:
    return Delivery(v[0], v[1], v[2], v[3], v[4], DeliveryState(v[5]), *v[6:13])


def affected(status: str) -> int:
    """Rows affected, from a command status such as `UPDATE 3` or `INSERT 0 3`."""
    return int(status.rsplit(" ", 1)[-1])
