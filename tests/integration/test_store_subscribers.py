"""Storage contract, part 2: subscribers, `mutate` and the ledger.

Runs on every backend (the `store` fixture); tests only what `storage/store.py` promises.
"""

from __future__ import annotations

import asyncio
import copy

import pytest

from commpref.domain.model import (
    Change,
    ChangeKind,
    Event,
    Portal,
    Status,
    Subscriber,
    TypeStatus,
    WideStatus,
)
from commpref.errors import ValidationError
from commpref.settings import Settings
from commpref.storage import migrations, open_store
from commpref.storage.store import Store
from commpref.storage.subscribers import Outcome, Plan

NOW = 1_700_000_000_000
A, B, C = "a@example.com", "b@example.com", "c@example.com"


async def new_portal(store: Store, name: str = "P") -> tuple[Portal, list[int]]:
    portal = await store.create_portal(name=name, now=NOW)
    ctx = await store.portal_context(portal.id)
    return portal, [d.id for d in ctx.definitions]


def event(email: str, *changes: Change, at: int = NOW, correlation_id: str = "c-1") -> Event:
    return Event(email, changes, "Public status API", "token:1", correlation_id, at)


def count_plan(email: str) -> Plan[int]:
    """A plan using wide[0].timestamp as a counter: lost updates show as a short count."""

    def plan(subs: dict[str, Subscriber]) -> Outcome[int]:
        sub = subs[email]
        if sub.created_at is None:
            sub.created_at = NOW
        n = sub.wide[0].timestamp + 1 if 0 in sub.wide else 1
        sub.wide[0] = WideStatus(Status.UNSUBSCRIBED, n, "count")
        change = Change(ChangeKind.WIDE, 0, Status.NOT_SPECIFIED, Status.UNSUBSCRIBED)
        return Outcome(n, {email}, [event(email, change, at=n)])

    return plan


async def test_plan_sees_every_address_and_untouched_ones_are_not_stored(store: Store) -> None:
    portal, _ = await new_portal(store)
    seen: dict[str, Subscriber] = {}

    def plan(subs: dict[str, Subscriber]) -> Outcome[str]:
        seen.update(copy.deepcopy(subs))
        for sub in subs.values():
            sub.created_at = NOW  # set but not touched: must not be saved
        return Outcome("done")

    assert await store.mutate(portal.id, [A, B], plan) == "done"
    assert seen == {A: Subscriber(A), B: Subscriber(B)}
    assert await store.read_subscribers(portal.id, [A, B]) == {}
    assert await store.read_subscribers(portal.id, []) == {}
    assert await store.events(portal.id) == []


async def test_mutate_saves_touched_subscribers_and_state_round_trips(store: Store) -> None:
    portal, (d1, d2, d3) = await new_portal(store)
    types = {
        d1: TypeStatus(Status.SUBSCRIBED, "Form", NOW + 1, "CONSENT_WITH_NOTICE", "Ticked"),
        d2: TypeStatus(Status.UNSUBSCRIBED, "Public status API, App ID:7", NOW + 2),
        d3: TypeStatus(Status.NOT_SPECIFIED, "Not specified", NOW + 3, None, None),
    }
    wide = {0: WideStatus(Status.UNSUBSCRIBED, NOW + 4, "x"), 5: WideStatus(Status.SUBSCRIBED, 9)}

    def create(subs: dict[str, Subscriber]) -> Outcome[None]:
        subs[A].created_at = NOW
        subs[A].types = copy.deepcopy(types)
        subs[A].wide = copy.deepcopy(wide)
        subs[B].created_at = NOW + 10
        return Outcome(None, {A, B})

    await store.mutate(portal.id, [A, B, C], create)
    stored = await store.read_subscribers(portal.id, [A, B, C, "other@example.com"])
    assert set(stored) == {A, B}
    a = stored[A]
    assert (a.email, a.created_at, a.types, a.wide) == (A, NOW, types, wide)
    assert (stored[B].created_at, stored[B].types, stored[B].wide) == (NOW + 10, {}, {})

    loaded: dict[str, Subscriber] = {}

    def change(subs: dict[str, Subscriber]) -> Outcome[None]:
        loaded.update(copy.deepcopy(subs))
        subs[A].types[d2] = TypeStatus(Status.SUBSCRIBED, "Import", NOW + 20, "NON_GDPR", "e")
        del subs[A].wide[5]
        return Outcome(None, {A})

    await store.mutate(portal.id, [A], change)
    assert (loaded[A].created_at, loaded[A].types, loaded[A].wide) == (NOW, types, wide)
    a = (await store.read_subscribers(portal.id, [A]))[A]
    assert a.created_at == NOW
    assert a.types[d2] == TypeStatus(Status.SUBSCRIBED, "Import", NOW + 20, "NON_GDPR", "e")
    assert a.types[d1] == types[d1]
    assert a.wide == {0: wide[0]}


