"""Handlers of `/commpref/v1`: consent history, the change feed, erasure, export, imports.

Each takes an `Request` (routed, authenticated, authorised, validated), calls one
service and shapes the answer (`http.api.wire`). Webhook handlers are in `http.api.webhooks`.
"""

from __future__ import annotations

from typing import cast

from commpref.domain.imports import ImportJob
from commpref.errors import NotFound
from commpref.http.api import wire
from commpref.http.operation import Reply, Request, Stream
from commpref.http.transport import read_chunks
from commpref.services import erasure, exports, history, uploads
from commpref.services.statuses import require_email


def path_id(rq: Request, what: str) -> int:
    """The numeric id in the path; anything else names nothing (404)."""
    raw = cast(str, rq.param)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:  # '²' is a digit
        raise NotFound(f"{what} {raw} does not exist")
    return int(raw)


# --- history --------------------------------------------------------------------------------


def _page(page: history.Page) -> wire.ConsentEventPage:
    return wire.ConsentEventPage(
        results=[wire.consent_event(e) for e in page.events],
        cursor=page.cursor,
        hasMore=page.has_more,
    )


async def subscriber_history(rq: Request) -> Reply:
    """The consent events of one address (also those an erasure relabelled), oldest first."""
    email = require_email(cast(str, rq.param))
    page = await history.subscriber_history(
        store=rq.runtime.store,
        portal_id=rq.call.ctx.portal.id,
        email=email,
        since=rq.query["since"],
        limit=rq.query["limit"],
    )
    return 200, _page(page)


async def events(rq: Request) -> Reply:
    """The change feed: every consent event of the portal after a cursor, filtered."""
    q = rq.query
    filters = history.Filters(
        subscription=history.parse_subscription(q["subscriptionId"]),
        actor=q["actor"],
        at_from=q["startTime"],
        at_to=q["endTime"],
    )
    page = await history.page(
        store=rq.runtime.store,
        portal_id=rq.call.ctx.portal.id,
        since=q["since"],
        limit=q["limit"],
        filters=filters,
    )
    return 200, _page(page)


# --- erasure and export ---------------------------------------------------------------------


async def erase(rq: Request) -> Reply:
    """Remove the address's statuses and keep it suppressed (docs/privacy.md)."""
    done = await erasure.erase(store=rq.runtime.store, call=rq.call, email=cast(str, rq.param))
    return 200, wire.Erasure(
        status="COMPLETE",
        subscriberHash=done.label,
        statusesRemoved=done.existed,
        eventsRewritten=done.events_rewritten,
        alreadyErased=done.already_erased,
    )


async def export(rq: Request) -> Reply:
    """Every address's stored statuses (or, with `history`, the ledger), streamed."""
    fmt = rq.query["format"]
    history_too = rq.query["history"]
    name = f"commpref-{rq.call.ctx.portal.id}-{'history' if history_too else 'state'}.{fmt}"
    chunks = exports.stream(
        store=rq.runtime.store,
        ctx=rq.call.ctx,
        fmt=fmt,
        only_unsubscribed=rq.query["onlyUnsubscribed"],
        with_history=history_too,
    )
    return 200, Stream(exports.MEDIA_TYPES[fmt], chunks, name)


# --- imports --------------------------------------------------------------------------------


async def create_import(rq: Request) -> Reply:
    """Upload a file (the raw body); it is validated and stored as a PENDING job that any
    server process picks up. Answers 202 with the job; poll it for progress."""
    settings = rq.runtime.settings
    file_name = rq.query["fileName"] or ""
    job = await uploads.upload(
        store=rq.runtime.store,
        call=rq.call,
        chunks=read_chunks(rq.receive, settings.body_timeout_s),
        fmt=uploads.detect_format(rq.query["format"], file_name, rq.content_type),
        file_name=file_name,
        allow_resubscribe=rq.query["allowResubscribe"],
        max_bytes=settings.import_max_bytes,
        chunk_rows=settings.import_chunk_rows,
    )
    return 202, wire.import_job(job)


async def _job(rq: Request) -> ImportJob:
    job_id = path_id(rq, "Import job")
    job = await rq.runtime.store.get_import(job_id)
    if job is None or job.portal_id != rq.call.ctx.portal.id:
        raise NotFound(f"Import job {job_id} does not exist")
    return job


async def list_imports(rq: Request) -> Reply:
    jobs = await rq.runtime.store.list_imports(rq.call.ctx.portal.id, limit=rq.query["limit"])
    return 200, wire.ImportJobList(results=[wire.import_job(j) for j in jobs])


async def get_import(rq: Request) -> Reply:
    return 200, wire.import_job(await _job(rq))


async def cancel_import(rq: Request) -> Reply:
    """Stop a job: chunks applied so far stay applied (each was one transaction)."""
    job = await _job(rq)
    canceled = await rq.runtime.store.cancel_import(job.id, now=rq.call.now)
    return 200, wire.import_job(canceled or job)


async def import_report(rq: Request) -> Reply:
    """Rows not applied, by line: REJECTED (invalid) and SKIPPED (kept out by a rule)."""
    job = await _job(rq)
    limit = rq.query["limit"]
    rows = await rq.runtime.store.import_report(job.id, after_line=rq.query["after"], limit=limit)
    return 200, wire.ImportReport(
        results=[wire.report_line(r) for r in rows],
        after=rows[-1].line if rows else rq.query["after"],
        hasMore=len(rows) == limit,
    )
