"""`PostgresStore.mutate` across processes: no lost updates, one event per actual change, and a
constant number of statements per batch."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from commpref.domain.model import (
    Actor,
    Change,
    ChangeKind,
    Event,
    Status,
    Subscriber,
    TypeStatus,
)
from commpref.errors import NotFound, ValidationError
from commpref.services import statuses
from commpref.services.context import Call
from commpref.storage.postgres.coalesce import Batcher, Outcomes
from commpref.storage.postgres.store import PostgresStore
from commpref.storage.subscribers import Outcome
from tests.conftest import POSTGRES_URL
from tests.support.postgres import wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs COMMPREF_TEST_POSTGRES_URL"),
]

COUNTER = 0  # a definition id no portal has: the plans below use its timestamp as a counter


@pytest.fixture
async def stores(url: str) -> AsyncIterator[list[PostgresStore]]:
    """Four stores with their own pools: as many processes sharing one database."""
    opened = [PostgresStore(url, pool_size=3) for _ in range(4)]
    for s in opened:
        await s.open()
    try:
        yield opened
    finally:
        for s in opened:
            await s.close()


def increment(emails: list[str], batch: int) -> Any:
    """A plan adding one to each address's counter, recording old→new in its event."""

    def plan(subs: dict[str, Subscriber]) -> Outcome[int]:
        events = []
        for email in emails:
            sub = subs[email]
            if sub.created_at is None:
                sub.created_at = batch
            old = sub.types.get(COUNTER)
            n = old.timestamp if old else 0
            sub.types[COUNTER] = TypeStatus(Status.SUBSCRIBED, "counter", n + 1)
            change = (Change(ChangeKind.TYPE, COUNTER, Status.NOT_SPECIFIED, Status.SUBSCRIBED),)
            events.append(Event(email, change, f"{n}->{n + 1}", "test", str(batch), batch))
        return Outcome(batch, set(emails), events)

    return plan


async def test_overlapping_batches_from_several_stores_lose_no_update(
    stores: list[PostgresStore],
) -> None:
    portal = await stores[0].create_portal(name="p", now=1)
    rng = random.Random(7)
    addresses = [f"a{i}@example.com" for i in range(30)]
    batches = [rng.sample(addresses, rng.randint(1, 20)) for _ in range(120)]

    await asyncio.gather(
        *(
            stores[i % len(stores)].mutate(portal.id, b, increment(b, i))
            for i, b in enumerate(batches)
        )
    )

    expected = {a: sum(a in b for b in batches) for a in addresses}
    stored = await stores[1].read_subscribers(portal.id, addresses)
    assert {a: stored[a].types[COUNTER].timestamp for a in stored} == {
        a: n for a, n in expected.items() if n
    }
    for a in addresses:
        ledger = [e.event.source for e in await stores[2].events(portal.id, email=a)]
        # One event per change, in the order the changes were made.
        assert ledger == [f"{n}->{n + 1}" for n in range(expected[a])]


async def test_concurrent_status_writes_keep_the_ledger_a_chain(
    stores: list[PostgresStore],
) -> None:
    portal = await stores[0].create_portal(name="p", now=1)
    ctx = await stores[0].portal_context(portal.id)
    definitions = [d.id for d in ctx.definitions]
    rng = random.Random(11)
    addresses = [f"b{i}@example.com" for i in range(12)]

    async def request(i: int) -> None:
        store = stores[i % len(stores)]
        call = Call.make(ctx, Actor("test", str(i)), now=1000 + i)
        chosen = rng.sample(addresses, rng.randint(1, 6))
        if i % 5 == 0:
            await statuses.unsubscribe_all(
                store=store, call=call, inputs=chosen, business_unit_id=None
            )
            return
        writes = [
            statuses.StatusWrite(
                a, rng.choice(definitions), rng.choice([Status.SUBSCRIBED, Status.UNSUBSCRIBED])
            )
            for a in chosen
        ]
        await statuses.write_statuses(store=store, call=call, writes=writes)

    await asyncio.gather(*(request(i) for i in range(150)))

    stored = await stores[3].read_subscribers(portal.id, addresses)
    for a in addresses:
        last: dict[tuple[ChangeKind, int], Status] = {}
        for stored_event in await stores[3].events(portal.id, email=a):
            for c in stored_event.event.changes:
                key = (c.kind, c.target)
                assert c.old == last.get(key, Status.NOT_SPECIFIED), (a, key)  # no lost update
                assert c.new != c.old  # an event only for an actual change
                last[key] = c.new
        sub = stored.get(a, Subscriber(a))
        assert {k: v for k, v in last.items() if k[0] is ChangeKind.TYPE} == {
            (ChangeKind.TYPE, d): s.status for d, s in sub.types.items()
        }
        assert {k: v for k, v in last.items() if k[0] is ChangeKind.WIDE} == {
            (ChangeKind.WIDE, u): w.status for u, w in sub.wide.items()
        }