async def test_events_are_appended_in_order_with_their_changes(store: Store) -> None:
    portal, (d1, d2, _) = await new_portal(store)
    first = [
        event(
            A,
            Change(
                ChangeKind.TYPE,
                d1,
                Status.NOT_SPECIFIED,
                Status.SUBSCRIBED,
                "CONSENT_WITH_NOTICE",
                "Ticked the box",
            ),
            Change(ChangeKind.WIDE, 0, Status.UNSUBSCRIBED, Status.SUBSCRIBED),
        ),
        event(B, Change(ChangeKind.TYPE, d2, Status.SUBSCRIBED, Status.UNSUBSCRIBED)),
    ]
    second = [
        event(
            A,
            Change(ChangeKind.WIDE, 0, Status.SUBSCRIBED, Status.UNSUBSCRIBED),
            at=NOW + 1,
            correlation_id="c-2",
        )
    ]

    def plan(events: list[Event]) -> Plan[None]:
        def run(subs: dict[str, Subscriber]) -> Outcome[None]:
            for sub in subs.values():
                sub.created_at = sub.created_at or NOW
            return Outcome(None, set(subs), events)

        return run

    await store.mutate(portal.id, [A, B], plan(first))
    await store.mutate(portal.id, [A], plan(second))
    stored = await store.events(portal.id)
    assert [s.event for s in stored] == first + second
    assert {s.portal_id for s in stored} == {portal.id}
    ids = [s.id for s in stored]
    assert ids == sorted(ids) and len(set(ids)) == 3

    assert [s.event for s in await store.events(portal.id, email=A)] == [first[0], second[0]]
    assert [s.event for s in await store.events(portal.id, email=B)] == [first[1]]
    assert await store.events(portal.id, email=C) == []
    assert await store.events(portal.id, limit=2) == stored[:2]
    assert await store.events(portal.id, after_id=ids[0]) == stored[1:]
    assert await store.events(portal.id, email=A, after_id=ids[0]) == [stored[2]]
    assert await store.events(portal.id, after_id=ids[-1]) == []


async def test_a_failing_plan_writes_nothing(store: Store) -> None:
    portal, (d1, _, _) = await new_portal(store)
    await store.mutate(portal.id, [A], count_plan(A))
    before = await store.read_subscribers(portal.id, [A, B])
    events_before = await store.events(portal.id)

    def failing(subs: dict[str, Subscriber]) -> Outcome[None]:
        for sub in subs.values():
            sub.created_at = NOW
            sub.types[d1] = TypeStatus(Status.SUBSCRIBED, "x", NOW)
        raise ValidationError("refused")

    with pytest.raises(ValidationError, match="refused"):
        await store.mutate(portal.id, [A, B], failing)
    assert await store.read_subscribers(portal.id, [A, B]) == before
    assert await store.events(portal.id) == events_before

    def touches_unknown(subs: dict[str, Subscriber]) -> Outcome[None]:
        subs[A].wide.clear()
        return Outcome(None, {A, "not-loaded@example.com"}, [event(A)])

    def unencodable_event(subs: dict[str, Subscriber]) -> Outcome[None]:
        subs[A].wide.clear()
        subs[B].created_at = NOW
        broken = Change(ChangeKind.WIDE, object(), Status.NOT_SPECIFIED, Status.SUBSCRIBED)  # type: ignore[arg-type]
        return Outcome(None, {A, B}, [event(A), event(B, broken)])

    # failures while persisting (after some rows may have been written) roll back too
    for plan in (touches_unknown, unencodable_event):
        with pytest.raises(Exception):  # noqa: B017 - any error, as long as nothing is written
            await store.mutate(portal.id, [A, B], plan)
        assert await store.read_subscribers(portal.id, [A, B]) == before
        assert await store.events(portal.id) == events_before
    # the store is still usable after a rollback
    assert await store.mutate(portal.id, [A], count_plan(A)) == 2


