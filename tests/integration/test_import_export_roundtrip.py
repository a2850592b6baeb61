"""Nothing lost through export and import, and nothing stored without a ledger entry, on
every backend: the two cases that once broke it, and a property test over random histories
of API writes, opt-outs of all, imports and erasures."""

from __future__ import annotations

import csv
import itertools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commpref.domain.feedback import FeedbackEvent, Kind, Provider
from commpref.domain.imports import ImportStatus
from commpref.domain.model import Actor, Bounce, ChangeKind, PortalContext, Status
from commpref.services import erasure, feedback, statuses
from commpref.services.context import Call
from commpref.services.statuses import StatusWrite
from commpref.storage.store import Store
from tests.support.imports import export_bytes, export_rows, import_file, unexplained

T = 1_600_000_000_000
EXAMPLES = int(os.environ.get("COMMPREF_PROPERTY_EXAMPLES", "100"))
CUSTOM = ("Product news", 'Events, "live"')  # definitions beside HubSpot's three defaults
_portal_names = itertools.count()


async def portal_pair(store: Store) -> tuple[PortalContext, PortalContext]:
    """A source portal and an empty one restored from it would use: same definitions (by
    name, in the same order) and the source's erasure key."""
    n = next(_portal_names)
    source = await store.create_portal(name=f"Source {n}", now=T)
    key = await store.erasure_key(source.id)
    target = await store.create_portal(name=f"Target {n}", erasure_key=key, now=T)
    for portal in (source, target):
        for name in CUSTOM:
            await store.create_definition(portal_id=portal.id, name=name, description="d", now=T)
    return await store.portal_context(source.id), await store.portal_context(target.id)


def write_csv(path: Path, rows: list[tuple[object, ...]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "subscription_id", "status", "timestamp", "source"])
        writer.writerows(rows)
    return path


async def round_trip(
    store: Store, source: PortalContext, target: PortalContext, fmt: str, tmp: Path
) -> None:
    """Export `source`, import into the empty `target`, export again: the same file, the
    same stored state, and every row of it one applied change in the ledger."""
    first = await export_bytes(store, source, fmt, page_size=3)
    path = tmp / f"export.{fmt}"
    path.write_bytes(first)
    job = await import_file(store, target, path, chunk_rows=4)
    rows = export_rows(first, fmt, source)
    assert (job.status, job.rejected_rows, job.skipped_rows, job.unchanged_rows) == (
        ImportStatus.COMPLETE, 0, 0, 0,
    )  # fmt: skip
    assert job.applied_rows == len(rows)
    second = await export_bytes(store, target, fmt, page_size=5)
    assert export_rows(second, fmt, target) == rows
    assert await unexplained(store, source) == []
    assert await unexplained(store, target) == []


# --- the two cases that once broke the promise --------------------------------------------------


async def test_a_type_row_older_than_an_opt_out_of_all_survives_the_round_trip(
    store: Store, tmp_path: Path
) -> None:
    source, target = await portal_pair(store)
    d1 = source.definitions[0]
    path = write_csv(tmp_path / "in.csv", [
        ("p1@example.com", d1.id, "SUBSCRIBED", "2020-01-01T00:00:00Z", "Import"),
        ("p1@example.com", "ALL", "UNSUBSCRIBED", "2021-01-01T00:00:00Z", "Import"),
    ])  # fmt: skip
    job = await import_file(store, source, path)
    assert (job.applied_rows, job.skipped_rows) == (2, 0)
    await round_trip(store, source, target, "csv", tmp_path)
    copied = (await store.read_subscribers(target.portal.id, ["p1@example.com"]))["p1@example.com"]
    assert copied.types[target.definitions[0].id].status is Status.SUBSCRIBED
    assert copied.wide[0].status is Status.UNSUBSCRIBED


async def test_a_not_specified_row_for_a_new_address_is_applied_and_in_the_ledger(
    store: Store, tmp_path: Path
) -> None:
    source, _ = await portal_pair(store)
    d = source.definitions[3]
    path = tmp_path / "in.csv"
    path.write_text(
        "email,subscription_id,subscription_name,status,timestamp,source\n"
        f"b1000.p5@bulk.example.com,{d.id},,NOT_SPECIFIED,1580859239924,Migration\n"
    )
    job = await import_file(store, source, path)
    assert (job.applied_rows, job.unchanged_rows) == (1, 0)
    email = "b1000.p5@bulk.example.com"
    stored = (await store.read_subscribers(source.portal.id, [email]))[email].types[d.id]
    assert (stored.status, stored.source, stored.timestamp) == (
        Status.NOT_SPECIFIED, "Migration", 1580859239924,
    )  # fmt: skip
    [entry] = await store.events(source.portal.id, email=email)
    assert (entry.event.actor, entry.event.source, entry.event.at) == (
        f"import:{job.id}", "Migration", 1580859239924,
    )  # fmt: skip
    assert await unexplained(store, source) == []
    # The same row again stores nothing, and is counted so.
    again = await import_file(store, source, path)
    assert (again.applied_rows, again.unchanged_rows) == (0, 1)
    assert len(await store.events(source.portal.id, email=email)) == 1


