"""Storage contract, part 4: ledger queries, erasure and suppression, export paging, and the
webhook outbox written by `mutate`. Runs on every backend."""

from __future__ import annotations

import copy

from commpref.domain import erasure
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
from commpref.domain.webhooks import DeliveryState, EventFilter
from commpref.storage.store import Store
from commpref.storage.subscribers import Outcome, Plan

NOW = 1_700_000_000_000
A, B, C = "a@example.com", "b@example.com", "c@example.com"
NS, SUB, UNSUB = Status.NOT_SPECIFIED, Status.SUBSCRIBED, Status.UNSUBSCRIBED


async def new_portal(store: Store, name: str = "P") -> tuple[Portal, list[int]]:
    portal = await store.create_portal(name=name, now=NOW)
    ctx = await store.portal_context(portal.id)
    return portal, [d.id for d in ctx.definitions]


def writes(
    d: int, *emails: str, actor: str = "token:1", at: int = NOW, status: Status = UNSUB
) -> Plan[None]:
    """Set definition `d` of each address to `status`, one ledger entry per address."""

    def plan(subs: dict[str, Subscriber]) -> Outcome[None]:
        events = []
        for email in emails:
            sub = subs[email]
            sub.created_at = sub.created_at or at
            old = sub.types[d].status if d in sub.types else NS
            sub.types[d] = TypeStatus(status, "Public status API", at)
            change = Change(ChangeKind.TYPE, d, old, status)
            events.append(Event(email, (change,), "Public status API", actor, "c-1", at))
        return Outcome(None, set(emails), events)

    return plan


# --- the ledger as a feed ---------------------------------------------------------------------


async def test_ledger_filters_by_subject_actor_and_time(store: Store) -> None:
    portal, (d1, _, _) = await new_portal(store)
    await store.mutate(portal.id, [A, B], writes(d1, A, B, actor="token:1", at=NOW))
    await store.mutate(portal.id, [A], writes(d1, A, actor="import:12", at=NOW + 10, status=SUB))
    await store.mutate(portal.id, [C], writes(d1, C, actor="import:123", at=NOW + 20))
    every = await store.ledger(portal.id)
    assert [(e.event.email, e.event.actor) for e in every] == [
        (A, "token:1"),
        (B, "token:1"),
        (A, "import:12"),
        (C, "import:123"),
    ]
    ids = [e.id for e in every]
    assert ids == sorted(ids)

    async def emails(**kw: object) -> list[str]:
        return [e.event.email for e in await store.ledger(portal.id, **kw)]  # type: ignore[arg-type]

    assert await emails(subjects=[A]) == [A, A]
    assert await emails(subjects=[A, C]) == [A, A, C]
    assert await emails(subjects=[]) == []
    assert await emails(actor="import") == [A, C]  # a kind matches every id of it
    assert await emails(actor="import:12") == [A]  # an exact actor is not a prefix
    assert await emails(actor="import:1") == []
    assert await emails(at_from=NOW + 10) == [A, C]
    assert await emails(at_from=NOW, at_to=NOW + 20) == [A, B, A]
    assert await emails(after_id=ids[1], limit=1) == [A]
    assert await emails(subjects=[A], actor="token", at_to=NOW + 1) == [A]
    assert [e.id for e in await store.ledger_entries(portal.id, [ids[3], ids[0], 10**9])] == [
        ids[0],
        ids[3],
    ]
    other, _ = await new_portal(store, "Other")
    assert await store.ledger(other.id) == []
    assert await store.ledger_entries(other.id, ids) == []


# --- erasure -------------------------------------------------------------------------------


