"""PostgreSQL faults: unreachable at start, connections lost while running, the database
refusing connections and coming back, and a request cancelled half-way through a write."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from commpref.domain.model import Change, ChangeKind, Event, Status, Subscriber, TypeStatus
from commpref.errors import Unavailable
from commpref.storage.postgres.store import PostgresStore
from commpref.storage.subscribers import Outcome
from tests.conftest import POSTGRES_URL
from tests.support.postgres import database_name, wait_for, with_database

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs COMMPREF_TEST_POSTGRES_URL"),
]


@pytest.fixture
def store(pg_store: PostgresStore) -> PostgresStore:
    return pg_store


@pytest.fixture
async def admin() -> AsyncIterator[Any]:
    """A connection to the maintenance database, outside the store's pool."""
    assert POSTGRES_URL is not None
    con = await asyncpg.connect(POSTGRES_URL)
    try:
        yield con
    finally:
        await con.close()


def mark(emails: list[str], at: int) -> Any:
    """A plan storing `at` as every address's status time, with a ledger entry each."""

    def plan(subs: dict[str, Subscriber]) -> Outcome[None]:
        events = []
        for email in emails:
            subs[email].created_at = at
            subs[email].types[1] = TypeStatus(Status.SUBSCRIBED, "test", at)
            change = Change(ChangeKind.TYPE, 1, Status.NOT_SPECIFIED, Status.SUBSCRIBED)
            events.append(Event(email, (change,), "test", "test", str(at), at))
        return Outcome(None, set(emails), events)

    return plan


async def terminate(admin: Any, url: str) -> int:
    terminated = await admin.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
        database_name(url),
    )
    return int(terminated)


# --- start-up --------------------------------------------------------------------------


async def test_open_with_nothing_listening_raises_a_one_line_unavailable() -> None:
    assert POSTGRES_URL is not None
    parts = urlsplit(POSTGRES_URL)
    # Port 1: nothing listens there. The password must not reach the message.
    netloc = f"{parts.username or 'postgres'}:hunter2@{parts.hostname or '127.0.0.1'}:1"
    store = PostgresStore(urlunsplit(parts._replace(netloc=netloc)))
    with pytest.raises(Unavailable) as caught:
        await store.open()
    message = caught.value.message
    assert "\n" not in message
    assert message.startswith("cannot connect to postgresql://")
    assert ":1/" in message
    assert "hunter2" not in message


async def test_open_of_a_missing_database_says_so() -> None:
    assert POSTGRES_URL is not None
    store = PostgresStore(with_database(POSTGRES_URL, "commpref_no_such_database"))
    with pytest.raises(Unavailable) as caught:
        await store.open()
    assert "commpref_no_such_database" in caught.value.message
    assert "does not exist" in caught.value.message


# --- while running -----------------------------------------------------------------------


async def test_terminated_connections_fail_cleanly_and_the_pool_recovers(
    store: PostgresStore, url: str, admin: Any
) -> None:
    portal = await store.create_portal(name="p", now=1)
    # Check out every pooled connection at once so that all of them get killed.
    await asyncio.gather(*(store.portal_context(portal.id) for _ in range(3)))
    assert await terminate(admin, url) >= 1

    outcomes: list[object] = []
    for _ in range(3):
        try:
            outcomes.append(await store.get_portal(portal.id))
        except Unavailable as e:  # the only acceptable failure
            outcomes.append(e.message)
    assert all(o == portal or o == "database unavailable" for o in outcomes), outcomes
    assert await store.get_portal(portal.id) == portal
    await store.mutate(portal.id, ["a@example.com"], mark(["a@example.com"], 5))
    assert (await store.read_subscribers(portal.id, ["a@example.com"]))["a@example.com"]


