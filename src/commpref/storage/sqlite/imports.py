"""Import jobs on SQLite (`imports.ImportStore`).

Every write runs on the store's single writer thread, so a claim (select, then update) is
atomic across threads, and across processes through BEGIN IMMEDIATE. A chunk is applied as
`mutate` applies a plan (`subscribers.apply`), in the transaction that marks it done.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from commpref.domain.imports import ImportJob, ImportStatus, ImportTally, ReportRow
from commpref.storage.imports import ImportChunk, ImportPlan
from commpref.storage.sqlite.connection import SqliteConnections
from commpref.storage.sqlite.subscribers import apply
from commpref.storage.sqlite.transactions import one
from commpref.storage.subscribers import Outcome

Conn = sqlite3.Connection

_JOB = (
    "id, portal_id, status, format, file_name, sha256, allow_resubscribe, actor, "
    "correlation_id, total_rows, processed_rows, applied_rows, unchanged_rows, skipped_rows, "
    "rejected_rows, chunks, chunks_done, lease_owner, lease_until, error, created_at, "
    "started_at, finished_at"
)
_OPEN = ("PENDING", "PROCESSING", "UPLOADING")


class SqliteImports(SqliteConnections):
    async def create_import(
        self,
        *,
        portal_id: int,
        format: str,
        file_name: str,
        sha256: str,
        allow_resubscribe: bool,
        actor: str,
        correlation_id: str,
        now: int,
    ) -> ImportJob:
        values = {"portal_id": portal_id, "format": format, "file_name": file_name,
                  "sha256": sha256, "allow_resubscribe": allow_resubscribe, "actor": actor,
                  "correlation_id": correlation_id, "now": now}  # fmt: skip
        return await self._write(lambda c: _create_import(c, values))

    async def find_import(
        self, *, portal_id: int, sha256: str, allow_resubscribe: bool
    ) -> ImportJob | None:
        return await self._read(lambda c: _find_import(c, portal_id, sha256, allow_resubscribe))

    async def restart_upload(self, job_id: int, *, now: int) -> None:
        await self._write(lambda c: _restart_upload(c, job_id, now))

    async def add_import_chunk(
        self, job_id: int, chunk: ImportChunk, rejects: Sequence[ReportRow]
    ) -> None:
        await self._write(lambda c: _add_chunk(c, job_id, chunk, rejects))

    async def finish_upload(
        self,
        job_id: int,
        *,
        total_rows: int,
        rejected_rows: int,
        chunks: int,
        now: int,
        owner: str | None = None,
        lease_until: int | None = None,
    ) -> ImportJob:
        values = {"total_rows": total_rows, "rejected_rows": rejected_rows, "chunks": chunks,
                  "now": now, "owner": owner, "lease_until": lease_until}  # fmt: skip
        return await self._write(lambda c: _finish_upload(c, job_id, values))

    async def get_import(self, job_id: int) -> ImportJob | None:
        return await self._read(lambda c: _get_job(c, job_id))

    async def list_imports(self, portal_id: int, *, limit: int = 100) -> list[ImportJob]:
        return await self._read(lambda c: _list_imports(c, portal_id, limit))

    async def cancel_import(self, job_id: int, *, now: int) -> ImportJob | None:
        return await self._write(lambda c: _cancel_import(c, job_id, now))

    async def claim_import(
        self,
        *,
        owner: str,
        now: int,
        lease_until: int,
        job_id: int | None = None,
        steal_from: Sequence[str] = (),
    ) -> ImportJob | None:
        return await self._write(
            lambda c: _claim_import(c, owner, now, lease_until, job_id, steal_from)
        )

    async def import_chunks(
        self, job_id: int, *, after_seq: int = -1, limit: int = 10
    ) -> list[ImportChunk]:
        return await self._read(lambda c: _import_chunks(c, job_id, after_seq, limit))

    async def apply_import_chunk(
        self,
        job_id: int,
        seq: int,
        *,
        owner: str,
        portal_id: int,
        emails: Sequence[str],
        keys: Sequence[bytes],
        plan: ImportPlan,
        lease_until: int,
        now: int,
    ) -> ImportTally | None:
        outcome = await self._write(
            lambda c: _apply_chunk(
                c, job_id, seq, owner, portal_id, emails, keys, plan, lease_until, now
            )
        )
        if outcome is None:
            return None
        self._committed(outcome)
        return outcome.value

    async def finish_import(
        self, job_id: int, *, owner: str, status: ImportStatus, error: str | None, now: int
    ) -> ImportJob | None:
        return await self._write(lambda c: _finish_import(c, job_id, owner, status, error, now))

    async def import_report(
        self, job_id: int, *, after_line: int = 0, limit: int = 1000
    ) -> list[ReportRow]:
        return await self._read(lambda c: _import_report(c, job_id, after_line, limit))


# --- statements ----------------------------------------------------------------------------


def _job(r: Sequence[Any]) -> ImportJob:
    return ImportJob(r[0], r[1], ImportStatus(r[2]), r[3], r[4], r[5], bool(r[6]), *r[7:])


def _get_job(c: Conn, job_id: int) -> ImportJob | None:
    row = one(c, f"SELECT {_JOB} FROM import_jobs WHERE id = ?", (job_id,))
    return None if row is None else _job(row)


def _create_import(c: Conn, values: dict[str, Any]) -> ImportJob:
    job_id = c.execute(
        "INSERT INTO import_jobs (portal_id, status, format, file_name, sha256, "
        "allow_resubscribe, actor, correlation_id, created_at, updated_at) "
        "VALUES (:portal_id, 'UPLOADING', :format, :file_name, :sha256, :allow_resubscribe, "
        ":actor, :correlation_id, :now, :now)",
        values,
    ).lastrowid
    assert job_id is not None
    found = _get_job(c, job_id)
    assert found is not None
    return found


def _find_import(c: Conn, portal_id: int, sha256: str, allow_resubscribe: bool) -> ImportJob | None:
    row = one(
        c,
        f"SELECT {_JOB} FROM import_jobs WHERE portal_id = ? AND sha256 = ? "
        "AND allow_resubscribe = ? AND status IN (?, ?, ?) ORDER BY id DESC LIMIT 1",
        (portal_id, sha256, allow_resubscribe, *_OPEN),
    )
    return None if row is None else _job(row)


def _restart_upload(c: Conn, job_id: int, now: int) -> None:
    c.execute("DELETE FROM import_chunks WHERE job_id = ?", (job_id,))
    c.execute("DELETE FROM import_report WHERE job_id = ?", (job_id,))
    c.execute(
        "UPDATE import_jobs SET status = 'UPLOADING', total_rows = 0, processed_rows = 0, "
        "applied_rows = 0, unchanged_rows = 0, skipped_rows = 0, rejected_rows = 0, "
        "chunks = 0, chunks_done = 0, lease_owner = NULL, lease_until = NULL, updated_at = ? "
        "WHERE id = ?",
        (now, job_id),
    )


def _add_report(c: Conn, job_id: int, rows: Sequence[ReportRow]) -> None:
    c.executemany(
        "INSERT INTO import_report (job_id, line, email, kind, reason) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (job_id, line) DO NOTHING",
        [(job_id, r.line, r.email, r.kind, r.reason) for r in rows],
    )


def _add_chunk(c: Conn, job_id: int, chunk: ImportChunk, rejects: Sequence[ReportRow]) -> None:
    c.execute(
        "INSERT INTO import_chunks (job_id, seq, first_line, row_count, data) "
        "VALUES (?, ?, ?, ?, ?)",
        (job_id, chunk.seq, chunk.first_line, chunk.rows, chunk.data),
    )
    _add_report(c, job_id, rejects)


def _finish_upload(c: Conn, job_id: int, values: dict[str, Any]) -> ImportJob:
    c.execute(
        "UPDATE import_jobs SET status = CASE WHEN :owner IS NULL THEN 'PENDING' "
        "ELSE 'PROCESSING' END, lease_owner = :owner, lease_until = :lease_until, "
        "started_at = CASE WHEN :owner IS NULL THEN NULL ELSE :now END, "
        "total_rows = :total_rows, rejected_rows = :rejected_rows, chunks = :chunks, "
        "updated_at = :now WHERE id = :id AND status = 'UPLOADING'",
        {**values, "id": job_id},
    )
    found = _get_job(c, job_id)
    if found is None:
        raise LookupError(f"import job {job_id} does not exist")
    return found


def _list_imports(c: Conn, portal_id: int, limit: int) -> list[ImportJob]:
    sql = f"SELECT {_JOB} FROM import_jobs WHERE portal_id = ? ORDER BY id DESC LIMIT ?"
    return [_job(r) for r in c.execute(sql, (portal_id, limit))]


def _cancel_import(c: Conn, job_id: int, now: int) -> ImportJob | None:
    c.execute(
        "UPDATE import_jobs SET status = 'CANCELED', finished_at = ?, updated_at = ?, "
        "lease_owner = NULL, lease_until = NULL WHERE id = ? AND status IN (?, ?, ?)",
        (now, now, job_id, *_OPEN),
    )
    return _get_job(c, job_id)


def _claim_import(
    c: Conn,
    owner: str,
    now: int,
    lease_until: int,
    job_id: int | None,
    steal_from: Sequence[str],
) -> ImportJob | None:
    stolen = f" OR lease_owner IN ({', '.join('?' * len(steal_from))})" if steal_from else ""
    only = " AND id = ?" if job_id is not None else ""
    row = one(
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
    return _get_job(c, row[0])


def _import_chunks(c: Conn, job_id: int, after_seq: int, limit: int) -> list[ImportChunk]:
    rows = c.execute(
        "SELECT seq, first_line, row_count, data FROM import_chunks "
        "WHERE job_id = ? AND seq > ? AND done = 0 ORDER BY seq LIMIT ?",
        (job_id, after_seq, limit),
    )
    return [ImportChunk(r[0], r[1], r[2], bytes(r[3])) for r in rows]


def _apply_chunk(
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
    state = one(c, "SELECT status, lease_owner FROM import_jobs WHERE id = ?", (job_id,))
    if state is None or state[0] != ImportStatus.PROCESSING or state[1] != owner:
        return None
    done = one(c, "SELECT done FROM import_chunks WHERE job_id = ? AND seq = ?", (job_id, seq))
    if done is None or done[0]:
        return None
    outcome: Outcome[ImportTally] = apply(c, portal_id, emails, plan, keys)
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
    _add_report(c, job_id, tally.report)
    return outcome


def _finish_import(
    c: Conn, job_id: int, owner: str, status: ImportStatus, error: str | None, now: int
) -> ImportJob | None:
    updated = c.execute(
        "UPDATE import_jobs SET status = ?, error = ?, finished_at = ?, updated_at = ?, "
        "lease_owner = NULL, lease_until = NULL "
        "WHERE id = ? AND status = 'PROCESSING' AND lease_owner = ?",
        (status.value, error, now, now, job_id, owner),
    ).rowcount
    return _get_job(c, job_id) if updated else None


def _import_report(c: Conn, job_id: int, after_line: int, limit: int) -> list[ReportRow]:
    rows = c.execute(
        "SELECT line, email, kind, reason FROM import_report WHERE job_id = ? AND line > ? "
        "ORDER BY line LIMIT ?",
        (job_id, after_line, limit),
    )
    return [ReportRow(*r) for r in rows]
