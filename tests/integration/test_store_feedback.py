"""Mailbox feedback in the store (`storage/feedback.py`): provider configurations per
portal and the ids of applied provider events, recorded in the transaction that applies
them. Every backend."""

from __future__ import annotations

import asyncio

import pytest

from commpref.domain.feedback import Provider
from commpref.domain.model import Change, ChangeKind, Event, Status, Subscriber
from commpref.errors import NotFound
from commpref.storage.feedback import FeedbackPlan
from commpref.storage.store import Store
from commpref.storage.subscribers import Outcome

NOW = 1_700_000_000_000
A = "jane@example.com"


async def test_a_provider_configuration_is_put_read_replaced_and_deleted(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    other = await store.create_portal(name="B", now=NOW)
    assert await store.get_feedback_provider(portal.id, Provider.MAILGUN) is None
    assert await store.list_feedback_providers(portal.id) == []

    put = await store.put_feedback_provider(
        portal_id=portal.id, provider=Provider.MAILGUN, config={"signingKey": "k1"}, now=NOW
    )
    assert (put.portal_id, put.provider, dict(put.config), put.updated_at) == (
        portal.id,
        Provider.MAILGUN,
        {"signingKey": "k1"},
        NOW,
    )
    await store.put_feedback_provider(
        portal_id=portal.id, provider=Provider.SES, config={}, now=NOW
    )
    replaced = await store.put_feedback_provider(
        portal_id=portal.id, provider=Provider.MAILGUN, config={"signingKey": "k2"}, now=NOW + 1
    )
    assert replaced.get("signingKey") == "k2" and replaced.updated_at == NOW + 1
    got = await store.get_feedback_provider(portal.id, Provider.MAILGUN)
    assert got == replaced
    listed = await store.list_feedback_providers(portal.id)
    assert [c.provider for c in listed] == [Provider.MAILGUN, Provider.SES]
    assert await store.list_feedback_providers(other.id) == []  # portals do not share

    assert await store.delete_feedback_provider(portal.id, Provider.MAILGUN) is True
    assert await store.delete_feedback_provider(portal.id, Provider.MAILGUN) is False
    assert await store.get_feedback_provider(portal.id, Provider.MAILGUN) is None


async def test_a_configuration_needs_a_portal(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.put_feedback_provider(
            portal_id=987654, provider=Provider.SES, config={}, now=NOW
        )


def noting(seen: list[frozenset[str]], *, email: str = A, fail: bool = False) -> FeedbackPlan[int]:
    """A plan that notes the new ids it is given and writes one entry per new id."""

    def plan(subs: dict[str, Subscriber], new: frozenset[str]) -> Outcome[int]:
        seen.append(new)
        if fail:
            raise RuntimeError("plan failed")
        if not new:
            return Outcome(0)
        sub = subs[email]
        sub.created_at = sub.created_at or NOW
        changes = tuple(
            Change(ChangeKind.SOFT_BOUNCE, 0, Status.NOT_SPECIFIED, Status.NOT_SPECIFIED)
            for _ in new
        )
        event = Event(email, changes, "Soft bounce", "feedback:ses", "cid", NOW)
        return Outcome(len(new), {email}, [event])

    return plan


async def record(
    store: Store, portal_id: int, provider: Provider, ids: list[str], now: int = NOW
) -> frozenset[str]:
    seen: list[frozenset[str]] = []
    await store.apply_feedback(portal_id, provider, ids, [A], noting(seen), now=now)
    return seen[-1]


async def test_applied_event_ids_are_new_once_per_portal_and_provider(store: Store) -> None:
    a = await store.create_portal(name="A", now=NOW)
    b = await store.create_portal(name="B", now=NOW)
    assert await record(store, a.id, Provider.SES, []) == frozenset()
    assert await record(store, a.id, Provider.SES, ["e1", "e2", "e2"]) == {"e1", "e2"}
    assert await record(store, a.id, Provider.SES, ["e2", "e3"], NOW + 5) == {"e3"}
    # The same id from another provider or portal is another event.
    assert await record(store, a.id, Provider.SENDGRID, ["e1"]) == {"e1"}
    assert await record(store, b.id, Provider.SES, ["e1"]) == {"e1"}
    entries = await store.events(a.id, email=A)
    assert sorted(len(e.event.changes) for e in entries) == [1, 1, 2]


async def test_the_ids_and_the_effect_commit_together(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    seen: list[frozenset[str]] = []
    with pytest.raises(RuntimeError):
        await store.apply_feedback(
            portal.id, Provider.SES, ["e1"], [A], noting(seen, fail=True), now=NOW
        )
    assert await store.events(portal.id, email=A) == []
    # Nothing was recorded, so the provider's retry applies the event.
    assert await record(store, portal.id, Provider.SES, ["e1"]) == {"e1"}
    assert len(await store.events(portal.id, email=A)) == 1


async def test_concurrent_deliveries_of_one_event_apply_it_once(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    applied = await asyncio.gather(
        *(
            store.apply_feedback(portal.id, Provider.SES, ["e1"], [A], noting([]), now=NOW)
            for _ in range(5)
        )
    )
    assert sorted(applied) == [0, 0, 0, 0, 1]
    assert len(await store.events(portal.id, email=A)) == 1


async def test_many_ids_at_once(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    ids = [f"id-{i}" for i in range(1200)]  # more than one statement's worth on SQLite
    assert await record(store, portal.id, Provider.SENDGRID, ids) == set(ids)
    assert await record(store, portal.id, Provider.SENDGRID, ids) == frozenset()


async def test_pruning_forgets_old_ids_only(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    await record(store, portal.id, Provider.MAILGUN, ["old"], NOW)
    await record(store, portal.id, Provider.MAILGUN, ["new"], NOW + 100)
    assert await store.prune_feedback_events(before=NOW + 100) == 1
    assert await store.prune_feedback_events(before=NOW + 100) == 0
    # A pruned id is new again (a delivery that old is refused before this); a kept one not.
    assert await record(store, portal.id, Provider.MAILGUN, ["old", "new"]) == {"old"}
