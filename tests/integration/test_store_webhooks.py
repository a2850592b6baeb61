"""Storage contract, part 6: webhooks and their outbox — CRUD, claims in ledger order per
subscriber, leases, outcomes, retry and replay. Runs on every backend."""

from __future__ import annotations

import asyncio

import pytest

from commpref.domain.model import Status
from commpref.domain.webhooks import DeliveryState, EventFilter, Webhook
from commpref.storage.store import Store
from tests.integration.test_store_ledger import NOW, A, B, new_portal, writes

LEASE = NOW + 60_000
SECRET = "whsec_" + "x" * 20


async def hook(store: Store, portal_id: int, *, active: bool = True) -> Webhook:
    return await store.create_webhook(
        portal_id=portal_id,
        url="http://127.0.0.1:9/hook",
        secret=SECRET,
        event_filter=EventFilter(frozenset({Status.UNSUBSCRIBED})),
        active=active,
        now=NOW,
    )


async def test_webhooks_belong_to_their_portal(store: Store) -> None:
    portal, _ = await new_portal(store)
    other, _ = await new_portal(store, "Other")
    created = await hook(store, portal.id)
    assert (created.url, created.secret, created.active, created.created_at) == (
        "http://127.0.0.1:9/hook",
        SECRET,
        True,
        NOW,
    )
    assert created.event_filter == EventFilter(frozenset({Status.UNSUBSCRIBED}))
    assert await store.get_webhook(portal.id, created.id) == created
    assert await store.get_webhook(other.id, created.id) is None
    assert await store.list_webhooks(portal.id) == [created]
    assert await store.list_webhooks(other.id) == []
    assert await store.update_webhook(other.id, created.id, now=NOW, active=False) is None
    changed = await store.update_webhook(
        portal.id,
        created.id,
        now=NOW + 1,
        url="https://example.com/h",
        active=False,
        event_filter=EventFilter(include_wide=False),
        secret="whsec_" + "y" * 20,
    )
    assert changed is not None
    assert (changed.url, changed.active, changed.updated_at, changed.secret) == (
        "https://example.com/h",
        False,
        NOW + 1,
        "whsec_" + "y" * 20,
    )
    assert changed.event_filter == EventFilter(include_wide=False)
    with pytest.raises(ValueError, match="unknown webhook field"):
        await store.update_webhook(portal.id, created.id, now=NOW, owner=3)
    assert not await store.delete_webhook(other.id, created.id)
    assert await store.delete_webhook(portal.id, created.id)
    assert await store.list_webhooks(portal.id) == []


async def test_claims_follow_ledger_order_per_subscriber_and_leases(store: Store) -> None:
    portal, (d1, d2, _) = await new_portal(store)
    h = await hook(store, portal.id)
    await store.mutate(portal.id, [A, B], writes(d1, A, B))
    await store.mutate(portal.id, [A], writes(d2, A, at=NOW + 1))
    first = await store.claim_deliveries(now=NOW, lease_until=LEASE, limit=10)
    # A's second entry waits for its first; B's goes at once.
    assert [(c.entry.event.email, c.delivery.attempts) for c in first] == [(A, 0), (B, 0)]
    assert {c.webhook.id for c in first} == {h.id}
    assert first[0].entry.event.changes[0].target == d1
    # Leased: nobody else gets them (or A's next) while the lease holds.
    assert await store.claim_deliveries(now=NOW + 1, lease_until=LEASE, limit=10) == []
    a_first, b_first = first
    await store.finish_delivery(
        a_first.delivery.id,
        state=DeliveryState.PENDING,
        attempts=1,
        next_attempt_at=NOW + 500,
        status_code=503,
        error="HTTP 503",
        now=NOW + 2,
    )
    await store.finish_delivery(
        b_first.delivery.id,
        state=DeliveryState.DELIVERED,
        attempts=1,
        next_attempt_at=NOW + 2,
        status_code=200,
        error=None,
        now=NOW + 2,
    )
    # A's first is back but not due; its second still waits behind it.
    assert await store.claim_deliveries(now=NOW + 3, lease_until=LEASE, limit=10) == []
    retried = await store.claim_deliveries(now=NOW + 500, lease_until=LEASE, limit=10)
    assert [(c.delivery.id, c.delivery.attempts) for c in retried] == [(a_first.delivery.id, 1)]
    await store.finish_delivery(
        a_first.delivery.id,
        state=DeliveryState.DELIVERED,
        attempts=2,
        next_attempt_at=NOW,
        status_code=204,
        error=None,
        now=NOW + 501,
    )
    second = await store.claim_deliveries(now=NOW + 501, lease_until=LEASE, limit=10)
    assert [(c.entry.event.email, c.entry.event.changes[0].target) for c in second] == [(A, d2)]
    # An expired lease makes a delivery claimable again (a worker died mid-send).
    again = await store.claim_deliveries(now=LEASE + 1, lease_until=LEASE * 2, limit=10)
    assert [c.delivery.id for c in again] == [second[0].delivery.id]

    states = await store.deliveries(portal.id, h.id)
    assert [(d.state, d.attempts, d.last_status) for d in states] == [
        (DeliveryState.DELIVERED, 2, 204),
        (DeliveryState.DELIVERED, 1, 200),
        (DeliveryState.PENDING, 0, None),
    ]
    assert states[0].delivered_at == NOW + 501 and states[0].last_attempt_at == NOW + 501
    assert [d.subscriber for d in states] == [A, B, A]  # kept from the ledger when finished
    only = await store.deliveries(portal.id, h.id, state=DeliveryState.PENDING)
    assert [d.id for d in only] == [states[2].id]
    assert await store.deliveries(portal.id, h.id, after_id=states[0].id, limit=1) == [states[1]]
    assert await store.webhook_backlog() == 1


