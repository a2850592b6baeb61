"""What only the SQLite backend promises: query plans of the hot statements, WAL and
synchronous settings, one writer thread, readers that never wait for it, and migrations
applied once by processes that start together."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from commpref.domain.model import Change, ChangeKind, Event, Status, Subscriber, WideStatus
from commpref.errors import Unavailable
from commpref.storage import migrations
from commpref.storage.sqlite import admin, context, ledger, subscribers
from commpref.storage.sqlite.store import SqliteStore
from commpref.storage.subscribers import Outcome

NOW = 1_700_000_000_000
EMAILS = [f"user{i:04}@example.com" for i in range(300)]


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(f"sqlite:///{tmp_path}/commpref.db")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def opt_out_all(subs: dict[str, Subscriber]) -> Outcome[None]:
    change = Change(ChangeKind.WIDE, 0, Status.NOT_SPECIFIED, Status.UNSUBSCRIBED)
    for sub in subs.values():
        sub.created_at = sub.created_at or NOW
        sub.wide[0] = WideStatus(Status.UNSUBSCRIBED, NOW)
    events = [Event(e, (change,), "s", "token:1", "c", NOW) for e in subs]
    return Outcome(None, set(subs), events)


async def populate(store: SqliteStore) -> int:
    for name in ("A", "B"):
        portal = await store.create_portal(name=name, now=NOW)
        ctx = await store.portal_context(portal.id)
        await store.set_translation(
            definition_id=ctx.definitions[0].id,
            language_code="fr",
            name="n",
            description="d",
            now=NOW,
        )
        await store.create_token(
            portal_id=portal.id, name="t", secret_hash=name, scopes=frozenset({"x"}), now=NOW
        )
        for i in range(0, len(EMAILS), 100):
            await store.mutate(portal.id, EMAILS[i : i + 100], opt_out_all)
    return portal.id


HOT = {
    "load subscribers": (subscribers.SQL_LOAD_SUBSCRIBERS, (1, '["user0001@example.com"]')),
    "load one subscriber": (subscribers.SQL_LOAD_SUBSCRIBER, (1, "user0001@example.com")),
    "authenticate": (context.SQL_AUTHENTICATE, ("A",)),
    "portal context": (context.SQL_CONTEXT, (1,)),
    "events by email": (ledger.SQL_EVENTS_BY_EMAIL, (*ledger.chain_args([3, 9], 0), 1, 10)),
    "events of a portal": (ledger.SQL_EVENTS, (1, 0, 10)),
}
EXPECTED = {
    "load subscribers": "USING PRIMARY KEY (portal_id=? AND email=?)",
    "load one subscriber": "USING PRIMARY KEY (portal_id=? AND email=?)",
    "authenticate": "(secret_hash=?)",
    "portal context": "USING INTEGER PRIMARY KEY (rowid=?)",
    "events by email": "USING INTEGER PRIMARY KEY (rowid=?)",
    "events of a portal": "USING INTEGER PRIMARY KEY (rowid>?)",
}


@pytest.mark.parametrize("name", list(HOT))
async def test_hot_queries_use_indexes_and_never_sort(sqlite_store: SqliteStore, name: str) -> None:
    """Plans come from the schema alone: the store never runs ANALYZE."""
    await populate(sqlite_store)
    statement, args = HOT[name]
    with sqlite3.connect(sqlite_store.path) as conn:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + statement, args)]
    text = "\n".join(plan)
    assert EXPECTED[name] in text, text
    assert "TEMP B-TREE" not in text, text
    scans = [line for line in plan if line.startswith("SCAN")]
    # Only json_each and the ledger chain (a subject's own entries) are scanned.
    assert all("VIRTUAL TABLE" in line or line == "SCAN chain" for line in scans), text
    assert "BLOOM FILTER" not in text, text  # built by scanning a whole table


async def test_hot_queries_answer_what_the_store_answers(sqlite_store: SqliteStore) -> None:
    """The EXPLAINed constants are the statements that run (guards against drift)."""
    portal_id = await populate(sqlite_store)
    with sqlite3.connect(sqlite_store.path) as conn:
        rows = conn.execute(
            subscribers.SQL_LOAD_SUBSCRIBERS, (portal_id, '["user0001@example.com"]')
        )
        assert [r[0] for r in rows] == ["user0001@example.com"]
    subs = await sqlite_store.read_subscribers(portal_id, [*EMAILS[:3], "x@example.com"])
    assert sorted(subs) == EMAILS[:3]
    assert list(await sqlite_store.read_subscribers(portal_id, [EMAILS[1]])) == [EMAILS[1]]
    assert await sqlite_store.read_subscribers(portal_id, ["x@example.com"]) == {}
    assert len(await sqlite_store.events(portal_id, email=EMAILS[1])) == 1


async def test_wal_full_sync_and_no_checkpoint_on_commit(sqlite_store: SqliteStore) -> None:
    assert await sqlite_store.pragma("journal_mode") == "wal"
    assert await sqlite_store.pragma("synchronous") == 2  # FULL
    assert await sqlite_store.pragma("wal_autocheckpoint") == 0
    assert await sqlite_store.pragma("cache_size") == -64 * 1024
    assert await sqlite_store.pragma("foreign_keys") == 1
    assert await sqlite_store.pragma("temp_store") == 2  # MEMORY: savepoint journals stay off disk


async def test_synchronous_is_configurable_and_checked(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path}/n.db", synchronous="normal")
    await store.open()
    try:
        assert await store.pragma("synchronous") == 1
    finally:
        await store.close()
    with pytest.raises(ValueError):
        SqliteStore(f"sqlite:///{tmp_path}/x.db", synchronous="SOMETIMES")


async def test_urls_relative_absolute_and_invalid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = SqliteStore("sqlite:///data/nested/rel.db")
    absolute = SqliteStore(f"sqlite:///{tmp_path}/abs/x.db")
    assert relative.path == tmp_path / "data" / "nested" / "rel.db"
    assert absolute.path == tmp_path / "abs" / "x.db"
    for store in (relative, absolute):
        await store.open()
        await store.close()
        assert store.path.is_file()
    for bad in ("sqlite://", "sqlite:///", "sqlite:///:memory:", "postgresql://x/y"):
        with pytest.raises(ValueError):
            SqliteStore(bad)


def wal_size(db: Path) -> int:
    wal = Path(f"{db}-wal")
    return wal.stat().st_size if wal.exists() else 0


async def test_close_checkpoints_the_wal_and_is_idempotent(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path}/c.db")
    await store.open()
    portal_id = await populate(store)
    await store.close()
    await store.close()
    assert wal_size(store.path) == 0
    with pytest.raises(Unavailable):
        await store.read_subscribers(portal_id, EMAILS[:1])
    with pytest.raises(Unavailable):
        await store.ping()
    with sqlite3.connect(store.path) as conn:  # everything reached the main file
        (count,) = conn.execute("SELECT count(*) FROM subscribers").fetchone()
    assert count == 2 * len(EMAILS)


async def test_writes_run_on_one_thread_and_reads_never_wait(sqlite_store: SqliteStore) -> None:
    portal = await sqlite_store.create_portal(name="A", now=NOW)
    await sqlite_store.mutate(portal.id, ["a@example.com"], opt_out_all)
    threads: set[str] = set()
    started, release = threading.Event(), threading.Event()

    def blocking(subs: dict[str, Subscriber]) -> Outcome[None]:
        threads.add(threading.current_thread().name)
        started.set()
        release.wait(30)
        subs["a@example.com"].wide.clear()
        return Outcome(None, {"a@example.com"})

    write = asyncio.create_task(sqlite_store.mutate(portal.id, ["a@example.com"], blocking))
    assert await asyncio.to_thread(started.wait, 30)
    # the writer holds the write lock inside a transaction; reads still answer, from the
    # last committed state
    subs = await sqlite_store.read_subscribers(portal.id, ["a@example.com"])
    assert subs["a@example.com"].wide[0].status is Status.UNSUBSCRIBED
    assert await sqlite_store.authenticate("nobody") is None
    await sqlite_store.ping()
    assert not release.is_set() and not write.done()
    release.set()
    await write

    def record(subs: dict[str, Subscriber]) -> Outcome[None]:
        threads.add(threading.current_thread().name)
        return Outcome(None)

    await asyncio.gather(*(sqlite_store.mutate(portal.id, [], record) for _ in range(5)))
    assert len(threads) == 1
    assert (await sqlite_store.read_subscribers(portal.id, ["a@example.com"]))[
        "a@example.com"
    ].wide == {}


OPENER = """
import asyncio, sys, time
from commpref.storage.sqlite.store import SqliteStore