async def test_erase_removes_statuses_relabels_the_ledger_and_keeps_a_suppression(
    store: Store,
) -> None:
    portal, (d1, d2, d3) = await new_portal(store)
    await store.mutate(portal.id, [A, B], writes(d1, A, B))
    label = await store.subject_label(portal.id, A)
    assert erasure.is_label(label) and label == await store.subject_label(portal.id, A)

    done = await store.erase(
        portal.id, A, actor="token:9", correlation_id="c-erase", source="commpref API", now=NOW + 5
    )
    assert (done.label, done.existed, done.events_rewritten) == (label, True, 1)
    ledger = await store.ledger(portal.id)
    assert [e.event.email for e in ledger] == [label, B, label]
    assert A not in {e.event.email for e in ledger}
    assert ledger[2].event == Event(
        label, (erasure.ERASURE_CHANGE,), "commpref API", "token:9", "c-erase", NOW + 5
    )

    # Read back: opted out of everything since the erasure, on every business unit.
    read = await store.read_subscribers(portal.id, [A, B, C])
    assert set(read) == {A, B}
    a = read[A]
    assert a == erasure.suppressed_subscriber(A, NOW + 5, [d1, d2, d3], [0])
    seen: list[Subscriber] = []

    def look(subs: dict[str, Subscriber]) -> Outcome[None]:
        seen.append(copy.deepcopy(subs[A]))
        return Outcome(None)

    await store.mutate(portal.id, [A], look)
    assert seen == [a]
    assert set(await store.read_subscribers(portal.id, [A])) == {A}  # the look stored nothing
    assert [s.email for s in await store.subscribers_page(portal.id)] == [B]


async def test_a_write_after_an_erasure_stores_the_suppressed_state_plus_the_change(
    store: Store,
) -> None:
    portal, (d1, d2, _) = await new_portal(store)
    await store.erase(portal.id, A, actor="cli", correlation_id="c", source="s", now=NOW)
    await store.mutate(portal.id, [A], writes(d1, A, at=NOW + 1, status=SUB))
    a = (await store.read_subscribers(portal.id, [A]))[A]
    assert a.created_at == NOW
    assert a.types[d1].status is SUB and a.types[d2].status is UNSUB
    assert a.wide[0] == WideStatus(UNSUB, NOW, erasure.ERASURE_SOURCE)
    # Erasing again relabels the new entry too and keeps the latest erasure time.
    again = await store.erase(
        portal.id, A, actor="cli", correlation_id="c", source="s", now=NOW + 2
    )
    assert (again.existed, again.events_rewritten) == (True, 1)
    assert (await store.read_subscribers(portal.id, [A]))[A].created_at == NOW + 2


async def test_erasing_an_unknown_address_still_suppresses_it_in_that_portal_only(
    store: Store,
) -> None:
    portal, _ = await new_portal(store)
    other, _ = await new_portal(store, "Other")
    done = await store.erase(portal.id, C, actor="cli", correlation_id="c", source="s", now=NOW)
    assert (done.existed, done.events_rewritten) == (False, 0)
    assert C in await store.read_subscribers(portal.id, [C])
    assert await store.read_subscribers(other.id, [C]) == {}
    assert await store.subject_label(portal.id, C) != await store.subject_label(other.id, C)


async def test_a_subjects_ledger_follows_it_through_batches_erasures_and_a_second_life(
    store: Store,
) -> None:
    portal, (d1, d2, _) = await new_portal(store)

    def a_twice_and_b(subs: dict[str, Subscriber]) -> Outcome[None]:  # as an import chunk
        out = [writes(d1, A, B)(subs), writes(d2, A)(subs)]
        return Outcome(None, {A, B}, [e for o in out for e in o.events])

    await store.mutate(portal.id, [A, B], a_twice_and_b)
    await store.mutate(portal.id, [B], writes(d2, B, at=NOW + 1))
    await store.mutate(portal.id, [A], writes(d1, A, at=NOW + 2, status=SUB))

    async def ids(*subjects: str, after_id: int = 0, limit: int = 1000) -> list[int]:
        found = await store.ledger(
            portal.id, subjects=list(subjects), after_id=after_id, limit=limit
        )
        return [e.id for e in found]

    first_life = await ids(A)
    assert len(first_life) == 3 and first_life == sorted(first_life)
    assert [e.id for e in await store.events(portal.id, email=A)] == first_life
    paged, after = [], 0
    while page := await ids(A, after_id=after, limit=1):
        paged += page
        after = page[-1]
    assert paged == first_life

    label = await store.subject_label(portal.id, A)
    await store.erase(portal.id, A, actor="cli", correlation_id="c", source="s", now=NOW + 5)
    assert await ids(A) == [] and await store.events(portal.id, email=A) == []
    under_label = await ids(label)
    assert under_label[:3] == first_life and len(under_label) == 4

    await store.mutate(portal.id, [A], writes(d2, A, at=NOW + 6, status=SUB))
    second_life = await ids(A)
    assert len(second_life) == 1 and second_life[0] > under_label[-1]
    assert await ids(A, label) == under_label + second_life
    done = await store.erase(portal.id, A, actor="cli", correlation_id="c", source="s", now=NOW + 7)
    assert done.events_rewritten == 1
    every = await store.ledger(portal.id, subjects=[label])
    assert [e.id for e in every[:-1]] == under_label + second_life
    assert every[-1].event.changes == (erasure.ERASURE_CHANGE,)
    assert await ids(label, after_id=under_label[1], limit=2) == under_label[2:4]
    assert [e.event.email for e in await store.ledger(portal.id, subjects=[B])] == [B, B]
    assert await ids("erased:not-hex") == []


