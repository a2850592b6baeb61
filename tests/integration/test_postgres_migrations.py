"""PostgreSQL migrations: applied once under concurrency, upgrades, one transaction each."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import asyncpg
import pytest

from commpref.storage.migrations import LATEST, MIGRATIONS, Migration
from commpref.storage.postgres.connection import MIGRATION_LOCK, apply_migrations
from commpref.storage.postgres.store import PostgresStore
from tests.conftest import POSTGRES_URL
from tests.integration.test_store_tallies import (
    DAY,
    STALE_COMPLAINT,
    T,
    complaint_rows,
    old_rows,
    recounted_here,
)
from tests.support.postgres import fresh_database

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs COMMPREF_TEST_POSTGRES_URL"),
]


@pytest.fixture
def empty_url() -> Iterator[str]:
    assert POSTGRES_URL is not None
    with fresh_database(POSTGRES_URL, migrated=False) as url:
        yield url


async def applied(url: str) -> list[int]:
    con = await asyncpg.connect(url)
    try:
        return [r[0] for r in await con.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
    finally:
        await con.close()


async def test_stores_opening_together_apply_each_migration_once(empty_url: str) -> None:
    stores = [PostgresStore(empty_url, pool_size=2) for _ in range(8)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        versions = await asyncio.gather(*(s.schema_version() for s in stores))
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert versions == [(LATEST, LATEST)] * len(stores)
    assert await applied(empty_url) == [m.version for m in MIGRATIONS]


def test_processes_starting_together_apply_each_migration_once(empty_url: str) -> None:
    script = (
        "import asyncio, sys\n"
        "from commpref.storage.postgres.store import PostgresStore\n"
        "async def main():\n"
        "    s = PostgresStore(sys.argv[1], pool_size=1)\n"
        "    await s.open()\n"
        "    print(await s.schema_version())\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, empty_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outputs
    assert [out.strip() for out, _ in outputs] == [str((LATEST, LATEST))] * 4
    assert asyncio.run(applied(empty_url)) == [m.version for m in MIGRATIONS]


async def test_open_upgrades_a_database_at_the_previous_version(empty_url: str) -> None:
    # With one migration so far, "the previous version" is an empty database at 0.
    con = await asyncpg.connect(empty_url)
    try:
        await apply_migrations(con, upto=LATEST - 1)
    finally:
        await con.close()
    assert await applied(empty_url) == list(range(1, LATEST))

    store = PostgresStore(empty_url)
    await store.open()
    try:
        assert await store.schema_version() == (LATEST, LATEST)
        portal = await store.create_portal(name="after upgrade", now=1)
        ctx = await store.portal_context(portal.id)
        assert next(d.name for d in ctx.definitions) == "Marketing Information"
    finally:
        await store.close()
    assert await applied(empty_url) == [m.version for m in MIGRATIONS]


async def test_reopening_applies_nothing(empty_url: str) -> None:
    for _ in range(2):
        store = PostgresStore(empty_url)
        await store.open()
        await store.close()
    con = await asyncpg.connect(empty_url)
    try:
        assert await apply_migrations(con) == []
        rows = await con.fetch("SELECT version, name, applied_at FROM schema_migrations")
    finally:
        await con.close()
    assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in MIGRATIONS]
    assert all(r["applied_at"] > 0 for r in rows)


async def test_a_failing_migration_leaves_nothing_of_itself(empty_url: str) -> None:
    broken = Migration(
        LATEST + 1,
        "broken",
        "CREATE TABLE half_done (x INTEGER); SELECT no_such_column FROM half_done",
    )
    con = await asyncpg.connect(empty_url)
    try:
        with pytest.raises(asyncpg.UndefinedColumnError):
            await apply_migrations(con, upto=LATEST + 1, migrations=(*MIGRATIONS, broken))
        assert await con.fetchval("SELECT to_regclass('half_done')") is None
        # The lock was released: another session can migrate straight away.
        other = await asyncpg.connect(empty_url)
        try:
            assert await other.fetchval("SELECT pg_try_advisory_lock($1, $2)", *MIGRATION_LOCK)
        finally:
            await other.close()
    finally:
        await con.close()
    assert await applied(empty_url) == [m.version for m in MIGRATIONS]


async def test_an_upgrade_counts_the_tallies_of_what_the_database_holds(empty_url: str) -> None:
    # Records and ledger entries written at migration 7, before the tallies existed.
    con = await asyncpg.connect(empty_url)
    try:
        await apply_migrations(con, upto=7)
        await con.executemany(
            "INSERT INTO portals (id, name, secret, created_at) VALUES ($1, $2, $3, $4)",
            [(1, "Old", "s" * 64, 1), (2, "Other", "t" * 64, 1)],
        )
        for portal_id, email, state, changes, actor in old_rows():
            await con.execute(
                "INSERT INTO events (portal_id, email, at, source, actor, correlation_id, "
                "changes) VALUES ($1, $2, $3, 'Old', $4, 'c', $5)",
                portal_id, email, T, actor, changes,
            )  # fmt: skip
            if state is not None:
                await con.execute(
                    "INSERT INTO subscribers (portal_id, email, created_at, state) "
                    "VALUES ($1, $2, $3, $4)",
                    portal_id, email, T, state,
                )  # fmt: skip
    finally:
        await con.close()

    store = PostgresStore(empty_url)
    await store.open()
    try:
        for portal_id, subscribers in ((1, 5), (2, 10)):
            expected = await recounted_here(store, portal_id)
            assert expected.subscribers == subscribers
            assert await store.tallies(portal_id, since_day=0) == expected
    finally:
        await store.close()
    con = await asyncpg.connect(empty_url)
    try:  # counted once, into the totals: nothing pending
        assert await con.fetchval("SELECT count(*) FROM tally_deltas") == 0
        assert await con.fetchval("SELECT count(*) FROM tallies WHERE portal_id = 2") > 0
    finally:
        await con.close()


async def test_the_upgrade_to_the_feedback_source_recounts(empty_url: str) -> None:
    """A complaint counted under `other` at migration 11 moves to `feedback`."""
    state, changes = complaint_rows()
    con = await asyncpg.connect(empty_url)
    try:
        await apply_migrations(con, upto=11)
        await con.execute(
            "INSERT INTO portals (id, name, secret, created_at) VALUES (1, 'Old', $1, $2)",
            "s" * 64, T,
        )  # fmt: skip
        await con.execute(
            "INSERT INTO events (portal_id, email, at, source, actor, correlation_id, changes) "
            "VALUES (1, 'c@example.com', $1, 'Spam complaint', 'feedback:ses', 'c', $2)",
            T, changes,
        )  # fmt: skip
        await con.execute(
            "INSERT INTO subscribers (portal_id, email, created_at, state) "
            "VALUES (1, 'c@example.com', $1, $2)",
            T, state,
        )  # fmt: skip
        await con.execute(
            "INSERT INTO tallies (portal_id, day, name, value) VALUES ($1, $2, $3, $4)",
            *STALE_COMPLAINT,
        )
    finally:
        await con.close()
    store = PostgresStore(empty_url)
    await store.open()
    try:
        days = (await store.tallies(1, since_day=0)).days
        assert days[DAY] == {"out:feedback": 1, "feedback:complaint": 1}
    finally:
        await store.close()