async def test_concurrent_claims_never_share_a_delivery(store: Store) -> None:
    portal, (d1, _, _) = await new_portal(store)
    await hook(store, portal.id)
    emails = [f"u{i}@example.com" for i in range(40)]
    await store.mutate(portal.id, emails, writes(d1, *emails))
    batches = await asyncio.gather(
        *(store.claim_deliveries(now=NOW, lease_until=LEASE, limit=7) for _ in range(8))
    )
    ids = [c.delivery.id for batch in batches for c in batch]
    assert len(ids) == len(set(ids)) == 40


async def test_paused_webhooks_wait_retry_and_replay_queue_again(store: Store) -> None:
    portal, (d1, _, _) = await new_portal(store)
    h = await hook(store, portal.id, active=False)
    assert await store.update_webhook(portal.id, h.id, now=NOW, active=True) is not None
    await store.mutate(portal.id, [A], writes(d1, A))
    await store.update_webhook(portal.id, h.id, now=NOW, active=False)
    assert await store.claim_deliveries(now=NOW, lease_until=LEASE, limit=10) == []
    await store.update_webhook(portal.id, h.id, now=NOW, active=True)
    (claimed,) = await store.claim_deliveries(now=NOW, lease_until=LEASE, limit=10)
    await store.finish_delivery(
        claimed.delivery.id,
        state=DeliveryState.FAILED,
        attempts=30,
        next_attempt_at=NOW,
        status_code=None,
        error="ConnectError: refused",
        now=NOW + 1,
    )
    (failed,) = await store.deliveries(portal.id, h.id)
    assert (failed.state, failed.last_error) == (DeliveryState.FAILED, "ConnectError: refused")
    assert await store.retry_deliveries(portal.id, h.id, [failed.id], now=NOW + 2) == 1
    (retry,) = await store.claim_deliveries(now=NOW + 2, lease_until=LEASE, limit=10)
    assert (retry.delivery.id, retry.delivery.attempts, retry.delivery.created_at) == (
        failed.id,
        0,
        NOW + 2,
    )
    assert retry.entry.event.email == A

    await store.mutate(portal.id, [B], writes(d1, B, at=NOW + 3))
    entries = await store.ledger(portal.id)
    other, _ = await new_portal(store, "Other")
    assert await store.replay_deliveries(other.id, h.id, from_event_id=1, now=NOW) == 0
    assert await store.retry_deliveries(other.id, h.id, [failed.id], now=NOW) == 0
    queued = await store.replay_deliveries(
        portal.id, h.id, from_event_id=entries[0].id, now=NOW + 4
    )
    assert queued == 2
    replays = [d for d in await store.deliveries(portal.id, h.id) if d.created_at == NOW + 4]
    assert [d.event_id for d in replays] == [e.id for e in entries]
    assert await store.delete_webhook(portal.id, h.id)
    assert await store.webhook_backlog() == 0
