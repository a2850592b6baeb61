"""Running an import job the way the CLI does (stage, then run under one owner), and reading
back what an export or a store holds, for the import and export tests of every backend."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

from commpref.domain import erasure
from commpref.domain.bounces import BOUNCED
from commpref.domain.imports import ALL, ERASED, ImportJob
from commpref.domain.model import ChangeKind, PortalContext
from commpref.services import exports, imports, uploads
from commpref.storage.store import Store

OWNER = "test-worker"


async def import_file(
    store: Store, ctx: PortalContext, path: Path, *, allow: bool = False, chunk_rows: int = 5000
) -> ImportJob:
    fmt = uploads.detect_format(None, path.name)
    job = await uploads.create(
        store=store,
        ctx=ctx,
        fmt=fmt,
        file_name=path.name,
        sha256=uploads.sha256_file(path),
        allow_resubscribe=allow,
        actor="cli",
        correlation_id="corr-import",
    )
    job = await uploads.stage(
        store=store, job=job, ctx=ctx, path=path, chunk_rows=chunk_rows, owner=OWNER
    )
    return await imports.run(store=store, job=job, owner=OWNER)


async def export_bytes(store: Store, ctx: PortalContext, fmt: str, page_size: int = 1000) -> bytes:
    chunks = exports.stream(store=store, ctx=ctx, fmt=fmt, page_size=page_size)
    return b"".join([c async for c in chunks])


def export_rows(data: bytes, fmt: str, ctx: PortalContext) -> list[dict[str, Any]]:
    """An export's rows as text, in file order, with definition ids replaced by names: ids
    differ between portals, and between databases."""
    if fmt == "csv":
        rows: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(data.decode())))
    else:
        rows = [
            {k: "" if v is None else str(v) for k, v in msgspec.json.decode(line).items()}
            for line in data.splitlines()
        ]
    for row in rows:
        if row["subscription_id"] not in (ALL, ERASED, BOUNCED):
            definition = ctx.definition(int(row["subscription_id"]))
            assert definition is not None and definition.name == row["subscription_name"]
            row["subscription_id"] = row["subscription_name"]
    return rows


async def unexplained(store: Store, ctx: PortalContext) -> list[str]:
    """Every stored status, wide status and suppression that the ledger does not explain:
    the newest ledger change of its target must set it (status, source, time, legal basis).
    An address resubscribed after an erasure keeps the statuses the erasure implied: those
    are explained by the label's ERASURE entry of that time."""
    portal_id = ctx.portal.id
    by_subject: dict[str, list[Any]] = defaultdict(list)
    after = 0
    while page := await store.ledger(portal_id, after_id=after, limit=1000):
        for stored in page:
            by_subject[stored.event.email].append(stored.event)
        after = page[-1].id
    problems: list[str] = []

    def erasure_times(email: str) -> set[int]:
        label = erasure.label(erasure.subject_key(secret, email))
        return {e.at for e in by_subject[label] if e.changes[0].kind is ChangeKind.ERASURE}

    secret = (await store.erasure_key(portal_id)).encode()
    after_email = ""
    while subs := await store.subscribers_page(portal_id, after_email=after_email):
        for sub in subs:
            newest: dict[tuple[ChangeKind, int], Any] = {}
            for event in by_subject[sub.email]:
                for change in event.changes:
                    newest[(change.kind, change.target)] = (event, change)
            for d, t in sub.types.items():
                want = (t.status, t.source, t.timestamp, t.legal_basis, t.legal_basis_explanation)
                found = newest.get((ChangeKind.TYPE, d))
                if found is None:
                    if t.source == erasure.ERASURE_SOURCE and t.timestamp in erasure_times(
                        sub.email
                    ):
                        continue
                    problems.append(f"{sub.email} type {d}: no ledger entry for {want}")
                    continue
                e, c = found
                got = (c.new, e.source, e.at, c.legal_basis, c.legal_basis_explanation)
                if got != want:
                    problems.append(f"{sub.email} type {d}: stored {want}, ledger {got}")
            for unit, w in sub.wide.items():
                found = newest.get((ChangeKind.WIDE, unit))
                if found is None:
                    if w.source == erasure.ERASURE_SOURCE and w.timestamp in erasure_times(
                        sub.email
                    ):
                        continue
                    problems.append(f"{sub.email} wide {unit}: no ledger entry")
                    continue
                e, c = found
                if (c.new, e.source, e.at) != (w.status, w.source, w.timestamp):
                    problems.append(f"{sub.email} wide {unit}: stored {w}, ledger {e}")
        after_email = subs[-1].email
    after_key = b""
    while keys := await store.suppressions_page(portal_id, after_key=after_key):
        for key, erased_at in keys:
            times = [e.at for e in by_subject[erasure.label(key)]
                     if e.changes[0].kind is ChangeKind.ERASURE]  # fmt: skip
            if not times or max(times) != erased_at:
                problems.append(f"suppression {key.hex()} at {erased_at}: erasures at {times}")
        after_key = keys[-1][0]
    return problems