# --- export paging ---------------------------------------------------------------------------


async def test_subscribers_page_walks_the_portal_by_address(store: Store) -> None:
    portal, (d1, _, _) = await new_portal(store)
    emails = [f"u{i:03d}@example.com" for i in range(25)]
    await store.mutate(portal.id, emails[::-1], writes(d1, *emails))
    other, (o1, _, _) = await new_portal(store, "Other")
    await store.mutate(other.id, ["zz@example.com"], writes(o1, "zz@example.com"))
    seen: list[str] = []
    after = ""
    while page := await store.subscribers_page(portal.id, after_email=after, limit=10):
        assert len(page) <= 10
        seen += [s.email for s in page]
        after = page[-1].email
    assert seen == emails
    assert (await store.subscribers_page(portal.id, limit=1))[0].types[d1].status is UNSUB


# --- the outbox --------------------------------------------------------------------------------


async def test_mutate_queues_each_new_entry_for_each_active_webhook_only(store: Store) -> None:
    portal, (d1, _, _) = await new_portal(store)
    other, (o1, _, _) = await new_portal(store, "Other")
    await store.mutate(portal.id, [A], writes(d1, A))  # no webhooks yet: nothing queued
    assert await store.webhook_backlog() == 0
    first = await store.create_webhook(
        portal_id=portal.id,
        url="http://h/1",
        secret="s" * 16,
        event_filter=EventFilter(),
        active=True,
        now=NOW,
    )
    second = await store.create_webhook(
        portal_id=portal.id,
        url="http://h/2",
        secret="s" * 16,
        event_filter=EventFilter(),
        active=True,
        now=NOW,
    )
    paused = await store.create_webhook(
        portal_id=portal.id,
        url="http://h/3",
        secret="s" * 16,
        event_filter=EventFilter(),
        active=False,
        now=NOW,
    )
    await store.mutate(portal.id, [A, B], writes(d1, A, B, at=NOW + 1, status=SUB))
    await store.mutate(other.id, [A], writes(o1, A))
    ledger = await store.ledger(portal.id)
    for hook in (first, second):
        queued = await store.deliveries(portal.id, hook.id)
        assert [(d.event_id, d.subscriber, d.state) for d in queued] == [
            (ledger[1].id, A, DeliveryState.PENDING),
            (ledger[2].id, B, DeliveryState.PENDING),
        ]
    assert await store.deliveries(portal.id, paused.id) == []
    assert await store.webhook_backlog() == 4
    # The erasure entry is queued as well, and pending deliveries forget the address.
    await store.erase(portal.id, A, actor="cli", correlation_id="c", source="s", now=NOW + 2)
    label = await store.subject_label(portal.id, A)
    queued = await store.deliveries(portal.id, first.id)
    assert [d.subscriber for d in queued] == [label, B, label]
    assert await store.webhook_backlog() == 6