async def test_a_reader_paging_with_after_id_misses_no_event(
    stores: list[PostgresStore],
) -> None:
    """Ids come from a sequence and writers commit out of order; a change-feed reader that
    pages with the last id it saw must still see every entry exactly once."""
    portal = await stores[0].create_portal(name="p", now=1)
    writing = True
    seen: list[int] = []

    async def writer(w: int) -> None:
        for i in range(40):
            emails = [f"w{w}-{i}-{j}@example.com" for j in range(5)]
            await stores[w].mutate(portal.id, emails, increment(emails, i))

    async def reader() -> None:
        while writing:
            seen.extend(
                e.id for e in await stores[3].events(portal.id, after_id=max(seen, default=0))
            )
        seen.extend(e.id for e in await stores[3].events(portal.id, after_id=max(seen, default=0)))

    follow = asyncio.ensure_future(reader())
    await asyncio.gather(*(writer(w) for w in range(3)))
    writing = False
    await follow

    everything = [e.id for e in await stores[0].events(portal.id, limit=10_000)]
    assert len(everything) == 3 * 40 * 5
    assert seen == everything


async def test_a_deadlock_is_retried_inside_the_store(
    stores: list[PostgresStore], url: str
) -> None:
    """Another session (not commpref: commpref's writers lock in one order) closes a lock
    cycle with a write; PostgreSQL aborts the write, and the store re-runs it."""
    store = stores[0]
    portal = await store.create_portal(name="p", now=1)
    emails = ["a@example.com", "b@example.com"]
    await store.mutate(portal.id, emails, increment(emails, 1))
    other = await asyncpg.connect(url)
    try:
        await other.execute("BEGIN")
        # Our write's deadlock check (1 s by default) must fire first, so that ours is aborted.
        await other.execute("SET LOCAL deadlock_timeout = '60s'")
        await other.execute("SELECT 1 FROM subscribers WHERE email = 'b@example.com' FOR UPDATE")
        write = asyncio.ensure_future(store.mutate(portal.id, emails, increment(emails, 2)))
        await wait_for(
            other,
            "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO subscribers%'",
        )
        # Closes the cycle: the write holds a@ and waits for b@. This returns only once the
        # write's transaction is aborted (it holds a@ until it ends, and cannot end while we
        # hold b@); the write must then succeed all the same.
        await other.execute("SELECT 1 FROM subscribers WHERE email = 'a@example.com' FOR UPDATE")
        await other.execute("COMMIT")
        assert await write == 2
    finally:
        await other.close()
    stored = await store.read_subscribers(portal.id, emails)
    assert {e: s.types[COUNTER].timestamp for e, s in stored.items()} == {e: 2 for e in emails}
    ledger = [e.event.source for e in await store.events(portal.id)]
    assert ledger == ["0->1", "0->1", "1->2", "1->2"]  # the aborted attempt left nothing


async def test_a_schema_change_under_cached_statements_is_retried(
    stores: list[PostgresStore], url: str
) -> None:
    """A rolling upgrade: another process migrates while this one holds prepared statements
    whose result types the migration changed."""
    store = stores[0]
    portal = await store.create_portal(name="p", now=1)
    emails = ["a@example.com"]
    await store.mutate(portal.id, emails, increment(emails, 1))  # prepares and caches
    other = await asyncpg.connect(url)
    try:
        await other.execute("ALTER TABLE subscribers ALTER COLUMN created_at TYPE integer")
    finally:
        await other.close()
    assert await store.mutate(portal.id, emails, increment(emails, 2)) == 2
    stored = await store.read_subscribers(portal.id, emails)
    assert stored["a@example.com"].types[COUNTER].timestamp == 2