async def test_portals_never_see_each_others_subscribers_or_events(store: Store) -> None:
    a, _ = await new_portal(store, "A")
    b, _ = await new_portal(store, "B")
    await store.mutate(a.id, [A], count_plan(A))
    assert await store.read_subscribers(b.id, [A]) == {}
    assert await store.events(b.id) == []
    assert await store.events(b.id, email=A) == []

    seen: list[Subscriber] = []

    def look(subs: dict[str, Subscriber]) -> Outcome[None]:
        seen.append(copy.deepcopy(subs[A]))
        return Outcome(None)

    await store.mutate(b.id, [A], look)
    assert seen == [Subscriber(A)]
    await store.mutate(b.id, [A], count_plan(A))
    assert (await store.read_subscribers(a.id, [A]))[A].wide[0].timestamp == 1
    assert (await store.read_subscribers(b.id, [A]))[A].wide[0].timestamp == 1
    assert len(await store.events(a.id)) == len(await store.events(b.id)) == 1


async def test_concurrent_mutations_of_one_address_lose_no_update(store: Store) -> None:
    portal, _ = await new_portal(store)
    results = await asyncio.gather(
        *(store.mutate(portal.id, [A], count_plan(A)) for _ in range(50))
    )
    assert sorted(results) == list(range(1, 51))
    assert (await store.read_subscribers(portal.id, [A]))[A].wide[0].timestamp == 50
    assert len(await store.events(portal.id, email=A)) == 50


async def test_concurrent_mutations_over_overlapping_addresses(store: Store) -> None:
    """Both orders of the same pair (a deadlock risk for row locks) and readers in between:
    every commit is all-or-nothing, so a read never sees the pair out of step."""
    portal, _ = await new_portal(store)

    def both(subs: dict[str, Subscriber]) -> Outcome[None]:
        for sub in subs.values():
            sub.created_at = sub.created_at or NOW
            n = sub.wide[0].timestamp + 1 if 0 in sub.wide else 1
            sub.wide[0] = WideStatus(Status.UNSUBSCRIBED, n)
        return Outcome(None, set(subs))

    async def read_pair() -> None:
        subs = await store.read_subscribers(portal.id, [A, B])
        if subs:
            assert subs[A].wide[0].timestamp == subs[B].wide[0].timestamp

    tasks = [store.mutate(portal.id, [A, B] if i % 2 else [B, A], both) for i in range(20)]
    await asyncio.gather(*tasks, *(read_pair() for _ in range(20)))
    subs = await store.read_subscribers(portal.id, [A, B])
    assert [subs[e].wide[0].timestamp for e in (A, B)] == [20, 20]


async def test_a_large_batch_is_one_mutation(store: Store) -> None:
    portal, _ = await new_portal(store)
    emails = [f"user{i}@example.com" for i in range(1500)]

    def plan(subs: dict[str, Subscriber]) -> Outcome[int]:
        for sub in subs.values():
            sub.created_at = NOW
        return Outcome(len(subs), set(subs), [event(e) for e in emails])

    assert await store.mutate(portal.id, emails, plan) == 1500
    assert len(await store.read_subscribers(portal.id, emails)) == 1500
    stored = await store.events(portal.id, limit=2000)
    assert [s.event.email for s in stored] == emails


async def test_writes_survive_close_and_reopen(database_url: str) -> None:
    first = open_store(Settings(database_url=database_url))
    await first.open()
    try:
        portal, (d1, _, _) = await new_portal(first)
        token = await first.create_token(
            portal_id=portal.id, name="t", secret_hash="h", scopes=frozenset({"x"}), now=NOW
        )
        await first.mutate(portal.id, [A], count_plan(A))
        await first.set_secret_if_absent("k", "v")
    finally:
        await first.close()

    second = open_store(Settings(database_url=database_url))
    await second.open()
    try:
        assert await second.get_portal(portal.id) == portal
        found = await second.authenticate("h")
        assert found is not None and found[0] == token
        assert found[1].definition(d1) is not None
        assert (await second.read_subscribers(portal.id, [A]))[A].wide[0].timestamp == 1
        assert len(await second.events(portal.id)) == 1
        assert await second.get_secret("k") == "v"
        assert await second.schema_version() == (migrations.LATEST, migrations.LATEST)
    finally:
        await second.close()