async def test_a_bounce_mark_survives_the_round_trip(store: Store, tmp_path: Path) -> None:
    email = "bounced@example.com"
    hard = FeedbackEvent("ses", f"fb-1:{email}", Kind.HARD_BOUNCE, email, T, "Permanent")
    for fmt in ("csv", "jsonl"):
        source, target = await portal_pair(store)
        call = Call.make(source, feedback.actor(Provider.SES), now=T + 5)
        await feedback.apply(store=store, call=call, provider=Provider.SES, events=[hard])
        await round_trip(store, source, target, fmt, tmp_path)
        copied = (await store.read_subscribers(target.portal.id, [email]))[email]
        assert copied.bounce == Bounce(at=T, source="Hard bounce (ses)")
        [entry] = await store.events(target.portal.id, email=email)
        assert [c.kind for c in entry.event.changes] == [ChangeKind.BOUNCE]
        assert entry.event.source == "Hard bounce (ses)"
        # The same file again finds the mark already there.
        again = await import_file(store, target, tmp_path / f"export.{fmt}")
        assert (again.applied_rows, again.unchanged_rows) == (0, 1)


# --- the property ---------------------------------------------------------------------------------

EMAILS = [f"u{i}@example.com" for i in range(3)]  # few, so operations meet
emails_st = st.sampled_from(EMAILS)
statuses_st = st.sampled_from(list(Status))
# Free text as an API caller may send it: spaces at the ends, commas, quotes, new lines.
text_st = st.text(alphabet=" ab,\"'\né", min_size=1, max_size=6)


@dataclass(frozen=True)
class Write:
    email: str
    definition: int  # index into the portal's definitions
    status: Status
    legal_basis: str | None
    explanation: str | None


@dataclass(frozen=True)
class OptOutAll:
    emails: tuple[str, ...]


@dataclass(frozen=True)
class Import:
    rows: tuple[tuple[str, int | None, Status, int, str], ...]  # definition index or ALL
    allow_resubscribe: bool


@dataclass(frozen=True)
class Erase:
    email: str


STEP = 1000  # each operation happens this long after the one before
write_st = st.builds(
    Write, emails_st, st.integers(0, 4), statuses_st,
    st.sampled_from([None, "LEGITIMATE_INTEREST_CLIENT", "CONSENT_WITH_NOTICE"]),
    st.none() | text_st,
)  # fmt: skip
import_row_st = st.tuples(
    emails_st,
    st.none() | st.integers(0, 4),
    statuses_st,
    st.integers(-3 * STEP, 14 * STEP),  # before, among and after the other operations
    st.sampled_from(["Import", "Migration", " CRM, export "]),
)
# Writes and imports drawn more often than the rest: they make the states worth moving.
operation_st = st.one_of(
    write_st,
    write_st,
    st.builds(Import, st.lists(import_row_st, min_size=1, max_size=6).map(tuple), st.booleans()),
    st.builds(Import, st.lists(import_row_st, min_size=1, max_size=6).map(tuple), st.booleans()),
    st.builds(OptOutAll, st.lists(emails_st, min_size=1, max_size=3).map(tuple)),
    st.builds(Erase, emails_st),
)


async def apply_operation(store: Store, ctx: PortalContext, op: object, at: int, tmp: Path) -> None:
    call = Call.make(ctx, Actor("token", "1"), now=at)
    defs = ctx.definitions
    if isinstance(op, Write):
        write = StatusWrite(op.email, defs[op.definition].id, op.status, op.legal_basis,
                            op.explanation)  # fmt: skip
        await statuses.write_statuses(store=store, call=call, writes=[write])
    elif isinstance(op, OptOutAll):
        await statuses.unsubscribe_all(
            store=store, call=call, inputs=list(op.emails), business_unit_id=None
        )
    elif isinstance(op, Import):
        rows = [
            (email, "ALL" if d is None else defs[d].id,
             # ALL rows take SUBSCRIBED or UNSUBSCRIBED: NOT_SPECIFIED ones are rejected
             status.value, T + offset, source)
            for email, d, status, offset, source in op.rows
        ]  # fmt: skip
        path = write_csv(tmp / f"ops-{at}.csv", rows)
        job = await import_file(store, ctx, path, allow=op.allow_resubscribe, chunk_rows=2)
        assert job.status is ImportStatus.COMPLETE
    else:
        assert isinstance(op, Erase)
        await erasure.erase(store=store, call=Call.make(ctx, Actor("cli"), now=at), email=op.email)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    operations=st.lists(operation_st, min_size=1, max_size=10),
    fmt=st.sampled_from(["csv", "jsonl"]),
)
async def test_export_then_import_reproduces_the_stored_state_and_its_ledger(
    store: Store, operations: list[object], fmt: str
) -> None:
    source, target = await portal_pair(store)
    with tempfile.TemporaryDirectory() as tmp:
        for i, op in enumerate(operations):
            await apply_operation(store, source, op, T + i * STEP, Path(tmp))
        await round_trip(store, source, target, fmt, Path(tmp))
