"""The console's pages for moving data and telling others: imports (upload, watch, cancel,
the rejected rows), exports, and webhooks (endpoints, their filters, secret rotation, the
delivery log, replay). The same services as `/commpref/v1`."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from commpref.domain.console import Role
from commpref.domain.imports import ImportJob, ImportStatus
from commpref.domain.model import Status
from commpref.domain.webhooks import DeliveryState, EventFilter
from commpref.errors import NotFound, ValidationError
from commpref.http.operation import Reply, Stream
from commpref.services import exports, uploads, webhooks
from commpref.web.console.visit import Visit, view

JOBS = 50  # import jobs the list shows
DELIVERIES = 100  # deliveries a webhook's page shows
REPORT_PAGE = 1000
RUNNING = {ImportStatus.UPLOADING, ImportStatus.PENDING, ImportStatus.PROCESSING}


# --- imports ----------------------------------------------------------------------------------


@view(Role.VIEWER)
async def import_list(v: Visit) -> Reply:
    jobs = await v.rq.runtime.store.list_imports(v.portal.portal.id, limit=JOBS)
    return v.render("imports.html", jobs=jobs, section="/imports")


async def _job(v: Visit) -> ImportJob:
    job_id = v.path_id("import")
    job = await v.rq.runtime.store.get_import(job_id)
    if job is None or job.portal_id != v.portal.portal.id:
        raise NotFound("No such import")
    return job


@view(Role.VIEWER)
async def import_page(v: Visit) -> Reply:
    job = await _job(v)
    return v.render("import.html", job=job, running=job.status in RUNNING, section="/imports")


@view(Role.EDITOR, form=True, upload=True)
async def import_upload(v: Visit) -> Reply:
    upload = v.upload
    if upload is None or not upload.filename:
        raise ValidationError("Choose a CSV or JSON Lines file")
    settings = v.rq.runtime.settings
    fmt = uploads.detect_format(v.value("format") or None, upload.filename, None)

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await upload.read(64 * 1024):
            yield chunk

    job = await uploads.upload(
        store=v.rq.runtime.store,
        call=v.call(),
        chunks=chunks(),
        fmt=fmt,
        file_name=upload.filename[:255],
        allow_resubscribe=v.value("allow_resubscribe") == "on",
        max_bytes=settings.import_max_bytes,
        chunk_rows=settings.import_chunk_rows,
    )
    return v.redirect(v.url(f"/imports/{job.id}"))


@view(Role.EDITOR, form=True)
async def import_cancel(v: Visit) -> Reply:
    job = await _job(v)
    await v.rq.runtime.store.cancel_import(job.id, now=v.rq.now)
    return v.redirect(v.url(f"/imports/{job.id}"))


@view(Role.VIEWER)
async def import_report(v: Visit) -> Reply:
    """The rows an import did not apply, as CSV: line, address, kind, reason."""
    job = await _job(v)
    store = v.rq.runtime.store

    async def rows() -> AsyncIterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["line", "email", "kind", "reason"])
        after = 0
        while True:
            page = await store.import_report(job.id, after_line=after, limit=REPORT_PAGE)
            for r in page:
                writer.writerow([r.line, r.email, r.kind, r.reason])
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
            if len(page) < REPORT_PAGE:
                return
            after = page[-1].line

    v.add_headers()
    name = f"commpref-import-{job.id}-report.csv"
    return 200, Stream(exports.MEDIA_TYPES["csv"], rows(), name)


# --- exports ----------------------------------------------------------------------------------


@view(Role.EDITOR)
async def export(v: Visit) -> Reply:
    fmt = v.query("format", "csv")
    if fmt not in exports.MEDIA_TYPES:
        raise ValidationError("The format is csv or jsonl")
    with_history = v.query("history") == "1"
    ctx = v.portal
    chunks = exports.stream(
        store=v.rq.runtime.store,
        ctx=ctx,
        fmt=fmt,
        only_unsubscribed=v.query("only_unsubscribed") == "1",
        with_history=with_history,
    )
    v.add_headers()
    name = f"commpref-{ctx.portal.id}-{'history' if with_history else 'state'}.{fmt}"
    return 200, Stream(exports.MEDIA_TYPES[fmt], chunks, name)


# --- webhooks ---------------------------------------------------------------------------------


@view(Role.VIEWER)
async def webhook_list(v: Visit) -> Reply:
    hooks = await v.rq.runtime.store.list_webhooks(v.portal.portal.id)
    return v.render("webhooks.html", hooks=hooks, types=v.portal.definitions, section="/webhooks")


def _filter(v: Visit) -> EventFilter:
    chosen = {s for s in v.values("status") if s in Status.__members__}
    types = {int(t) for t in v.values("type") if t.isascii() and t.isdigit() and len(t) < 19}
    return EventFilter(
        statuses=frozenset(Status(s) for s in chosen) or None,
        subscription_ids=frozenset(types) or None,
        include_wide=v.value("include_wide") == "on",
    )


@view(Role.ADMIN, form=True)
async def webhook_create(v: Visit) -> Reply:
    hook = await webhooks.create(
        store=v.rq.runtime.store,
        call=v.call(),
        url=v.value("url"),
        event_filter=_filter(v),
        secret=None,
        active=True,
    )
    return v.redirect(v.url(f"/webhooks/{hook.id}", created="1"))


@view(Role.VIEWER)
async def webhook_page(v: Visit) -> Reply:
    store, call = v.rq.runtime.store, v.call()
    hook = await webhooks.get(store=store, call=call, webhook_id=v.path_id("webhook"))
    state_name = v.query("state")
    state = DeliveryState(state_name) if state_name in DeliveryState.__members__ else None
    deliveries = await webhooks.deliveries(
        store=store, call=call, webhook_id=hook.id, state=state, after_id=0, limit=DELIVERIES
    )
    return v.render(
        "webhook.html",
        hook=hook,
        deliveries=deliveries,
        state=state_name if state else "",
        states=[s.value for s in DeliveryState],
        types=v.portal.definitions,
        replayed=v.query("replayed") == "1",
        show_secret=v.me.may(Role.ADMIN) and (v.query("created") or v.query("rotated")) == "1",
        section="/webhooks",
    )


@view(Role.ADMIN, form=True)
async def webhook_change(v: Visit) -> Reply:
    store, call = v.rq.runtime.store, v.call()
    webhook_id = v.path_id("webhook")
    action = v.value("action")
    flag = ""
    if action == "rotate":
        await webhooks.update(
            store=store, call=call, webhook_id=webhook_id, secret=webhooks.new_secret()
        )
        flag = "rotated"
    elif action in ("pause", "resume"):
        await webhooks.update(
            store=store, call=call, webhook_id=webhook_id, active=action == "resume"
        )
    elif action == "save":
        await webhooks.update(
            store=store, call=call, webhook_id=webhook_id, url=v.value("url"),
            event_filter=_filter(v),
        )  # fmt: skip
    elif action == "replay":
        ids = [int(i) for i in v.values("delivery") if i.isascii() and i.isdigit() and len(i) < 19]
        if not ids:
            raise ValidationError("Choose the deliveries to send again")
        await webhooks.replay(
            store=store, call=call, webhook_id=webhook_id, since=None, delivery_ids=ids
        )
        flag = "replayed"
    elif action == "delete":
        await webhooks.delete(store=store, call=call, webhook_id=webhook_id)
        return v.redirect(v.url("/webhooks"))
    else:
        raise ValidationError("Unknown action")
    query = {flag: "1"} if flag else {}
    return v.redirect(v.url(f"/webhooks/{webhook_id}", **query))