async def main(url, start):
    time.sleep(max(0.0, start - time.time()))  # start together
    store = SqliteStore(url)
    await store.open()
    print(await store.schema_version())
    await store.close()

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


def test_processes_opening_a_new_database_together_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/race/commpref.db"
    start = str(time.time() + 1.5)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, url, start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in outputs]
    latest = migrations.LATEST
    assert {out.strip() for out, _ in outputs} == {str((latest, latest))}
    with sqlite3.connect(tmp_path / "race" / "commpref.db") as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert sorted(versions) == [m.version for m in migrations.MIGRATIONS]


@pytest.mark.parametrize("attempt", range(6))
def test_threads_opening_a_new_database_together_migrate_once(tmp_path: Path, attempt: int) -> None:
    """Threads start closer together than processes, so they hit the race more often."""
    url = f"sqlite:///{tmp_path}/race/commpref.db"
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    async def open_close() -> None:
        store = SqliteStore(url)
        barrier.wait(30)
        await store.open()
        await store.close()

    def run() -> None:
        try:
            asyncio.run(open_close())
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with sqlite3.connect(tmp_path / "race" / "commpref.db") as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert sorted(versions) == [m.version for m in migrations.MIGRATIONS]


async def test_the_ledger_reads_the_same_after_migration_4_chains_an_older_database(
    tmp_path: Path,
) -> None:
    """Migration 4 replaces the ledger's per-subscriber index with chains. Build a ledger
    with erasures and second lives, take the database back to version 3's shape, reopen."""
    url = f"sqlite:///{tmp_path}/commpref.db"
    store = SqliteStore(url)
    await store.open()
    portal_id = await populate(store)
    for email in EMAILS[:3]:
        await store.erase(portal_id, email, actor="cli", correlation_id="c", source="s", now=NOW)
    await store.mutate(portal_id, EMAILS[:2], opt_out_all)  # a second life for two of them
    await store.erase(portal_id, EMAILS[0], actor="cli", correlation_id="c", source="s", now=NOW)
    subjects = [[e, await store.subject_label(portal_id, e)] for e in EMAILS[:5]]

    async def histories() -> list[list[int]]:
        return [[e.id for e in await store.ledger(portal_id, subjects=s)] for s in subjects] + [
            [e.id for e in await store.ledger(portal_id, subjects=s[1:])] for s in subjects
        ]

    before = await histories()
    assert [len(h) for h in before[:5]] == [4, 3, 2, 1, 1]
    await store.close()
    with sqlite3.connect(tmp_path / "commpref.db") as conn:
        conn.executescript(
            "CREATE INDEX events_by_subscriber ON events (portal_id, email, id);"
            "ALTER TABLE events DROP COLUMN prev;"
            "ALTER TABLE subscribers DROP COLUMN last_event;"
            "ALTER TABLE suppressions DROP COLUMN last_event;"
            "DELETE FROM schema_migrations WHERE version = 4;"
        )
    store = SqliteStore(url)
    await store.open()
    try:
        assert await store.schema_version() == (migrations.LATEST, migrations.LATEST)
        assert await histories() == before
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "commpref.db") as conn:
        indexes = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'events'")
        ]
    assert indexes == ["events"]


