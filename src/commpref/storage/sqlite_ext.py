"""The SQLite backend's extension methods: ledger queries, erasure, export, import jobs and
webhooks. A mixin of `sqlite.SqliteStore`, which supplies the writer and reader threads;
the statements live in `sqlite_ext_sql` and `sqlite_jobs_sql`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from commpref.domain.imports import ImportJob, ImportStatus, ImportTally, ReportRow
from commpref.domain.model import Subscriber
from commpref.domain.webhooks import Delivery, DeliveryState, EventFilter, Webhook
from commpref.storage import sqlite_ext_sql as ext
from commpref.storage import sqlite_jobs_sql as jobs
from commpref.storage.base import Erasure, Outcome, StoredEvent
from commpref.storage.base_jobs import ClaimedDelivery, ImportChunk, ImportPlan

R = TypeVar("R")
Conn = sqlite3.Connection


class SqliteExtensions:
    """Mixed into `SqliteStore` (which provides `_write`, `_read` and `_committed`)."""

    if TYPE_CHECKING:

        async def _write(self, fn: Callable[[Conn], R]) -> R: ...

        async def _read(self, fn: Callable[[Conn], R]) -> R: ...

        def _committed(self, outcome: Outcome[Any]) -> None: ...

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
            lambda c: ext.ledger(c, portal_id, subjects, after_id, limit, actor, at_from, at_to)
        )

    async def ledger_entries(self, portal_id: int, ids: Sequence[int]) -> list[StoredEvent]:
        return await self._read(lambda c: ext.ledger_entries(c, portal_id, ids))

    # --- erasure and export ---------------------------------------------------------------------
    async def erase(
        self, portal_id: int, email: str, *, actor: str, correlation_id: str, source: str, now: int
    ) -> Erasure:
        result, outcome = await self._write(
            lambda c: ext.erase(c, portal_id, email, actor, correlation_id, source, now)
        )
        self._committed(outcome)
        return result

    async def subject_label(self, portal_id: int, email: str) -> str:
        return await self._read(lambda c: ext.subject_label(c, portal_id, email))

    async def erasure_key(self, portal_id: int) -> str:
        return (await self._read(lambda c: ext.portal_secret(c, portal_id))).decode()

    async def subscribers_page(
        self, portal_id: int, *, after_email: str = "", limit: int = 1000
    ) -> list[Subscriber]:
        return await self._read(lambda c: ext.subscribers_page(c, portal_id, after_email, limit))

    async def suppressions_page(
        self, portal_id: int, *, after_key: bytes = b"", limit: int = 1000
    ) -> list[tuple[bytes, int]]:
        return await self._read(lambda c: ext.suppressions_page(c, portal_id, after_key, limit))

    # --- import jobs ---------------------------------------------------------------------------
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
        return await self._write(lambda c: jobs.create_import(c, values))

    async def find_import(
        self, *, portal_id: int, sha256: str, allow_resubscribe: bool
    ) -> ImportJob | None:
        return await self._read(lambda c: jobs.find_import(c, portal_id, sha256, allow_resubscribe))

    async def restart_upload(self, job_id: int, *, now: int) -> None:
        await self._write(lambda c: jobs.restart_upload(c, job_id, now))

    async def add_import_chunk(
        self, job_id: int, chunk: ImportChunk, rejects: Sequence[ReportRow]
    ) -> None:
        await self._write(lambda c: jobs.add_chunk(c, job_id, chunk, rejects))

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
        return await self._write(lambda c: jobs.finish_upload(c, job_id, values))

    async def get_import(self, job_id: int) -> ImportJob | None:
        return await self._read(lambda c: jobs.get_job(c, job_id))

    async def list_imports(self, portal_id: int, *, limit: int = 100) -> list[ImportJob]:
        return await self._read(lambda c: jobs.list_imports(c, portal_id, limit))

    async def cancel_import(self, job_id: int, *, now: int) -> ImportJob | None:
        return await self._write(lambda c: jobs.cancel_import(c, job_id, now))

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
            lambda c: jobs.claim_import(c, owner, now, lease_until, job_id, steal_from)
        )

    async def import_chunks(
        self, job_id: int, *, after_seq: int = -1, limit: int = 10
    ) -> list[ImportChunk]:
        return await self._read(lambda c: jobs.import_chunks(c, job_id, after_seq, limit))

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
            lambda c: jobs.apply_chunk(
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
        return await self._write(lambda c: jobs.finish_import(c, job_id, owner, status, error, now))

    async def import_report(
        self, job_id: int, *, after_line: int = 0, limit: int = 1000
    ) -> list[ReportRow]:
        return await self._read(lambda c: jobs.import_report(c, job_id, after_line, limit))

    # --- webhooks ----------------------------------------------------------------------------
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
        values = {"portal_id": portal_id, "url": url, "secret": secret,
                  "event_filter": event_filter.to_json(), "active": active, "now": now}  # fmt: skip
        return await self._write(lambda c: jobs.create_webhook(c, values))

    async def list_webhooks(self, portal_id: int) -> list[Webhook]:
        return await self._read(lambda c: jobs.list_webhooks(c, portal_id))

    async def get_webhook(self, portal_id: int, webhook_id: int) -> Webhook | None:
        return await self._read(lambda c: jobs.get_webhook(c, portal_id, webhook_id))

    async def update_webhook(
        self, portal_id: int, webhook_id: int, *, now: int, **fields: object
    ) -> Webhook | None:
        unknown = sorted(set(fields) - jobs.WEBHOOK_FIELDS)
        if unknown:
            raise ValueError(f"unknown webhook field(s): {', '.join(unknown)}")
        return await self._write(
            lambda c: jobs.update_webhook(c, portal_id, webhook_id, now, fields)
        )

    async def delete_webhook(self, portal_id: int, webhook_id: int) -> bool:
        return await self._write(lambda c: jobs.delete_webhook(c, portal_id, webhook_id))

    async def deliveries(
        self,
        portal_id: int,
        webhook_id: int,
        *,
        state: DeliveryState | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Delivery]:
        return await self._read(
            lambda c: jobs.deliveries(c, portal_id, webhook_id, state, after_id, limit)
        )

    async def replay_deliveries(
        self, portal_id: int, webhook_id: int, *, from_event_id: int, now: int
    ) -> int:
        return await self._write(
            lambda c: jobs.replay(c, portal_id, webhook_id, from_event_id, now)
        )

    async def retry_deliveries(
        self, portal_id: int, webhook_id: int, delivery_ids: Sequence[int], *, now: int
    ) -> int:
        return await self._write(lambda c: jobs.retry(c, portal_id, webhook_id, delivery_ids, now))

    async def claim_deliveries(
        self, *, now: int, lease_until: int, limit: int
    ) -> list[ClaimedDelivery]:
        return await self._write(lambda c: jobs.claim_deliveries(c, now, lease_until, limit))

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
        await self._write(
            lambda c: jobs.finish_delivery(
                c, delivery_id, state, attempts, next_attempt_at, status_code, error, now
            )
        )

    async def webhook_backlog(self) -> int:
        return await self._read(jobs.backlog)
