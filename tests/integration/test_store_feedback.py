"""Mailbox feedback in the store (`storage/feedback.py`): provider configurations per
portal and the ids of applied provider events. Every backend."""

from __future__ import annotations

import pytest

from commpref.domain.feedback import Provider
from commpref.errors import NotFound
from commpref.storage.store import Store

NOW = 1_700_000_000_000


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


async def test_applied_event_ids_are_recorded_once_per_portal_and_provider(store: Store) -> None:
    a = await store.create_portal(name="A", now=NOW)
    b = await store.create_portal(name="B", now=NOW)
    assert await store.seen_feedback_events(a.id, Provider.SES, []) == set()
    assert await store.record_feedback_events(a.id, Provider.SES, [], NOW) == set()

    new = await store.record_feedback_events(a.id, Provider.SES, ["e1", "e2", "e2"], NOW)
    assert new == {"e1", "e2"}
    again = await store.record_feedback_events(a.id, Provider.SES, ["e2", "e3"], NOW + 5)
    assert again == {"e3"}
    assert await store.seen_feedback_events(a.id, Provider.SES, ["e1", "e3", "e4"]) == {
        "e1",
        "e3",
    }
    # The same id from another provider or portal is another event.
    assert await store.seen_feedback_events(a.id, Provider.SENDGRID, ["e1"]) == set()
    assert await store.seen_feedback_events(b.id, Provider.SES, ["e1"]) == set()
    assert await store.record_feedback_events(b.id, Provider.SES, ["e1"], NOW) == {"e1"}


async def test_many_ids_at_once(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    ids = [f"id-{i}" for i in range(1200)]  # more than one statement's worth on SQLite
    assert await store.record_feedback_events(portal.id, Provider.SENDGRID, ids, NOW) == set(ids)
    assert await store.seen_feedback_events(portal.id, Provider.SENDGRID, ids) == set(ids)


async def test_pruning_forgets_old_ids_only(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    await store.record_feedback_events(portal.id, Provider.MAILGUN, ["old"], NOW)
    await store.record_feedback_events(portal.id, Provider.MAILGUN, ["new"], NOW + 100)
    assert await store.prune_feedback_events(before=NOW + 100) == 1
    assert await store.prune_feedback_events(before=NOW + 100) == 0
    assert await store.seen_feedback_events(portal.id, Provider.MAILGUN, ["old", "new"]) == {"new"}
    # A pruned id can be recorded again: a delivery that old is refused before this.
    assert await store.record_feedback_events(portal.id, Provider.MAILGUN, ["old"], NOW) == {"old"}