async def test_steady_writes_start_the_wal_over_and_lose_nothing(tmp_path: Path) -> None:
    """A PASSIVE checkpoint alone never lets a busy writer start the WAL over (it grew to
    1.7 GB in 14 s of the S1 bench): the writer restarts it past a threshold."""
    store = SqliteStore(
        f"sqlite:///{tmp_path}/commpref.db", checkpoint_interval=0.01, restart_wal_frames=16
    )
    await store.open()
    try:
        portal = await store.create_portal(name="P", now=NOW)
        batches = [
            [f"w{w}.{i}.{k}@example.com" for k in range(20)] for w in range(8) for i in range(60)
        ]

        async def writer(mine: list[list[str]]) -> None:
            for batch in mine:
                await store.mutate(portal.id, batch, opt_out_all)

        await asyncio.gather(*(writer(batches[w::8]) for w in range(8)))
        assert store.wal_restarts > 0
        every = [e for batch in batches for e in batch]
        assert len(await store.read_subscribers(portal.id, every)) == len(every)
        assert len(await store.ledger(portal.id, limit=len(every) + 1)) == len(every)
    finally:
        await store.close()


async def test_authentication_is_remembered_until_any_process_changes_what_it_read(
    sqlite_store: SqliteStore,
) -> None:
    portal = await sqlite_store.create_portal(name="P", now=NOW)
    await sqlite_store.create_token(
        portal_id=portal.id, name="t", secret_hash="h1", scopes=frozenset({"x"}), now=NOW
    )
    assert await sqlite_store.authenticate("h1") is not None
    statements: list[str] = []
    assert sqlite_store._inline is not None
    sqlite_store._inline.set_trace_callback(statements.append)
    found = await sqlite_store.authenticate("h1")
    assert found is not None and found[0].revoked_at is None
    assert statements == [admin.SQL_CONFIG_VERSION]  # no token, portal or definitions read
    # Another process revokes it and adds a definition: seen on the very next call.
    with sqlite3.connect(sqlite_store.path) as other:
        other.execute("UPDATE tokens SET revoked_at = 5 WHERE secret_hash = 'h1'")
    found = await sqlite_store.authenticate("h1")
    assert found is not None and found[0].revoked_at == 5
    await sqlite_store.create_definition(portal_id=portal.id, name="News", description="", now=NOW)
    found = await sqlite_store.authenticate("h1")
    assert found is not None and len(found[1].definitions) == 4
