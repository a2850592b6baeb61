"""Standing counts and daily totals kept as changes commit (`storage.tallies`), on every
backend: after writes through every service, what the store keeps equals its own recount
and a recount done here from the stored records and the ledger; the daily split by source;
portals apart; an upgrade fills them; folding while writers write."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import itertools
import os
import sqlite3
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import msgspec
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commpref.cli import main
from commpref.domain import erasure as erasure_rules
from commpref.domain.imports import ImportStatus
from commpref.domain.model import (
    Actor,
    Change,
    ChangeKind,
    PortalContext,
    Status,
    TypeStatus,
    WideStatus,
)
from commpref.domain.tallies import DAY_MS, Tallies, daily, standing
from commpref.errors import ValidationError
from commpref.services import admin, erasure, links, preferences, statuses
from commpref.services.context import Call
from commpref.services.statuses import StatusWrite
from commpref.settings import Settings
from commpref.storage import codec, migrations, open_store
from commpref.storage.sqlite import tallies as sqlite_tallies
from commpref.storage.sqlite import transactions
from commpref.storage.store import Store
from tests.support.imports import import_file

T = 1_700_000_000_000  # 2023-11-14, day 19675
DAY = T // DAY_MS
EXAMPLES = int(os.environ.get("COMMPREF_PROPERTY_EXAMPLES", "30"))
NS, SUB, UNSUB = Status.NOT_SPECIFIED, Status.SUBSCRIBED, Status.UNSUBSCRIBED
API = Actor("token", "1")
_portals = itertools.count()


# --- the independent recount ------------------------------------------------------------------


async def recounted_here(store: Store, portal_id: int) -> Tallies:
    """The portal's tallies worked out from its stored records and its whole ledger, page by
    page through the public reads, with the plain rules (`standing`, `daily`)."""
    counts: Counter[tuple[int, str]] = Counter()
    after = ""
    while page := await store.subscribers_page(portal_id, after_email=after, limit=7):
        for sub in page:
            counts.update({(0, name): n for name, n in standing(sub).items()})
        after = page[-1].email
    after_id = 0
    while entries := await store.ledger(portal_id, after_id=after_id, limit=7):
        counts.update(daily(e.event for e in entries))
        after_id = entries[-1].id
    return Tallies.of((day, name, n) for (day, name), n in counts.items())


async def assert_exact(store: Store, portal_id: int) -> Tallies:
    """What the store keeps = its recount = the recount here; returns it."""
    expected = await recounted_here(store, portal_id)
    assert await store.tallies(portal_id, since_day=0) == expected  # deltas pending
    await store.fold_tallies()
    assert await store.tallies(portal_id, since_day=0) == expected  # folded
    assert await store.recount_tallies(portal_id) == expected
    assert await store.tallies(portal_id, since_day=0) == expected
    return expected


# --- set-up --------------------------------------------------------------------------------------


async def new_portal(store: Store, *, brands: bool = False) -> PortalContext:
    portal = await store.create_portal(name=f"Tallies {next(_portals)}", brands=brands, now=T)
    await store.create_definition(portal_id=portal.id, name="Events", description="d", now=T)
    if brands:
        await store.create_business_unit(portal_id=portal.id, business_unit_id=7, name="Seven")
        await store.create_definition(
            portal_id=portal.id, name="Seven news", description="d", business_unit_id=7, now=T
        )
    return await store.portal_context(portal.id)


def link(ctx: PortalContext, email: str, unit: int = 0) -> preferences.Link:
    claims = links.LinkClaims(ctx.portal.id, email, unit, "en", T // 1000)
    return preferences.Link("token", claims, ctx)


def write_csv(path: Path, rows: list[tuple[object, ...]]) -> Path:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["email", "subscription_id", "status", "timestamp", "source"])
        out.writerows(rows)
    return path


async def api_writes(
    store: Store, ctx: PortalContext, at: int, *writes: tuple[str, int, Status]
) -> None:
    call = Call.make(ctx, API, now=at)
    await statuses.write_statuses(
        store=store,
        call=call,
        writes=[StatusWrite(e, ctx.definitions[i].id, s) for e, i, s in writes],
    )


async def opt_out(
    store: Store, ctx: PortalContext, at: int, *emails: str, unit: int | None = None
) -> None:
    call = Call.make(ctx, API, now=at)
    await statuses.unsubscribe_all(
        store=store, call=call, inputs=list(emails), business_unit_id=unit
    )


async def erase(store: Store, ctx: PortalContext, at: int, email: str) -> None:
    await erasure.erase(store=store, call=Call.make(ctx, Actor("cli"), now=at), email=email)


# --- writes through every service ---------------------------------------------------------------


async def test_writes_through_every_service_keep_the_tallies_exact(
    store: Store, tmp_path: Path
) -> None:
    ctx = await new_portal(store)
    d = [x.id for x in ctx.definitions]

    await opt_out(store, ctx, T, "a@example.com", "b@example.com", "c@example.com")
    await api_writes(store, ctx, T + 1, ("d@example.com", 0, SUB), ("d@example.com", 1, SUB),
                     ("a@example.com", 2, SUB), ("e@example.com", 3, NS))  # fmt: skip
    v3 = Call.make(ctx, API, now=T + 2)
    await statuses.v3_change(store=store, call=v3, action="subscribe", email="f@example.com",
                             subscription_id=d[0], legal_basis=None,
                             legal_basis_explanation=None)  # fmt: skip
    assert (await assert_exact(store, ctx.portal.id)).subscribers == 6

    # The preference page: a form saved, then one-click.
    await preferences.save(store=store, link=link(ctx, "d@example.com"), wanted={d[1], d[3]},
                           unsubscribe_all=False, correlation_id="c", now=T + 3)  # fmt: skip
    await preferences.unsubscribe_everything(store=store, link=link(ctx, "f@example.com"),
                                             actor=preferences.ONE_CLICK, correlation_id="c",
                                             now=T + 4)  # fmt: skip

    # An import: types, opt-outs of all, a NOT_SPECIFIED row, an address already stored.
    path = write_csv(tmp_path / "in.csv", [
        ("g@example.com", d[0], "SUBSCRIBED", T - 3 * DAY_MS, "Import"),
        ("g@example.com", "ALL", "UNSUBSCRIBED", T - 2 * DAY_MS, "Import"),
        ("h@example.com", d[2], "NOT_SPECIFIED", T - DAY_MS, "Import"),
        ("d@example.com", d[2], "SUBSCRIBED", T + 5, "Import"),  # the page unsubscribed it
    ])  # fmt: skip
    job = await import_file(store, ctx, path, allow=True, chunk_rows=2)
    assert (job.status, job.applied_rows) == (ImportStatus.COMPLETE, 4)
    await assert_exact(store, ctx.portal.id)

    # Erasures: a stored address, one never stored; then the erased one written again.
    await erase(store, ctx, T + 6, "a@example.com")
    await erase(store, ctx, T + 6, "nobody@example.com")
    await api_writes(store, ctx, T + 7, ("a@example.com", 0, SUB))
    kept = await assert_exact(store, ctx.portal.id)
    assert kept.count(d[1], UNSUB) == 4  # b, c, f (one-click), a again (suppressed, stored)

    # Writes to a type, then the type archived: its counts stay, and opt-outs go on.
    await api_writes(store, ctx, T + 8, ("i@example.com", 3, SUB), ("b@example.com", 3, SUB))
    await admin.set_definition_active(store=store, portal_id=ctx.portal.id, definition_id=d[3],
                                      active=False)  # fmt: skip
    ctx = await store.portal_context(ctx.portal.id)
    await opt_out(store, ctx, T + 9, "i@example.com", "j@example.com")
    kept = await assert_exact(store, ctx.portal.id)
    # b's stays: archiving changes no stored status (i's went with its opt-out of all).
    assert kept.count(d[3], SUB) == 1
    assert kept.count(d[0], NS) == kept.subscribers - kept.count(d[0], SUB) - kept.count(
        d[0], UNSUB
    )


async def test_the_daily_split_by_source(store: Store, tmp_path: Path) -> None:
    ctx = await new_portal(store)
    d = [x.id for x in ctx.definitions]
    await opt_out(store, ctx, T, "a@example.com", "b@example.com", "c@example.com")
    await api_writes(store, ctx, T + 1, ("c@example.com", 0, SUB), ("a@example.com", 0, SUB))
    # The page, on the next day: one type off and two back on is two entries, one out (the
    # unsubscription goes first) and one in.
    await preferences.save(store=store, link=link(ctx, "c@example.com"), wanted={d[1], d[2]},
                           unsubscribe_all=False, correlation_id="c",
                           now=T + DAY_MS)  # fmt: skip
    await preferences.unsubscribe_everything(store=store, link=link(ctx, "c@example.com"),
                                             actor=preferences.ONE_CLICK, correlation_id="c",
                                             now=T + DAY_MS)  # fmt: skip
    path = write_csv(tmp_path / "in.csv", [
        ("x@example.com", d[0], "SUBSCRIBED", T - 2 * DAY_MS, "Import"),
        ("y@example.com", "ALL", "UNSUBSCRIBED", T - 2 * DAY_MS, "Import"),
        ("y@example.com", d[1], "UNSUBSCRIBED", T - DAY_MS, "Import"),
    ])  # fmt: skip
    await import_file(store, ctx, path)
    await erase(store, ctx, T + DAY_MS, "b@example.com")

    kept = await assert_exact(store, ctx.portal.id)
    assert kept.days == {
        DAY - 2: {"in:import": 1, "out:import": 1},
        DAY - 1: {"out:import": 1},
        DAY: {"in:api": 2, "out:api": 3},
        DAY + 1: {"in:page": 1, "out:page": 1, "out:one_click": 1, "out:erasure": 1},
    }
    recent = await store.tallies(ctx.portal.id, since_day=DAY)
    assert recent.days == {d_: kept.days[d_] for d_ in (DAY, DAY + 1)}
    assert recent.standing == kept.standing  # standing counts whatever the window
    # a (resubscribed to one type), c (one-click) and y, opted out of all; b is erased.
    assert (kept.subscribers, kept.opted_out()) == (4, 2)


async def test_another_portals_writes_leave_this_portals_tallies_alone(store: Store) -> None:
    ctx, other = await new_portal(store), await new_portal(store)
    await opt_out(store, ctx, T, "a@example.com")
    before = await assert_exact(store, ctx.portal.id)
    await opt_out(store, other, T + 1, "a@example.com", "b@example.com")
    await api_writes(store, other, T + 2, ("a@example.com", 0, SUB))
    await erase(store, other, T + 3, "a@example.com")
    await store.recount_tallies(other.portal.id)
    assert await store.tallies(ctx.portal.id, since_day=0) == before
    assert (await assert_exact(store, other.portal.id)).subscribers == 1


async def test_brands_count_each_business_units_opt_out(store: Store) -> None:
    ctx = await new_portal(store, brands=True)
    await opt_out(store, ctx, T, "a@example.com", "b@example.com", unit=7)
    await opt_out(store, ctx, T + 1, "a@example.com", unit=0)
    kept = await assert_exact(store, ctx.portal.id)
    assert (kept.opted_out(0), kept.opted_out(7)) == (1, 2)


# --- the property --------------------------------------------------------------------------------

EMAILS = [f"p{i}@example.com" for i in range(4)]  # few, so operations meet
emails_st = st.sampled_from(EMAILS)


@dataclass(frozen=True)
class Write:
    writes: tuple[tuple[str, int, Status], ...]  # email, definition index, status


@dataclass(frozen=True)
class OptOut:
    emails: tuple[str, ...]


@dataclass(frozen=True)
class V3:
    action: str
    email: str
    definition: int


@dataclass(frozen=True)
class Page:
    email: str
    wanted: frozenset[int]  # definition indexes
    everything: bool


@dataclass(frozen=True)
class Import:
    rows: tuple[tuple[str, int | None, Status, int], ...]  # definition index or ALL


@dataclass(frozen=True)
class Erase:
    email: str


@dataclass(frozen=True)
class Archive:
    definition: int
    active: bool


STEP = DAY_MS // 3  # operations spread over a few days
operation_st = st.one_of(
    st.builds(
        Write,
        st.lists(
            st.tuples(emails_st, st.integers(0, 3), st.sampled_from(list(Status))),
            min_size=1,
            max_size=4,
        ).map(tuple),
    ),
    st.builds(OptOut, st.lists(emails_st, min_size=1, max_size=4).map(tuple)),
    st.builds(
        V3,
        st.sampled_from(["subscribe", "unsubscribe", "resubscribe"]),
        emails_st,
        st.integers(0, 3),
    ),
    st.builds(Page, emails_st, st.frozensets(st.integers(0, 3)), st.booleans()),
    st.builds(
        Import,
        st.lists(
            st.tuples(
                emails_st,
                st.none() | st.integers(0, 3),
                st.sampled_from(list(Status)),
                st.integers(-6 * STEP, 12 * STEP),
            ),
            min_size=1,
            max_size=5,
        ).map(tuple),
    ),
    st.builds(Erase, emails_st),
    st.builds(Archive, st.integers(0, 3), st.booleans()),
)


async def apply_operation(store: Store, ctx: PortalContext, op: object, at: int, tmp: Path) -> None:
    defs = ctx.definitions
    if isinstance(op, Write):
        await api_writes(store, ctx, at, *op.writes)
    elif isinstance(op, OptOut):
        await opt_out(store, ctx, at, *op.emails)
    elif isinstance(op, V3):
        call = Call.make(ctx, API, now=at)
        with contextlib.suppress(ValidationError):  # refused (already unsubscribed, say)
            await statuses.v3_change(store=store, call=call, action=op.action, email=op.email,
                                     subscription_id=defs[op.definition].id, legal_basis=None,
                                     legal_basis_explanation=None)  # fmt: skip
    elif isinstance(op, Page):
        await preferences.save(store=store, link=link(ctx, op.email),
                               wanted={defs[i].id for i in op.wanted},
                               unsubscribe_all=op.everything, correlation_id="c",
                               now=at)  # fmt: skip
    elif isinstance(op, Import):
        rows = [(email, "ALL" if i is None else defs[i].id, status.value, T + offset, "Import")
                for email, i, status, offset in op.rows]  # fmt: skip
        await import_file(store, ctx, write_csv(tmp / f"ops-{at}.csv", rows), allow=True,
                          chunk_rows=2)  # fmt: skip
    elif isinstance(op, Erase):
        await erase(store, ctx, at, op.email)
    else:
        assert isinstance(op, Archive)
        editable = [x for x in defs if not x.is_internal]  # internal types stay as they are
        target = editable[op.definition % len(editable)]
        await admin.set_definition_active(store=store, portal_id=ctx.portal.id,
                                          definition_id=target.id, active=op.active)  # fmt: skip


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation_st, min_size=1, max_size=12))
async def test_any_history_of_writes_keeps_the_tallies_exact(
    store: Store, operations: list[object]
) -> None:
    ctx = await new_portal(store)
    with tempfile.TemporaryDirectory() as tmp:
        for i, op in enumerate(operations):
            await apply_operation(store, ctx, op, T + i * STEP, Path(tmp))
            ctx = await store.portal_context(ctx.portal.id)  # archiving changes it
    await assert_exact(store, ctx.portal.id)


# --- recounting ----------------------------------------------------------------------------------


async def test_a_recount_repairs_what_went_wrong(store: Store, database_url: str) -> None:
    ctx = await new_portal(store)
    await opt_out(store, ctx, T, "a@example.com", "b@example.com")
    right = await assert_exact(store, ctx.portal.id)
    wrong = [(ctx.portal.id, 0, "subscribers", 40), (ctx.portal.id, DAY, "in:api", 3),
             (ctx.portal.id, 5, "out:other", 1)]  # fmt: skip
    # A delta from nowhere, pending as if a write had appended it.
    bogus = msgspec.msgpack.encode(([[day, name, n] for _, day, name, n in wrong], [], []))
    if store.kind == "sqlite":
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            db.executemany(
                "INSERT INTO tallies (portal_id, day, name, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (portal_id, day, name) DO UPDATE SET value = value + excluded.value",
                wrong,
            )
            db.execute(
                "INSERT INTO tally_deltas (portal_id, deltas) VALUES (?, ?)", (ctx.portal.id, bogus)
            )
    else:
        con = await asyncpg.connect(database_url)
        try:
            await con.executemany(
                "INSERT INTO tallies (portal_id, day, name, value) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (portal_id, day, name) DO UPDATE SET value = tallies.value + $4",
                wrong,
            )
            await con.execute(
                "INSERT INTO tally_deltas (portal_id, deltas) VALUES ($1, $2)", ctx.portal.id, bogus
            )
        finally:
            await con.close()
    assert await store.tallies(ctx.portal.id, since_day=0) != right
    assert await store.recount_tallies(ctx.portal.id) == right
    assert await store.tallies(ctx.portal.id, since_day=0) == right


def test_the_recount_command_prints_the_counts(database_url: str) -> None:
    async def setup() -> PortalContext:
        store = open_store(Settings(database_url=database_url))
        await store.open()
        try:
            ctx = await new_portal(store)
            await opt_out(store, ctx, T, "a@example.com", "b@example.com")
            await api_writes(
                store, ctx, T + 1, ("a@example.com", 0, SUB), ("c@example.com", 1, SUB)
            )
            return ctx
        finally:
            await store.close()

    ctx = asyncio.run(setup())
    d = ctx.definitions
    result = CliRunner().invoke(
        main, ["tallies", "recount", "--portal", str(ctx.portal.id), "--database-url", database_url]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        lines[0] == f"portal {ctx.portal.id} ({ctx.portal.name}): 3 subscribers, 1 opted out of all"
    )
    assert (
        lines[1] == f"  type {d[0].id} {d[0].name}: 1 subscribed, 1 unsubscribed, 1 not specified"
    )
    assert (
        lines[2] == f"  type {d[1].id} {d[1].name}: 1 subscribed, 2 unsubscribed, 0 not specified"
    )
    unknown = CliRunner().invoke(
        main, ["tallies", "recount", "--portal", "999999", "--database-url", database_url]
    )
    assert unknown.exit_code == 1


def old_rows() -> list[tuple[int, str, bytes | None, bytes, str]]:
    """Records and ledger entries of portals 1 and 2 as a version before the tallies stored
    them: (portal, address, packed state or None, packed changes, actor), an erasure label's
    entry among them."""
    rows: list[tuple[int, str, bytes | None, bytes, str]] = []
    for portal_id in (1, 2):
        for i in range(5 * portal_id):
            status = SUB if i % 2 else UNSUB
            types = {10: TypeStatus(status, "Old", T - i * DAY_MS)}
            wide = {0: WideStatus(UNSUB, T, "Old")} if i % 3 == 0 else {}
            changes = codec.encode_changes([Change(ChangeKind.TYPE, 10, NS, status)])
            rows.append((portal_id, f"o{i}@example.com", codec.encode(types, wide), changes,
                         "import:1"))  # fmt: skip
        label = erasure_rules.label(bytes(32))
        rows.append((portal_id, label, None, codec.encode_changes([erasure_rules.ERASURE_CHANGE]),
                     "cli"))  # fmt: skip
    return rows


async def test_opening_a_database_from_before_the_tallies_counts_what_it_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite (PostgreSQL: tests/integration/test_postgres_migrations.py): a database at
    migration 7 with records and ledger entries, opened by this version."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:7])
    transactions.migrate(conn)
    monkeypatch.undo()
    conn.executemany(
        "INSERT INTO portals (id, name, secret, created_at) VALUES (?, ?, ?, ?)",
        [(1, "Old", "s" * 64, T), (2, "Other", "t" * 64, T)],
    )
    for portal_id, email, state, changes, actor in old_rows():
        conn.execute(
            "INSERT INTO events (portal_id, email, at, source, actor, correlation_id, changes) "
            "VALUES (?, ?, ?, 'Old', ?, 'c', ?)",
            (portal_id, email, T, actor, changes),
        )
        if state is not None:
            conn.execute(
                "INSERT INTO subscribers (portal_id, email, created_at, state) VALUES (?, ?, ?, ?)",
                (portal_id, email, T, state),
            )
    conn.close()

    store = open_store(Settings(database_url=f"sqlite:///{path}"))
    await store.open()
    try:
        for portal_id, subscribers in ((1, 5), (2, 10)):
            expected = await recounted_here(store, portal_id)
            assert expected.subscribers == subscribers
            assert await store.tallies(portal_id, since_day=0) == expected
    finally:
        await store.close()


def complaint_rows() -> tuple[bytes, bytes]:
    """A complaint's opt-out of all as a version before its chart source stored it: the
    packed state and changes; its day was counted as `out:other`."""
    wide = {0: WideStatus(UNSUB, T, "Spam complaint")}
    return codec.encode({}, wide), codec.encode_changes([Change(ChangeKind.WIDE, 0, NS, UNSUB)])


STALE_COMPLAINT = (1, DAY, "out:other", 1)  # (portal, day, name, value) as counted before


async def test_the_upgrade_to_the_feedback_source_recounts(tmp_path: Path) -> None:
    """SQLite (PostgreSQL: tests/integration/test_postgres_migrations.py): a complaint
    counted under `other` at migration 11 moves to `feedback` when this version opens it."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:11])
        transactions.migrate(conn)
    state, changes = complaint_rows()
    conn.execute("INSERT INTO portals (id, name, secret, created_at) VALUES (1, 'Old', ?, ?)",
                 ("s" * 64, T))  # fmt: skip
    conn.execute(
        "INSERT INTO events (portal_id, email, at, source, actor, correlation_id, changes) "
        "VALUES (1, 'c@example.com', ?, 'Spam complaint', 'feedback:ses', 'c', ?)",
        (T, changes),
    )
    conn.execute("INSERT INTO subscribers (portal_id, email, created_at, state) "
                 "VALUES (1, 'c@example.com', ?, ?)", (T, state))  # fmt: skip
    conn.execute("INSERT INTO tallies (portal_id, day, name, value) VALUES (?, ?, ?, ?)",
                 STALE_COMPLAINT)  # fmt: skip
    conn.close()
    store = open_store(Settings(database_url=f"sqlite:///{path}"))
    await store.open()
    try:
        days = (await store.tallies(1, since_day=0)).days
        assert days[DAY] == {"out:feedback": 1, "feedback:complaint": 1}
    finally:
        await store.close()


