"""Applying mailbox feedback (`services.feedback.apply`, `prune`) on every backend: each
event once, the effects of each kind, every business unit, erased addresses left alone."""

from __future__ import annotations

from commpref.domain.feedback import FeedbackEvent, Kind, Provider
from commpref.domain.model import Bounce, ChangeKind, PortalContext, Status
from commpref.services import erasure, feedback
from commpref.services.context import Call
from commpref.storage.store import Store

T = 1_700_000_000_000
EMAIL = "ada@example.com"


def event(kind: Kind, event_id: str, email: str = EMAIL, at: int = T) -> FeedbackEvent:
    return FeedbackEvent("mailgun", event_id, kind, email, at, "detail")


def call(ctx: PortalContext, now: int = T + 1) -> Call:
    return Call.make(ctx, feedback.actor(Provider.MAILGUN), now=now)


async def apply(
    store: Store, ctx: PortalContext, *events: FeedbackEvent, now: int = T + 1
) -> feedback.Received:
    return await feedback.apply(
        store=store, call=call(ctx, now), provider=Provider.MAILGUN, events=list(events)
    )


async def test_each_kind_and_each_event_once(store: Store) -> None:
    portal = await store.create_portal(name="A", now=T)
    ctx = await store.portal_context(portal.id)
    got = await apply(
        store,
        ctx,
        event(Kind.COMPLAINT, "c1"),
        event(Kind.HARD_BOUNCE, "h1"),
        event(Kind.SOFT_BOUNCE, "s1"),
        event(Kind.SOFT_BOUNCE, "s1"),  # the same event twice in one delivery
        event(Kind.OTHER, "o1"),
        event(Kind.COMPLAINT, "bad", email="not an address"),
    )
    assert got == feedback.Received(applied=3, duplicates=1, ignored=2)
    sub = (await store.read_subscribers(portal.id, [EMAIL]))[EMAIL]
    assert sub.bounce == Bounce(at=T, source="Hard bounce (mailgun)")
    assert sub.wide[0].status is Status.UNSUBSCRIBED and sub.wide[0].source == "Spam complaint"
    assert {t.status for t in sub.types.values()} == {Status.UNSUBSCRIBED}
    entries = await store.events(portal.id, email=EMAIL)
    assert {e.event.source for e in entries} == {"Spam complaint", "Hard bounce", "Soft bounce"}
    assert {e.event.actor for e in entries} == {"feedback:mailgun"}
    kinds = {c.kind for e in entries for c in e.event.changes}
    assert {ChangeKind.BOUNCE, ChangeKind.SOFT_BOUNCE, ChangeKind.WIDE} <= kinds
    again = await apply(store, ctx, event(Kind.COMPLAINT, "c1"), event(Kind.HARD_BOUNCE, "h1"))
    assert again == feedback.Received(applied=0, duplicates=2, ignored=0)
    assert len(await store.events(portal.id, email=EMAIL)) == len(entries)


async def test_the_same_effect_under_another_id_adds_no_entry(store: Store) -> None:
    portal = await store.create_portal(name="A", now=T)
    ctx = await store.portal_context(portal.id)
    await apply(store, ctx, event(Kind.COMPLAINT, "c1"), event(Kind.HARD_BOUNCE, "h1"))
    before = len(await store.events(portal.id, email=EMAIL))
    got = await apply(store, ctx, event(Kind.COMPLAINT, "c2"), event(Kind.HARD_BOUNCE, "h1b"))
    assert got == feedback.Received(applied=2, duplicates=0, ignored=0)
    assert len(await store.events(portal.id, email=EMAIL)) == before
    # A later bounce moves the mark; an older one leaves it and is still recorded.
    await apply(store, ctx, event(Kind.HARD_BOUNCE, "h2", at=T + 500))
    await apply(store, ctx, event(Kind.HARD_BOUNCE, "h0", at=T - 500))
    sub = (await store.read_subscribers(portal.id, [EMAIL]))[EMAIL]
    assert sub.bounce is not None and sub.bounce.at == T + 500
    assert len(await store.events(portal.id, email=EMAIL)) == before + 2


async def test_a_complaint_opts_out_of_every_business_unit(store: Store) -> None:
    portal = await store.create_portal(name="A", brands=True, now=T)
    await store.create_business_unit(portal_id=portal.id, business_unit_id=7, name="Brand 7")
    ctx = await store.portal_context(portal.id)
    await apply(store, ctx, event(Kind.COMPLAINT, "c1"))
    sub = (await store.read_subscribers(portal.id, [EMAIL]))[EMAIL]
    assert {u: w.status for u, w in sub.wide.items()} == {
        0: Status.UNSUBSCRIBED,
        7: Status.UNSUBSCRIBED,
    }


async def test_an_erased_address_stays_erased(store: Store) -> None:
    portal = await store.create_portal(name="A", now=T)
    ctx = await store.portal_context(portal.id)
    await erasure.erase(store=store, call=call(ctx, now=T - 10), email=EMAIL)
    got = await apply(
        store, ctx, event(Kind.COMPLAINT, "c1"), event(Kind.HARD_BOUNCE, "h1"),
        event(Kind.SOFT_BOUNCE, "s1"),
    )  # fmt: skip
    assert got.applied == 3  # taken, and nothing to do
    assert await store.events(portal.id, email=EMAIL) == []
    assert await store.subscribers_page(portal.id) == []


async def test_prune_forgets_ids_past_the_max_age(store: Store) -> None:
    portal = await store.create_portal(name="A", now=T)
    ctx = await store.portal_context(portal.id)
    await apply(store, ctx, event(Kind.SOFT_BOUNCE, "old"), now=T)
    await apply(store, ctx, event(Kind.SOFT_BOUNCE, "new"), now=T + 3_600_000)
    assert await feedback.prune(store=store, now=T + 73 * 3_600_000, max_age_hours=72) == 1
    both = await apply(store, ctx, event(Kind.SOFT_BOUNCE, "old"), event(Kind.SOFT_BOUNCE, "new"))
    assert both == feedback.Received(applied=1, duplicates=1, ignored=0)
