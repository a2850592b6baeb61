"""Imports and exports through the services, on every backend: a 100k-row file with valid
and invalid rows, the round trip export → import into an empty portal, erasure then import."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from commpref.domain.imports import ImportStatus
from commpref.domain.model import Actor, PortalContext, Status, Subscriber
from commpref.services import erasure, exports, statuses
from commpref.services.context import Call
from commpref.services.statuses import StatusWrite
from commpref.storage.store import Store
from tests.support.imports import import_file

T = 1_700_000_000_000


async def report(store: Store, job_id: int) -> list[tuple[int, str, str, str]]:
    rows, after = [], 0
    while batch := await store.import_report(job_id, after_line=after, limit=10_000):
        rows += [(r.line, r.email, r.kind, r.reason) for r in batch]
        after = batch[-1].line
    return rows


@pytest.mark.slow
async def test_a_100k_row_file_with_invalid_rows(store: Store, tmp_path: Path) -> None:
    portal = await store.create_portal(name="Big", now=T)
    ctx = await store.portal_context(portal.id)
    # user1 already has a newer (lifted) opt-out-of-all switch: its import row is stale.
    call = Call.make(ctx, Actor("token", "1"), now=T + 10**9)
    await statuses.unsubscribe_all(
        store=store, call=call, inputs=["user1@example.com"], business_unit_id=None
    )
    d1 = ctx.definitions[0].id
    write = StatusWrite("user1@example.com", d1, Status.SUBSCRIBED)
    await statuses.write_statuses(store=store, call=call, writes=[write])

    expected_report = []
    lines = ["email,subscription_id,status,timestamp,source"]
    for i in range(100_000):
        line = i + 2
        r = i % 10
        if r <= 5:
            lines.append(f"user{i}@example.com,ALL,UNSUBSCRIBED,{T + i},Bounce")
            if i == 1:
                expected_report.append(
                    (
                        line,
                        "user1@example.com",
                        "SKIPPED",
                        "the stored opt-out-of-all status is newer",
                    )
                )
        elif r == 6:  # resubscribing what row i-6 opted out: never without allow
            lines.append(f"user{i - 6}@example.com,ALL,SUBSCRIBED,{T + i},Form")
            expected_report.append(
                (
                    line,
                    f"user{i - 6}@example.com",
                    "SKIPPED",
                    "would undo an opt-out (allow resubscribe to apply it)",
                )
            )
        elif r == 7:  # the same opt-out again, older: already in effect
            lines.append(f"user{i - 7}@example.com,ALL,UNSUBSCRIBED,{T + i - 100},Bounce")
        elif r == 8:
            lines.append(f"user{i}@example.com,ALL,MAYBE,{T + i},Bounce")
            expected_report.append(
                (
                    line,
                    f"user{i}@example.com",
                    "REJECTED",
                    "Invalid status MAYBE; use SUBSCRIBED, UNSUBSCRIBED or NOT_SPECIFIED",
                )
            )
        else:
            lines.append(f"user{i}-at-example.com,ALL,UNSUBSCRIBED,{T + i},Bounce")
            expected_report.append(
                (line, f"user{i}-at-example.com", "REJECTED", "Invalid email address")
            )
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    before = len(await store.ledger(portal.id))

    job = await import_file(store, ctx, path, chunk_rows=7000)
    assert job.status is ImportStatus.COMPLETE
    counts = (
        job.total_rows,
        job.rejected_rows,
        job.processed_rows,
        job.applied_rows,
        job.unchanged_rows,
        job.skipped_rows,
    )
    assert counts == (100_000, 20_000, 80_000, 59_999, 10_000, 10_001)
    assert job.chunks == job.chunks_done == 12  # ceil(80k valid / 7000)
    assert await report(store, job.id) == expected_report

    ledger = await store.ledger(portal.id, after_id=0, limit=100_000)
    imported = ledger[before:]
    assert len(imported) == 59_999
    assert {e.event.actor for e in imported} == {f"import:{job.id}"}
    assert {e.event.correlation_id for e in imported} == {"corr-import"}
    sample = {e.event.email: e.event for e in imported if e.event.email == "user10@example.com"}
    assert sample["user10@example.com"].at == T + 10
    assert sample["user10@example.com"].source == "Bounce"
    stored = await store.read_subscribers(portal.id, ["user0@example.com", "user1@example.com"])
    assert stored["user0@example.com"].wide[0].status is Status.UNSUBSCRIBED
    assert stored["user1@example.com"].wide[0].status is Status.SUBSCRIBED


async def test_allow_resubscribe_and_jsonl(store: Store, tmp_path: Path) -> None:
    portal = await store.create_portal(name="P", now=T)
    ctx = await store.portal_context(portal.id)
    d1, d2, _ = (d.id for d in ctx.definitions)
    path = tmp_path / "rows.jsonl"
    records: list[Any] = [
        {"email": "a@example.com", "subscriptionId": d1, "status": "UNSUBSCRIBED", "timestamp": T},
        "not json",
        [1, 2],
        {
            "email": "a@example.com",
            "subscriptionId": d1,
            "status": "SUBSCRIBED",
            "timestamp": T + 1,
            "legalBasis": "CONSENT_WITH_NOTICE",
            "legalBasisExplanation": "Ticked the box",
        },
        {
            "email": "b@example.com",
            "subscription_name": ctx.definitions[1].name,
            "status": "SUBSCRIBED",
            "timestamp": "2023-11-14T22:13:20Z",
        },
    ]
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n\n")
    job = await import_file(store, ctx, path)
    assert (job.applied_rows, job.skipped_rows, job.rejected_rows) == (2, 1, 2)
    assert [(r[0], r[2]) for r in await report(store, job.id)] == [
        (2, "REJECTED"),
        (3, "REJECTED"),
        (4, "SKIPPED"),
    ]
    again = await import_file(store, ctx, path, allow=True)
    assert (again.applied_rows, again.unchanged_rows, again.skipped_rows) == (1, 2, 0)
    a = (await store.read_subscribers(portal.id, ["a@example.com"]))["a@example.com"]
    assert (a.types[d1].status, a.types[d1].legal_basis, a.types[d1].timestamp) == (
        Status.SUBSCRIBED,
        "CONSENT_WITH_NOTICE",
        T + 1,
    )
    b = (await store.read_subscribers(portal.id, ["b@example.com"]))["b@example.com"]
    assert b.types[d2].timestamp == T


def comparable(ctx: PortalContext, subs: dict[str, Subscriber]) -> dict[str, Any]:
    """Stored statuses keyed by definition name (ids differ between portals)."""
    name = {d.id: d.name for d in ctx.definitions}
    return {
        email: (
            {name[d]: t for d, t in sub.types.items()},
            dict(sub.wide),
        )
        for email, sub in subs.items()
    }


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_then_import_into_an_empty_portal_gives_the_same_state(
    store: Store, tmp_path: Path, fmt: str
) -> None:
    portal = await store.create_portal(name="Source", gdpr=True, now=T)
    await store.create_definition(
        portal_id=portal.id, name='News, "weekly"\nedition', description="d", now=T
    )
    ctx = await store.portal_context(portal.id)
    d1, d2, d3, d4 = (d.id for d in ctx.definitions)
    emails = [f"p{i}@example.com" for i in range(30)]
    api = Call.make(ctx, Actor("token", "1"), now=T + 1)
    await statuses.unsubscribe_all(store=store, call=api, inputs=emails[:10], business_unit_id=None)
    later = Call.make(ctx, Actor("token", "1"), now=T + 2, source="Public status API, App ID:7")
    writes = [
        StatusWrite(emails[0], d1, Status.SUBSCRIBED, "CONSENT_WITH_NOTICE", "Said yes, twice"),
        StatusWrite(emails[11], d4, Status.SUBSCRIBED, "LEGITIMATE_INTEREST_PQL", "é, ü"),
        StatusWrite(emails[12], d2, Status.UNSUBSCRIBED),
        StatusWrite(emails[12], d3, Status.SUBSCRIBED, "NON_GDPR", "x"),
        StatusWrite(emails[12], d3, Status.NOT_SPECIFIED),
    ]
    await statuses.write_statuses(store=store, call=later, writes=writes)
    source = await store.read_subscribers(portal.id, emails)

    path = tmp_path / f"export.{fmt}"
    with path.open("wb") as f:
        async for chunk in exports.stream(store=store, ctx=ctx, fmt=fmt, page_size=7):
            f.write(chunk)
    target = await store.create_portal(name="Target", gdpr=True, now=T + 100)
    await store.create_definition(
        portal_id=target.id, name='News, "weekly"\nedition', description="d", now=T + 100
    )
    target_ctx = await store.portal_context(target.id)
    job = await import_file(store, target_ctx, path, chunk_rows=9)
    assert (job.status, job.rejected_rows, job.skipped_rows) == (ImportStatus.COMPLETE, 0, 0)
    copied = await store.read_subscribers(target.id, emails)
    assert comparable(target_ctx, copied) == comparable(ctx, source)
    assert len(copied) == 12

    only = b"".join(
        [c async for c in exports.stream(store=store, ctx=ctx, fmt="csv", only_unsubscribed=True)]
    )
    rows = list(csv.DictReader(io.StringIO(only.decode())))
    # p1..p9: four types and the switch; p0: resubscribed to one type (switch lifted); p12: one
    assert len(rows) == 9 * 5 + 3 + 1
    assert {r["status"] for r in rows} == {"UNSUBSCRIBED"}


async def test_an_erased_address_is_not_resubscribed_by_an_import_without_override(
    store: Store, tmp_path: Path
) -> None:
    portal = await store.create_portal(name="P", now=T)
    ctx = await store.portal_context(portal.id)
    d1 = ctx.definitions[0].id
    call = Call.make(ctx, Actor("token", "1"), now=T)
    write = StatusWrite("gone@example.com", d1, Status.SUBSCRIBED)
    await statuses.write_statuses(store=store, call=call, writes=[write])
    erased_at = T + 10
    await erasure.erase(
        store=store, call=Call.make(ctx, Actor("cli"), now=erased_at), email="Gone@Example.com"
    )
    path = tmp_path / "back.csv"
    path.write_text(
        "email,subscription_id,status,timestamp\n"
        f"gone@example.com,{d1},SUBSCRIBED,{erased_at + 5}\n"
        f"gone@example.com,ALL,SUBSCRIBED,{erased_at + 5}\n"
        f"gone@example.com,{d1},SUBSCRIBED,{erased_at - 5}\n"
        f"gone@example.com,{d1},UNSUBSCRIBED,{erased_at + 5}\n"
    )
    job = await import_file(store, ctx, path)
    assert (job.applied_rows, job.unchanged_rows, job.skipped_rows) == (0, 1, 3)
    assert [r[3] for r in await report(store, job.id)] == [
        "would undo an opt-out (allow resubscribe to apply it)",
        "would undo an opt-out (allow resubscribe to apply it)",
        "the stored status is newer",
    ]
    read = await statuses.read_statuses(
        store=store, call=call, inputs=["gone@example.com"], business_unit_id=None
    )
    assert {r.status for r in read.results[0].rows} == {Status.UNSUBSCRIBED}
    # With the override the newer subscribe lifts the suppression; the last row (a tie with
    # it, and an opt-out) applies after it.
    override = await import_file(store, ctx, path, allow=True)
    counts = (override.applied_rows, override.unchanged_rows, override.skipped_rows)
    assert counts == (2, 2, 0)
    back = (await store.read_subscribers(portal.id, ["gone@example.com"]))["gone@example.com"]
    assert back.wide[0].status is Status.SUBSCRIBED
    assert back.types[d1].status is Status.UNSUBSCRIBED
