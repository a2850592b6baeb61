"""Bulk import: a CSV or JSON Lines file becomes a job that any process can run.

1. `uploads.stage` reads the file once, validates each record and stores the valid rows
   as chunks of the job, packed here (`pack`); the rejected ones go to the job's report.
2. `run` applies the chunks in order, one transaction each (`Store.apply_import_chunk`):
   the chunk is marked done in the transaction that applies it, so a job killed midway
   resumes at the first chunk not done — nothing applied twice, nothing lost.

The rules for one row live in `domain.imports.apply_row`; every applied row becomes a
ledger entry with actor `import:<job id>`, the row's source and the row's timestamp.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec

from commpref.domain import bounces, erasure
from commpref.domain.imports import (
    ImportJob,
    ImportRow,
    ImportStatus,
    ImportTally,
    ReportRow,
    Verdict,
    apply_row,
    apply_suppression,
)
from commpref.domain.model import Change, Event, PortalContext, Status, Subscriber
from commpref.services.context import now_ms
from commpref.storage.imports import ImportPlan
from commpref.storage.store import Store
from commpref.storage.subscribers import Outcome

LEASE_MS = 120_000  # a job untouched this long is taken over by another worker
_STATUS = (Status.NOT_SPECIFIED, Status.SUBSCRIBED, Status.UNSUBSCRIBED)
_CODE = {s: i for i, s in enumerate(_STATUS)}
_Packed = list[tuple[int, str, int | None, int, int, int, str, str | None, str | None]]
_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[_Packed] = msgspec.msgpack.Decoder(_Packed)
Progress = Callable[[int], None]  # called with the rows just staged or applied


# --- a chunk as stored: MessagePack tuples, the status as a small code --------------------


def pack(rows: list[ImportRow]) -> bytes:
    return _encoder.encode(
        [(r.line, r.email, r.subscription_id, r.business_unit_id, _CODE[r.status], r.timestamp,
          r.source, r.legal_basis, r.legal_basis_explanation) for r in rows]
    )  # fmt: skip


def unpack(data: bytes) -> list[ImportRow]:
    return [
        ImportRow(line, email, sid, unit, _STATUS[code], ts, src, lb, lbe)
        for line, email, sid, unit, code, ts, src, lb, lbe in _decoder.decode(data)
    ]


# --- running a job ---------------------------------------------------------------------------


def chunk_plan(ctx: PortalContext, job: ImportJob, rows: list[ImportRow], now: int) -> ImportPlan:
    """The plan of one chunk: every row in file order (later rows see earlier). Whatever a
    row stores is counted applied and is one ledger entry (actor `import:<job id>`, the
    row's source and time); a row counted unchanged stores nothing."""
    actor = f"import:{job.id}"

    def plan(subs: dict[str, Subscriber], erased: dict[bytes, int]) -> Outcome[ImportTally]:
        tally = ImportTally(processed=len(rows))
        outcome = Outcome(tally)
        for row in rows:
            key = erasure.key_of(row.email)
            if key is not None:  # an ERASED row: the suppression of an erasure's hash
                verdict = apply_suppression(erased.get(key), row)
                if verdict is Verdict.APPLIED:
                    erased[key] = outcome.suppressions[key] = row.timestamp
                    changes: list[Change] = [erasure.ERASURE_CHANGE]
            else:
                verdict, changes, reason = _apply(ctx, job, subs[row.email], row, now)
                if verdict is Verdict.APPLIED:
                    outcome.touched.add(row.email)
            if verdict is Verdict.APPLIED:
                tally.applied += 1
                outcome.events.append(Event(row.email, tuple(changes), row.source, actor,
                                            job.correlation_id, row.timestamp))  # fmt: skip
            elif verdict is Verdict.UNCHANGED:
                tally.unchanged += 1
            else:
                tally.skipped += 1
                tally.report.append(ReportRow(row.line, row.email, "SKIPPED", reason))
        return outcome

    return plan


def _apply(
    ctx: PortalContext, job: ImportJob, sub: Subscriber, row: ImportRow, now: int
) -> tuple[Verdict, list[Change], str]:
    """One address's row against its subscriber (mutated when the row applies)."""
    definition = None
    if bounces.is_bounce_row(row):
        verdict, changes, reason = bounces.apply_row(sub, row)
        if verdict is Verdict.APPLIED and sub.created_at is None:
            sub.created_at = now
        return verdict, changes, reason
    if row.subscription_id is not None:
        definition = ctx.definition(row.subscription_id)
        if definition is None:  # definitions are never deleted; a moved database?
            return (
                Verdict.STALE,
                [],
                f"Subscription definition {row.subscription_id} does not exist",
            )
    verdict, changes, reason = apply_row(
        ctx.portal, sub, row, definition, allow_resubscribe=job.allow_resubscribe
    )
    if verdict is Verdict.APPLIED and sub.created_at is None:
        sub.created_at = now
    return verdict, changes, reason


async def run(
    *,
    store: Store,
    job: ImportJob,
    owner: str,
    progress: Progress | None = None,
    lease_ms: int = LEASE_MS,
    max_rows_per_second: float | None = None,
) -> ImportJob:
    """Apply every chunk not yet done, then mark the job COMPLETE. Stops early (returning
    the job as stored) when the job is canceled or another worker took it over.
    `max_rows_per_second` paces the chunks so a big import leaves room for live traffic."""
    ctx = await store.portal_context(job.portal_id)
    after = -1
    started, applied = asyncio.get_running_loop().time(), 0
    while True:
        chunks = await store.import_chunks(job.id, after_seq=after, limit=4)
        if not chunks:
            break
        for chunk in chunks:
            rows = await asyncio.to_thread(unpack, chunk.data)
            now = now_ms()
            tally = await store.apply_import_chunk(
                job.id,
                chunk.seq,
                owner=owner,
                portal_id=job.portal_id,
                emails=list(dict.fromkeys(r.email for r in rows if not erasure.is_label(r.email))),
                keys=[k for r in rows if (k := erasure.key_of(r.email)) is not None],
                plan=chunk_plan(ctx, job, rows, now),
                lease_until=now + lease_ms,
                now=now,
            )
            if tally is None:
                current = await store.get_import(job.id)
                return current if current is not None else job
            if progress is not None:
                progress(chunk.rows)
            after = chunk.seq
            applied += chunk.rows
            if max_rows_per_second:
                due = started + applied / max_rows_per_second
                await asyncio.sleep(max(0.0, due - asyncio.get_running_loop().time()))
    done = await store.finish_import(
        job.id, owner=owner, status=ImportStatus.COMPLETE, error=None, now=now_ms()
    )
    if done is None:  # canceled between the last chunk and here
        current = await store.get_import(job.id)
        return current if current is not None else job
    return done
