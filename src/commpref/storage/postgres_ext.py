"""The PostgreSQL backend's extension methods: suppressions, ledger queries, erasure,
export, import jobs and webhooks. A mixin of `postgres.PostgresStore`, which supplies the
pool, `_apply` (mutate's work inside a transaction) and `_append` (ledger + outbox); the
statements live in `postgres_ext_sql`."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from commpref.domain import erasure
from commpref.domain.imports import ImportJob, ImportStatus, ImportTally, ReportRow
from commpref.domain.model import Event, Subscriber
from commpref.domain.webhooks import Delivery, DeliveryState, EventFilter, Webhook
from commpref.errors import NotFound, Unavailable
from commpref.storage import codec
from commpref.storage import postgres_ext_sql as sql
from commpref.storage import postgres_sql as core
from commpref.storage.base import Erasure, Outcome, StoredEvent
from commpref.storage.base_jobs import ClaimedDelivery, ImportChunk

T = TypeVar("T")
ATTEMPTS = 5
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


def hmac_pads(secret: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256's two key blocks (key XOR ipad, key XOR opad): with them SQL computes
    `sha256(outer || sha256(inner || message))`, which is HMAC-SHA256 exactly (RFC 2104)."""
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def _stored(portal_id: int, r: Any) -> StoredEvent:
    changes = codec.decode_changes(r["changes"])
    event = Event(r["email"], changes, r["source"], r["actor"], r["correlation_id"], r["at"])
    return StoredEvent(r["id"], portal_id, event)


class PostgresExtensions:
    """Mixed into `PostgresStore`."""

    _portal_pads: dict[int, tuple[bytes, bytes]]

    if TYPE_CHECKING:

        def _connection(self) -> AbstractAsyncContextManager[Any]: ...

        async def _apply(
            self, con: Any, portal_id: int, addresses: list[str], plan: Any
        ) -> Outcome[Any]: ...

        async def _append(self, con: Any, portal_id: int, events: list[Event]) -> None: ...

        def _committed(self, outcome: Outcome[Any]) -> None: ...

    async def _retrying(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run a transaction again after a deadlock or serialisation failure."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await work()
            except _RETRYABLE as exc:
                if attempt == ATTEMPTS:
                    raise Unavailable("database busy: too many conflicting writes") from exc
                await asyncio.sleep(random.uniform(0, 0.01 * attempt))
        raise AssertionError("unreachable")

    # --- suppressions ------------------------------------------------------------------------
    async def _secret(self, con: Any, portal_id: int) -> bytes:
        secret = await con.fetchval(sql.PORTAL_SECRET, portal_id)
        if secret is None:
            raise NotFound(f"Portal {portal_id} does not exist")
        return str(secret).encode()

    async def _pads(self, con: Any, portal_id: int) -> tuple[bytes, bytes]:
        """The portal key's HMAC blocks (a portal's secret never changes: cached)."""
        pads = self._portal_pads.get(portal_id)
        if pads is None:
            secret = await con.fetchval(sql.PORTAL_SECRET, portal_id)
            if secret is None:  # no such portal: nothing can match
                return b"", b""
            pads = self._portal_pads[portal_id] = hmac_pads(str(secret).encode())
        return pads

    async def _subscribers(self, con: Any, portal_id: int, rows: Any) -> dict[str, Subscriber]:
        """Rows of `LOAD_SUBSCRIBERS`/`LOAD_CLAIMED`: stored subscribers, and erased addresses
        (without a stored record) as `erasure.suppressed_subscriber`."""
        subs: dict[str, Subscriber] = {}
        erased: list[tuple[str, int]] = []
        for r in rows:
            if r["erased_at"] is not None:
                erased.append((r["email"], r["erased_at"]))
            else:
                types, wide = codec.decode(r["state"])
                subs[r["email"]] = Subscriber(r["email"], r["created_at"], types, wide)
        erased = [(e, at) for e, at in erased if e not in subs]
        if erased:
            definitions, units = await con.fetchrow(sql.SCOPE_OF_SUPPRESSED, portal_id)
            for email, at in erased:
                subs[email] = erasure.suppressed_subscriber(email, at, definitions, units)
        return subs

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
        statement = sql.ledger_sql(
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
                # The feed: wait for writers holding ids (see postgres_sql.EVENTS_LOCK_CLASS).
                await con.execute(core.LOCK_EVENTS_FOR_READ, core.EVENTS_LOCK_CLASS, portal_id)
            rows = await con.fetch(statement, portal_id, after_id, limit, *args)
        return [_stored(portal_id, r) for r in rows]

    async def ledger_entries(self, portal_id: int, ids: Sequence[int]) -> list[StoredEvent]:
        async with self._connection() as con:
            rows = await con.fetch(sql.LEDGER_ENTRIES, portal_id, list(ids))
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
                await con.execute(core.CLAIM_SUBSCRIBERS, portal_id, [email])
                existed = bool(await con.fetchval(sql.DELETE_SUBSCRIBER, portal_id, email))
                await con.execute(sql.SUPPRESS, portal_id, key, now)
                status = await con.execute(sql.RELABEL_EVENTS, portal_id, email, label)
                await con.execute(sql.RELABEL_DELIVERIES, portal_id, email, label)
                await con.execute(sql.RELABEL_REPORTS, portal_id, email, label)
                event = Event(label, (erasure.ERASURE_CHANGE,), source, actor, correlation_id, now)
                await self._append(con, portal_id, [event])
            return Erasure(label, existed, sql.affected(status)), Outcome(None, set(), [event])

        result, outcome = await self._retrying(once)
        self._committed(outcome)
        return result

    async def subject_label(self, portal_id: int, email: str) -> str:
        async with self._connection() as con:
            return erasure.label(erasure.subject_key(await self._secret(con, portal_id), email))

    async def subscribers_page(
        self, portal_id: int, *, after_email: str = "", limit: int = 1000
    ) -> list[Subscriber]:
        async with self._connection() as con:
            rows = await con.fetch(sql.SUBSCRIBERS_PAGE, portal_id, after_email, limit)
        out = []
        for r in rows:
            types, wide = codec.decode(r["state"])
            out.append(Subscriber(r["email"], r["created_at"], types, wide))
        return out

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
        plan: Callable[[dict[str, Subscriber]], Outcome[ImportTally]],
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
                outcome: Outcome[ImportTally] = await self._apply(con, portal_id, addresses, plan)
                t = outcome.value
                await con.execute(sql.MARK_CHUNK, job_id, seq)
                await con.execute(sql.COUNT_CHUNK, job_id, t.processed, t.applied, t.unchanged,
                                  t.skipped, lease_until, now)  # fmt: skip
                await self._report(con, job_id, t.report)
            return outcome

        outcome = await self._retrying(once)
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