class CountingStore(PostgresStore):
    """Records every statement its connections send (asyncpg's query logger)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, pool_size=1)
        self.statements: list[str] = []
        self.connection: Any = None

    async def _init_connection(self, con: Any) -> None:
        self.connection = con
        con.add_query_logger(lambda record: self.statements.append(record.query))

    async def count(self, work: Any) -> int:
        self.statements.clear()
        await work
        await asyncio.sleep(0)  # the logger runs its callbacks with call_soon
        return len(self.statements)


async def test_a_batch_costs_the_same_statements_whatever_its_size(url: str) -> None:
    store = CountingStore(url)
    await store.open()
    try:
        portal = await store.create_portal(name="p", now=1)

        def batch(tag: str, n: int) -> list[str]:
            return [f"{tag}{i}@example.com" for i in range(n)]

        await store.mutate(portal.id, batch("warm", 3), increment(batch("warm", 3), 0))
        counts = {}
        for n in (1, 100, 1000):
            emails = batch(f"new{n}-", n)
            counts[n] = await store.count(store.mutate(portal.id, emails, increment(emails, n)))
        # Updating existing subscribers costs the same as creating them.
        emails = batch("new100-", 100)
        updates = await store.count(store.mutate(portal.id, emails, increment(emails, 2)))
        reads = await store.count(store.read_subscribers(portal.id, emails))

        # BEGIN, claim (lock), load, save (subscribers, placeholders, ledger, outbox), COMMIT.
        assert counts == {1: 5, 100: 5, 1000: 5}
        assert updates == 5
        assert reads == 1
        # Prepared once per connection and reused, not re-parsed per batch.
        prepared = await store.connection.fetchval(
            # (split so that this statement does not match itself)
            "SELECT count(*) FROM pg_prepared_statements"
            " WHERE statement LIKE '%SET state = s.state' || ' WHERE false%'"
        )
        assert prepared == 1
        stored = await store.read_subscribers(portal.id, batch("new1000-", 1000))
        assert len(stored) == 1000
    finally:
        await store.close()


def count_batches(batcher: Batcher[Any, Any]) -> list[int]:
    """The sizes of the batches `batcher` runs from now on (the database still does the work)."""
    sizes: list[int] = []
    run = batcher._run

    async def counted(portal_id: int, jobs: list[Any]) -> Outcomes:
        sizes.append(len(jobs))
        return await run(portal_id, jobs)

    batcher._run = counted
    return sizes


async def test_concurrent_reads_share_queries_and_see_every_acknowledged_write(
    stores: list[PostgresStore],
) -> None:
    """Reads asked for together share one query (`storage.postgres.coalesce`); each still gets
    exactly its own addresses, and nothing older than the writes acknowledged before it."""
    store = stores[0]
    portal = await store.create_portal(name="p", now=1)
    other = await store.create_portal(name="q", now=1)
    addresses = [f"c{i}@example.com" for i in range(40)]
    await store.mutate(portal.id, addresses[:30], increment(addresses[:30], 1))
    await store.mutate(other.id, addresses[:5], increment(addresses[:5], 1))
    alone = {a: await store.read_subscribers(portal.id, [a]) for a in addresses}

    queries = count_batches(store._reads)
    together = await asyncio.gather(*(store.read_subscribers(portal.id, [a]) for a in addresses))
    assert together == [alone[a] for a in addresses]
    assert len(queries) < len(addresses) / 4  # most of them shared a query
    assert sum(queries) == len(addresses)

    # A write acknowledged before a read starts is in that read, however it is batched.
    async def write_then_read(i: int) -> int:
        a = addresses[i]
        await stores[1 + i % 3].mutate(portal.id, [a], increment([a], 2))
        got = await store.read_subscribers(portal.id, [a])
        return got[a].types[COUNTER].timestamp

    counts = await asyncio.gather(*(write_then_read(i) for i in range(40)))
    assert counts == [2] * 30 + [1] * 10
    # Text PostgreSQL cannot hold fails its own read only, not the others of its query.
    good, bad = await asyncio.gather(
        store.read_subscribers(portal.id, [addresses[0]]),
        store.read_subscribers(portal.id, ["nul\x00@example.com"]),
        return_exceptions=True,
    )
    assert isinstance(good, dict) and good[addresses[0]].types[COUNTER].timestamp == 2
    assert isinstance(bad, ValidationError)
    # The other portal's reads never see this portal's rows.
    theirs = await asyncio.gather(*(store.read_subscribers(other.id, [a]) for a in addresses))
    assert [a for t in theirs for a in t] == addresses[:5]


async def test_concurrent_writes_share_transactions_and_a_failing_plan_fails_alone(
    stores: list[PostgresStore],
) -> None:
    """Writes of one loop turn run in one transaction (`PostgresStore._write_batch`); a plan
    that raises leaves no trace, even on addresses the others of its group change."""
    store = stores[0]
    portal = await store.create_portal(name="p", now=1)
    addresses = [f"d{i}@example.com" for i in range(8)]
    transactions = count_batches(store._writes)

    def failing(emails: list[str]) -> Any:
        def plan(subs: dict[str, Subscriber]) -> Outcome[int]:
            increment(emails, 99)(subs)  # changes every subscriber, then gives up
            raise NotFound("no such thing")

        return plan

    writes = []
    for i in range(40):
        chosen = list(dict.fromkeys([addresses[i % 8], addresses[(i * 3) % 8]]))
        plan = failing(chosen) if i % 7 == 3 else increment(chosen, i)
        writes.append(store.mutate(portal.id, chosen, plan))
    results = await asyncio.gather(*writes, return_exceptions=True)

    failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [i for i in range(40) if i % 7 == 3]
    assert all(isinstance(results[i], NotFound) for i in failed)
    assert len(transactions) < 10 and sum(transactions) == 40
    expected = {a: 0 for a in addresses}
    for i in range(40):
        if i % 7 != 3:
            for a in dict.fromkeys([addresses[i % 8], addresses[(i * 3) % 8]]):
                expected[a] += 1
    stored = await stores[1].read_subscribers(portal.id, addresses)
    assert {a: s.types[COUNTER].timestamp for a, s in stored.items()} == expected
    for a in addresses:  # one ledger entry per successful write, none from the failed ones
        sources = [e.event.source for e in await stores[2].events(portal.id, email=a)]
        assert sources == [f"{n}->{n + 1}" for n in range(expected[a])]