# --- folding, and writers at the same time ----------------------------------------


async def _pending(database_url: str) -> int:
    if database_url.startswith("sqlite:"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            return int(db.execute("SELECT count(*) FROM tally_deltas").fetchone()[0])
    con = await asyncpg.connect(database_url)
    try:
        return int(await con.fetchval("SELECT count(*) FROM tally_deltas"))
    finally:
        await con.close()


async def test_folding_moves_the_deltas_and_changes_no_total(
    store: Store, database_url: str
) -> None:
    ctx = await new_portal(store)
    await opt_out(store, ctx, T, "a@example.com", "b@example.com")
    await api_writes(store, ctx, T + 1, ("a@example.com", 0, SUB))
    await erase(store, ctx, T + 2, "b@example.com")
    before = await store.tallies(ctx.portal.id, since_day=0)
    assert await _pending(database_url) == 3  # one per transaction
    assert await store.fold_tallies() == 3
    assert await _pending(database_url) == 0
    assert await store.tallies(ctx.portal.id, since_day=0) == before
    assert await store.fold_tallies() == 0
    assert before == await recounted_here(store, ctx.portal.id)


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL's writers never fold
async def test_without_a_folder_a_sqlite_writer_folds_itself(
    store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert store.kind == "sqlite"
    monkeypatch.setattr(sqlite_tallies, "FOLD_INLINE", 4)
    ctx = await new_portal(store)
    for i in range(13):
        await api_writes(
            store, ctx, T + i, (f"w{i % 5}@example.com", i % 4, SUB if i % 2 else UNSUB)
        )
    assert await _pending(database_url) < 8  # folded at the 4th, 8th and 12th delta at most
    await assert_exact(store, ctx.portal.id)


async def test_concurrent_writers_and_folders_lose_nothing(store: Store, database_url: str) -> None:
    ctx = await new_portal(store)
    other = open_store(Settings(database_url=database_url))
    await other.open()  # a second process folding at the same time
    done = asyncio.Event()

    async def writer(n: int) -> None:
        for i in range(12):
            emails = [f"w{(n * 7 + i * 3 + k) % 23}@example.com" for k in range(3)]
            if i % 3 == 0:
                await opt_out(store, ctx, T + i, *emails)
            else:
                status = SUB if (n + i) % 2 else UNSUB
                await api_writes(store, ctx, T + i, *[(e, (n + i) % 4, status) for e in emails])

    async def folder(s: Store) -> None:
        while not done.is_set():
            await s.fold_tallies()
            await asyncio.sleep(0)

    async def recounter() -> None:  # a repair in the middle of it all
        while not done.is_set():
            await store.recount_tallies(ctx.portal.id)
            await asyncio.sleep(0)

    others = [asyncio.create_task(folder(s)) for s in (store, other, other)]
    others.append(asyncio.create_task(recounter()))
    try:
        await asyncio.gather(*(writer(n) for n in range(6)))
    finally:
        done.set()
        await asyncio.gather(*others)
        await other.close()
    kept = await store.tallies(ctx.portal.id, since_day=0)
    expected = await recounted_here(store, ctx.portal.id)
    assert kept == expected
    assert kept.subscribers == 23 and sum(kept.days[DAY].values()) > 0
    await store.fold_tallies()
    assert await _pending(database_url) == 0
    assert await store.tallies(ctx.portal.id, since_day=0) == expected
