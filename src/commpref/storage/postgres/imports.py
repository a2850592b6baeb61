"""Import jobs on PostgreSQL (`imports.ImportStore`).

Claims use `FOR UPDATE SKIP LOCKED`, so any number of processes can run workers against one
database. A chunk is applied as `mutate` applies a plan (`PostgresSubscribers._apply`), in
the transaction that marks it done.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from commpref.domain.imports import ImportJob, ImportStatus, ImportTally, ReportRow
from commpref.storage.imports import ImportChunk, ImportPlan
from commpref.storage.postgres.connection import retrying
from commpref.storage.postgres.subscribers import PostgresSubscribers
from commpref.storage.subscribers import Outcome

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


def _job_row(r: Any) -> ImportJob:
    v = tuple(r)
    return ImportJob(v[0], v[1], ImportStatus(v[2]), *v[3:])


def _report_row(r: Any) -> ReportRow:
    return ReportRow(r[0], r[1], r[2], r[3])


class PostgresImports(PostgresSubscribers):
    async def _job(self, statement: str, *args: Any) -> ImportJob | None:
        async with self._connection() as con:
            row = await con.fetchrow(statement, *args)
        return None if row is None else _job_row(row)

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
        job = await self._job(CREATE_IMPORT, portal_id, format, file_name, sha256,
                              allow_resubscribe, actor, correlation_id, now)  # fmt: skip
        assert job is not None
        return job

    async def find_import(
        self, *, portal_id: int, sha256: str, allow_resubscribe: bool
    ) -> ImportJob | None:
        return await self._job(FIND_IMPORT, portal_id, sha256, allow_resubscribe, OPEN)

    async def restart_upload(self, job_id: int, *, now: int) -> None:
        async with self._connection() as con, con.transaction():
            await con.execute("DELETE FROM import_chunks WHERE job_id = $1", job_id)
            await con.execute("DELETE FROM import_report WHERE job_id = $1", job_id)
            await con.execute(RESTART_UPLOAD, job_id, now)

    async def _report(self, con: Any, job_id: int, rows: Sequence[ReportRow]) -> None:
        if rows:
            await con.execute(ADD_REPORT, job_id, [r.line for r in rows],
                              [r.email for r in rows], [r.kind for r in rows],
                              [r.reason for r in rows])  # fmt: skip

    async def add_import_chunk(
        self, job_id: int, chunk: ImportChunk, rejects: Sequence[ReportRow]
    ) -> None:
        async with self._connection() as con, con.transaction():
            await con.execute(ADD_CHUNK, job_id, chunk.seq, chunk.first_line, chunk.rows,
                              chunk.data)  # fmt: skip
            await self._report(con, job_id, rejects)

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
        job = await self._job(FINISH_UPLOAD, job_id, total_rows, rejected_rows, chunks,
                              owner, lease_until, now)  # fmt: skip
        if job is None:
            job = await self.get_import(job_id)
        if job is None:
            raise LookupError(f"import job {job_id} does not exist")
        return job

    async def get_import(self, job_id: int) -> ImportJob | None:
        return await self._job(GET_IMPORT, job_id)

    async def list_imports(self, portal_id: int, *, limit: int = 100) -> list[ImportJob]:
        async with self._connection() as con:
            rows = await con.fetch(LIST_IMPORTS, portal_id, limit)
        return [_job_row(r) for r in rows]

    async def cancel_import(self, job_id: int, *, now: int) -> ImportJob | None:
        job = await self._job(CANCEL_IMPORT, job_id, now, OPEN)
        return job if job is not None else await self.get_import(job_id)

    async def claim_import(
        self,
        *,
        owner: str,
        now: int,
        lease_until: int,
        job_id: int | None = None,
        steal_from: Sequence[str] = (),
    ) -> ImportJob | None:
        return await self._job(CLAIM_IMPORT, owner, lease_until, now, list(steal_from),
                               job_id)  # fmt: skip

    async def import_chunks(
        self, job_id: int, *, after_seq: int = -1, limit: int = 10
    ) -> list[ImportChunk]:
        async with self._connection() as con:
            rows = await con.fetch(IMPORT_CHUNKS, job_id, after_seq, limit)
        return [ImportChunk(r[0], r[1], r[2], bytes(r[3])) for r in rows]

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
        addresses = list(dict.fromkeys(emails))

        async def once() -> Outcome[ImportTally] | None:
            async with self._connection() as con, con.transaction(isolation="read_committed"):
                state = await con.fetchrow(LOCK_JOB, job_id)
                if state is None or state[0] != ImportStatus.PROCESSING or state[1] != owner:
                    return None
                if await con.fetchval(CHUNK_DONE, job_id, seq) is not False:
                    return None  # done already, or no such chunk
                outcome: Outcome[ImportTally] = await self._apply(
                    con, portal_id, addresses, plan, keys
                )
                t = outcome.value
                await con.execute(MARK_CHUNK, job_id, seq)
                await con.execute(COUNT_CHUNK, job_id, t.processed, t.applied, t.unchanged,
                                  t.skipped, lease_until, now)  # fmt: skip
                await self._report(con, job_id, t.report)
            return outcome

        outcome = await retrying(once)
        if outcome is None:
            return None
        self._committed(outcome)
        return outcome.value

    async def finish_import(
        self, job_id: int, *, owner: str, status: ImportStatus, error: str | None, now: int
    ) -> ImportJob | None:
        return await self._job(FINISH_IMPORT, job_id, owner, status.value, error, now)

    async def import_report(
        self, job_id: int, *, after_line: int = 0, limit: int = 1000
    ) -> list[ReportRow]:
        async with self._connection() as con:
            rows = await con.fetch(IMPORT_REPORT, job_id, after_line, limit)
        return [_report_row(r) for r in rows]
