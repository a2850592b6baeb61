"""Export: every address's current state, or the consent ledger, as CSV or JSON Lines.

Streams in constant memory: subscribers are read in pages by key (`portal_id, email`), the
ledger in pages by id. The state export uses the import columns (`domain.imports.COLUMNS`),
so exporting one portal and importing the file into an empty one reproduces its state;
`subscription_name` lets the import find the definitions of another portal by name.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec

from commpref.domain import bounces, erasure
from commpref.domain.formats import format_ms
from commpref.domain.imports import ALL, COLUMNS, ERASED
from commpref.domain.model import ChangeKind, PortalContext, Status, Subscriber
from commpref.services import history
from commpref.storage.store import Store

PAGE = 1000
HISTORY_COLUMNS = (
    "event_id",
    "time",
    "email",
    "scope",
    "subscription_id",
    "business_unit_id",
    "old_status",
    "new_status",
    "source",
    "legal_basis",
    "legal_basis_explanation",
    "actor",
    "correlation_id",
)
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
_json = msgspec.json.Encoder()


def state_records(
    ctx: PortalContext, sub: Subscriber, *, only_unsubscribed: bool
) -> list[dict[str, Any]]:
    """One record per stored status of an address: the definitions' by id, then the
    opt-out-of-all switches (`ALL`). Switches come last so that an import applies each type
    row before the switch that covers it: a type row after an opt-out of all would read as a
    request to lift it (`domain.imports.apply_row`)."""
    out: list[dict[str, Any]] = []
    for definition_id, t in sorted(sub.types.items()):
        if only_unsubscribed and t.status is not Status.UNSUBSCRIBED:
            continue
        definition = ctx.definition(definition_id)
        out.append(
            {
                "email": sub.email,
                "subscription_id": definition_id,
                "subscription_name": definition.name if definition is not None else "",
                "business_unit_id": definition.business_unit_id if definition else 0,
                "status": t.status.value,
                "timestamp": format_ms(t.timestamp),
                "source": t.source,
                "legal_basis": t.legal_basis,
                "legal_basis_explanation": t.legal_basis_explanation,
                "erasure_key_id": None,
            }
        )
    for unit, wide in sorted(sub.wide.items()):
        if only_unsubscribed and wide.status is not Status.UNSUBSCRIBED:
            continue
        out.append(
            {
                "email": sub.email,
                "subscription_id": ALL,
                "subscription_name": "",
                "business_unit_id": unit,
                "status": wide.status.value,
                "timestamp": format_ms(wide.timestamp),
                "source": wide.source,
                "legal_basis": None,
                "legal_basis_explanation": None,
                "erasure_key_id": None,
            }
        )
    bounced = bounces.export_record(sub)
    if bounced is not None and not only_unsubscribed:  # a mark, not an UNSUBSCRIBED status
        out.append({**bounced, "timestamp": format_ms(bounced["timestamp"])})
    return out


def suppression_record(key: bytes, erased_at: int, key_id: str) -> dict[str, Any]:
    """An erasure's suppression: its keyed hash (never the address), dated with the
    erasure, and the id of the erasure key it was made with."""
    return {
        "email": erasure.label(key),
        "subscription_id": ERASED,
        "subscription_name": "",
        "business_unit_id": None,
        "status": Status.UNSUBSCRIBED.value,
        "timestamp": format_ms(erased_at),
        "source": erasure.ERASURE_SOURCE,
        "legal_basis": None,
        "legal_basis_explanation": None,
        "erasure_key_id": key_id,
    }


def _history_record(event: history.ConsentEvent) -> dict[str, Any]:
    e, c = event.entry.event, event.change
    return {
        "event_id": event.id,
        "time": format_ms(e.at),
        "email": e.email,
        "scope": c.kind.value,
        "subscription_id": c.target if c.kind is ChangeKind.TYPE else None,
        "business_unit_id": c.target if c.kind is ChangeKind.WIDE else None,
        "old_status": c.old.value,
        "new_status": c.new.value,
        "source": e.source,
        "legal_basis": c.legal_basis,
        "legal_basis_explanation": c.legal_basis_explanation,
        "actor": e.actor,
        "correlation_id": e.correlation_id,
    }


def encode(fmt: str, columns: Sequence[str], records: list[dict[str, Any]], header: bool) -> bytes:
    if fmt == "jsonl":
        return b"".join(_json.encode(r) + b"\n" for r in records)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for r in records:
        writer.writerow(["" if r[c] is None else r[c] for c in columns])
    return buffer.getvalue().encode()


async def stream(
    *,
    store: Store,
    ctx: PortalContext,
    fmt: str,
    only_unsubscribed: bool = False,
    with_history: bool = False,
    page_size: int = PAGE,
) -> AsyncIterator[bytes]:
    """The export as chunks of bytes (a header first for CSV, even when empty)."""
    if with_history:
        columns: Sequence[str] = HISTORY_COLUMNS
        if fmt == "csv":
            yield encode(fmt, columns, [], True)
        since: str | None = None
        while True:
            page = await history.page(
                store=store, portal_id=ctx.portal.id, since=since, limit=page_size
            )
            records = [_history_record(e) for e in page.events]
            if only_unsubscribed:
                records = [r for r in records if r["new_status"] == Status.UNSUBSCRIBED.value]
            if records:
                yield encode(fmt, columns, records, False)
            if not page.has_more:
                return
            since = page.cursor
    if fmt == "csv":
        yield encode(fmt, COLUMNS, [], True)
    after = ""
    while subs := await store.subscribers_page(ctx.portal.id, after_email=after, limit=page_size):
        records = [
            r for sub in subs for r in state_records(ctx, sub, only_unsubscribed=only_unsubscribed)
        ]
        if records:
            yield encode(fmt, COLUMNS, records, False)
        after = subs[-1].email
    # Erased addresses last: a stored record of an address erased before (resubscribed
    # since) then imports as it is, and its suppression beside it.
    key_id = erasure.key_id((await store.erasure_key(ctx.portal.id)).encode())
    after_key = b""
    while keys := await store.suppressions_page(ctx.portal.id, after_key=after_key,
                                                limit=page_size):  # fmt: skip
        yield encode(fmt, COLUMNS, [suppression_record(k, at, key_id) for k, at in keys], False)
        after_key = keys[-1][0]