async def test_a_connection_lost_mid_write_raises_unavailable_and_writes_nothing(
    store: PostgresStore, url: str, admin: Any
) -> None:
    portal = await store.create_portal(name="p", now=1)
    await store.mutate(portal.id, ["b@example.com"], mark(["b@example.com"], 1))
    emails = ["a@example.com", "b@example.com"]
    holder = await asyncpg.connect(url)
    try:
        # Lock one stored address so that the write waits inside its transaction, after it
        # has claimed the new one.
        await holder.execute("BEGIN")
        await holder.execute("SELECT 1 FROM subscribers WHERE email = $1 FOR UPDATE", emails[1])
        write = asyncio.ensure_future(store.mutate(portal.id, emails, mark(emails, 7)))
        waiting = (
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' "
            "AND query LIKE '%INSERT INTO subscribers%'"
        )
        await wait_for(admin, f"SELECT EXISTS ({waiting})", database_name(url))
        await admin.execute(
            f"SELECT pg_terminate_backend(pid) FROM ({waiting}) AS w", database_name(url)
        )
        with pytest.raises(Unavailable, match=r"^database unavailable$"):
            await write
    finally:
        await holder.close()
    stored = await store.read_subscribers(portal.id, emails)
    assert list(stored) == ["b@example.com"]
    assert stored["b@example.com"].types[1].timestamp == 1
    await store.mutate(portal.id, emails, mark(emails, 8))
    stored = await store.read_subscribers(portal.id, emails)
    assert sorted(s.types[1].timestamp for s in stored.values()) == [8, 8]


async def test_a_database_refusing_connections_gives_unavailable_until_it_returns(
    store: PostgresStore, url: str, admin: Any
) -> None:
    portal = await store.create_portal(name="p", now=1)
    name = database_name(url)
    await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    try:
        await terminate(admin, url)
        for _ in range(3):
            with pytest.raises(Unavailable, match=r"^database unavailable$"):
                await store.get_portal(portal.id)
        with pytest.raises(Unavailable):
            await store.ping()
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    await store.ping()
    assert await store.get_portal(portal.id) == portal


# --- cancellation --------------------------------------------------------------------------


# Where the write waits when it is cancelled: while claiming its rows (5000 placeholders
# inserted, the last address locked by another session), or after saving every row, waiting
# to append its ledger entries (the events table share-locked by another session).
BLOCKERS = {
    "claiming": ("SELECT 1 FROM subscribers WHERE email = 'zz-last@example.com' FOR UPDATE",
                 "INSERT INTO subscribers"),
    "appending": ("LOCK TABLE events IN SHARE MODE", "INSERT INTO events"),
}  # fmt: skip


@pytest.mark.parametrize("blocked_at", sorted(BLOCKERS))
async def test_cancelled_mid_write_writes_nothing(
    store: PostgresStore, url: str, admin: Any, blocked_at: str
) -> None:
    portal = await store.create_portal(name="p", now=1)
    last = "zz-last@example.com"
    await store.mutate(portal.id, [last], mark([last], 1))
    emails = [f"a{i:05}@example.com" for i in range(5000)] + [last]
    block, statement = BLOCKERS[blocked_at]
    holder = await asyncpg.connect(url)
    try:
        await holder.execute("BEGIN")
        await holder.execute(block)
        write = asyncio.ensure_future(store.mutate(portal.id, emails, mark(emails, 9)))
        await wait_for(
            admin,
            "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = $1 "
            "AND wait_event_type = 'Lock' AND query LIKE '%' || $2 || '%'",
            database_name(url),
            statement,
        )
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
    finally:
        await holder.close()
    stored = await store.read_subscribers(portal.id, emails)
    assert list(stored) == [last]
    assert stored[last].types[1].timestamp == 1
    assert [e.event.at for e in await store.events(portal.id)] == [1]
    # The store is still usable: the cancelled transaction's connection was cleaned up.
    await store.mutate(portal.id, emails, mark(emails, 10))
    assert len(await store.read_subscribers(portal.id, emails)) == len(emails)


async def test_cancelling_large_batches_at_any_point_is_all_or_nothing(
    store: PostgresStore,
) -> None:
    portal = await store.create_portal(name="p", now=1)
    batches = [[f"b{b}-{i:05}@example.com" for i in range(3000)] for b in range(12)]
    for b, emails in enumerate(batches):
        write = asyncio.ensure_future(store.mutate(portal.id, emails, mark(emails, b)))
        for _ in range(b * 3):  # cancel at a different point of each batch's life
            await asyncio.sleep(0)
        write.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await write
    for emails in batches:
        stored = await store.read_subscribers(portal.id, emails)
        assert len(stored) in (0, len(emails))
