"""The PostgreSQL backend's import jobs and webhooks (`base_jobs.JobStore`): a mixin of
`postgres.PostgresStore`. Claims use `FOR UPDATE SKIP LOCKED` (`postgres_ext_sql`)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import asyncpg

from commpref.domain.imports import ImportJob, ImportStatus, ImportTally, ReportRow
from commpref.domain.model import Event
from commpref.domain.webhooks import Delivery, DeliveryState, EventFilter, Webhook
from commpref.errors import NotFound
from commpref.storage import codec
from commpref.storage import postgres_ext_sql as sql
from commpref.storage.base import Outcome, StoredEvent
from commpref.storage.base_jobs import ClaimedDelivery, ImportChunk, ImportPlan
from commpref.storage.postgres_ext import retrying


class PostgresJobs:
    """Mixed into `PostgresStore`."""

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

        def _committed(self, outcome: Outcome[Any]) -> None: ...

    # --- import jobs -------------------------------------------------------------------------
    async def _job(self, statement: str, *args: Any) -> ImportJob | None:
        async with self._connection() as con:
            row = await con.fetchrow(statement, *args)
        return None if row is None else sql.job(row)

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
        job = await self._job(sql.CREATE_IMPORT, portal_id, format, file_name, sha256,
                              allow_resubscribe, actor, correlation_id, now)  # fmt: skip
        assert job is not None
        return job

    async def find_import(
        self, *, portal_id: int, sha256: str, allow_resubscribe: bool
    ) -> ImportJob | None:
        return await self._job(sql.FIND_IMPORT, portal_id, sha256, allow_resubscribe, sql.OPEN)

    async def restart_upload(self, job_id: int, *, now: int) -> None:
        async with self._connection() as con, con.transaction():
            await con.execute("DELETE FROM import_chunks WHERE job_id = $1", job_id)
            await con.execute("DELETE FROM import_report WHERE job_id = $1", job_id)
            await con.execute(sql.RESTART_UPLOAD, job_id, now)

    async def _report(self, con: Any, job_id: int, rows: Sequence[ReportRow]) -> None:
        if rows:
            await con.execute(sql.ADD_REPORT, job_id, [r.line for r in rows],
                              [r.email for r in rows], [r.kind for r in rows],
                              [r.reason for r in rows])  # fmt: skip

    async def add_import_chunk(
        self, job_id: int, chunk: ImportChunk, rejects: Sequence[ReportRow]
    ) -> None:
        async with self._connection() as con, con.transaction():
            await con.execute(sql.ADD_CHUNK, job_id, chunk.seq, chunk.first_line, chunk.rows,
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
        job = await self._job(sql.FINISH_UPLOAD, job_id, total_rows, rejected_rows, chunks,
                              owner, lease_until, now)  # fmt: skip
        if job is None:
            job = await self.get_import(job_id)
        if job is None:
            raise LookupError(f"import job {job_id} does not exist")
        return job

    async def get_import(self, job_id: int) -> ImportJob | None:
        return await self._job(sql.GET_IMPORT, job_id)

    async def list_imports(self, portal_id: int, *, limit: int = 100) -> list[ImportJob]:
        async with self._connection() as con:
            rows = await con.fetch(sql.LIST_IMPORTS, portal_id, limit)
        return [sql.job(r) for r in rows]

    async def cancel_import(self, job_id: int, *, now: int) -> ImportJob | None:
        job = await self._job(sql.CANCEL_IMPORT, job_id, now, sql.OPEN)
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
        return await self._job(sql.CLAIM_IMPORT, owner, lease_until, now, list(steal_from),
                               job_id)  # fmt: skip

    async def import_chunks(
        self, job_id: int, *, after_seq: int = -1, limit: int = 10
    ) -> list[ImportChunk]:
        async with self._connection() as con:
            rows = await con.fetch(sql.IMPORT_CHUNKS, job_id, after_seq, limit)
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
                state = await con.fetchrow(sql.LOCK_JOB, job_id)
                if state is None or state[0] != ImportStatus.PROCESSING or state[1] != owner:
                    return None
                if await con.fetchval(sql.CHUNK_DONE, job_id, seq) is not False:
                    return None  # done already, or no such chunk
                outcome: Outcome[ImportTally] = await self._apply(
                    con, portal_id, addresses, plan, keys
                )
                t = outcome.value
                await con.execute(sql.MARK_CHUNK, job_id, seq)
                await con.execute(sql.COUNT_CHUNK, job_id, t.processed, t.applied, t.unchanged,
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
        return await self._job(sql.FINISH_IMPORT, job_id, owner, status.value, error, now)

    async def import_report(
        self, job_id: int, *, after_line: int = 0, limit: int = 1000
    ) -> list[ReportRow]:
        async with self._connection() as con:
            rows = await con.fetch(sql.IMPORT_REPORT, job_id, after_line, limit)
        return [sql.report_row(r) for r in rows]

    # --- webhooks ----------------------------------------------------------------------------
    async def _webhook(self, statement: str, *args: Any) -> Webhook | None:
        async with self._connection() as con:
            row = await con.fetchrow(statement, *args)
        return None if row is None else sql.webhook(tuple(row))

    async def create_webhook(
        self,
        *,
        portal_id: int,
        url: str,
        secret: str,
        event_filter: EventFilter,
        active: bool,
        now: int,
    ) -> Webhook:
        try:
            hook = await self._webhook(sql.CREATE_WEBHOOK, portal_id, url, secret,
                                       event_filter.to_json(), active, now)  # fmt: skip
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound(f"Portal {portal_id} does not exist") from exc
        assert hook is not None
        return hook

    async def list_webhooks(self, portal_id: int) -> list[Webhook]:
        async with self._connection() as con:
            rows = await con.fetch(sql.LIST_WEBHOOKS, portal_id)
        return [sql.webhook(tuple(r)) for r in rows]

    async def get_webhook(self, portal_id: int, webhook_id: int) -> Webhook | None:
        return await self._webhook(sql.GET_WEBHOOK, portal_id, webhook_id)

    async def update_webhook(
        self, portal_id: int, webhook_id: int, *, now: int, **fields: object
    ) -> Webhook | None:
        unknown = sorted(set(fields) - sql.WEBHOOK_FIELDS)
        if unknown:
            raise ValueError(f"unknown webhook field(s): {', '.join(unknown)}")
        names = sorted(fields)
        values = [v.to_json() if isinstance(v, EventFilter) else v for v in map(fields.get, names)]
        statement = sql.update_webhook_sql(names)
        return await self._webhook(statement, portal_id, webhook_id, now, *values)

    async def delete_webhook(self, portal_id: int, webhook_id: int) -> bool:
        async with self._connection() as con:
            return await con.fetchval(sql.DELETE_WEBHOOK, portal_id, webhook_id) is not None

    async def deliveries(
        self,
        portal_id: int,
        webhook_id: int,
        *,
        state: DeliveryState | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Delivery]:
        wanted = None if state is None else state.value
        async with self._connection() as con:
            rows = await con.fetch(sql.DELIVERIES, webhook_id, portal_id, after_id, wanted, limit)
        return [sql.delivery(tuple(r)) for r in rows]

    async def replay_deliveries(
        self, portal_id: int, webhook_id: int, *, from_event_id: int, now: int
    ) -> int:
        async with self._connection() as con:
            status = await con.execute(sql.REPLAY, portal_id, webhook_id, from_event_id, now)
        return sql.affected(status)

    async def retry_deliveries(
        self, portal_id: int, webhook_id: int, delivery_ids: Sequence[int], *, now: int
    ) -> int:
        async with self._connection() as con:
            status = await con.execute(sql.RETRY, webhook_id, portal_id, list(delivery_ids), now)
        return sql.affected(status)

    async def claim_deliveries(
        self, *, now: int, lease_until: int, limit: int
    ) -> list[ClaimedDelivery]:
        async with self._connection() as con:
            ids = [r[0] for r in await con.fetch(sql.CLAIM_DELIVERIES, now, lease_until, limit)]
            rows = await con.fetch(sql.CLAIMED, ids) if ids else []
        out = []
        for r in rows:
            v = tuple(r)
            d, w = sql.delivery(v[:13]), sql.webhook(v[13:21])
            at, source, actor, cid, changes = v[21:26]
            event = Event(d.subscriber, codec.decode_changes(changes), source, actor, cid, at)
            out.append(ClaimedDelivery(d, w, StoredEvent(d.event_id, d.portal_id, event)))
        return out

    async def finish_delivery(
        self,
        delivery_id: int,
        *,
        state: DeliveryState,
        attempts: int,
        next_attempt_at: int,
        status_code: int | None,
        error: str | None,
        now: int,
    ) -> None:
        async with self._connection() as con:
            await con.execute(sql.FINISH_DELIVERY, delivery_id, state.value, attempts,
                              next_attempt_at, status_code, error, now)  # fmt: skip

    async def webhook_backlog(self) -> int:
        async with self._connection() as con:
            return int(await con.fetchval(sql.BACKLOG))
