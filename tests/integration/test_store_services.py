"""Storage contract, part 3: the real status services over each backend, read back."""

from __future__ import annotations

from commpref.domain.model import Actor, ChangeKind, Reason, Status
from commpref.services import statuses
from commpref.services.context import Call
from commpref.services.statuses import StatusWrite
from commpref.storage.store import Store

NOW = 1_700_000_000_000


async def test_unsubscribe_all_then_resubscribe_one_type(store: Store) -> None:
    portal = await store.create_portal(name="Acme", now=NOW)
    ctx = await store.portal_context(portal.id)
    d1, d2, d3 = (d.id for d in ctx.definitions)
    call = Call.make(ctx, Actor("token", "1"), correlation_id="corr-1", now=NOW + 1)

    result = await statuses.unsubscribe_all(
        store=store,
        call=call,
        inputs=[" A@Example.com", "b@example.com", "not-an-email", "a@example.com"],
        business_unit_id=None,
    )
    assert [r.email for r in result.results] == ["a@example.com", "b@example.com"]
    assert len(result.errors) == 1

    subs = await store.read_subscribers(portal.id, ["a@example.com", "b@example.com"])
    assert set(subs) == {"a@example.com", "b@example.com"}
    for sub in subs.values():
        assert sub.created_at == NOW + 1
        assert sub.wide[0].status is Status.UNSUBSCRIBED
        assert {d: t.status for d, t in sub.types.items()} == dict.fromkeys(
            (d1, d2, d3), Status.UNSUBSCRIBED
        )
        assert all(t.timestamp == NOW + 1 for t in sub.types.values())

    ledger = await store.events(portal.id)
    assert [s.event.email for s in ledger] == ["a@example.com", "b@example.com"]
    for stored in ledger:
        e = stored.event
        assert (e.actor, e.correlation_id, e.at, e.source) == (
            "token:1",
            "corr-1",
            NOW + 1,
            "Public status API",
        )
        assert sorted((c.kind, c.target, c.old, c.new) for c in e.changes) == sorted(
            [(ChangeKind.TYPE, d, Status.NOT_SPECIFIED, Status.UNSUBSCRIBED) for d in (d1, d2, d3)]
            + [(ChangeKind.WIDE, 0, Status.NOT_SPECIFIED, Status.UNSUBSCRIBED)]
        )

    # idempotent: nothing changes, nothing is logged
    again = await statuses.unsubscribe_all(
        store=store,
        call=Call.make(ctx, Actor("token", "1"), now=NOW + 2),
        inputs=["a@example.com"],
        business_unit_id=None,
    )
    assert {row.reason for row in again.results[0].rows} == {Reason.NO_STATUS_CHANGE}
    assert len(await store.events(portal.id)) == 2

    write = StatusWrite("a@example.com", d1, Status.SUBSCRIBED)
    later = Call.make(ctx, Actor("token", "1"), now=NOW + 3)
    row = await statuses.set_status(store=store, call=later, write=write)
    assert row.reason is Reason.RESUBSCRIBE_OCCURRED
    read = await statuses.read_statuses(
        store=store, call=later, inputs=["a@example.com"], business_unit_id=None
    )
    got = {r.definition.id: (r.status, r.timestamp) for r in read.results[0].rows}
    assert got == {
        d1: (Status.SUBSCRIBED, NOW + 3),
        d2: (Status.UNSUBSCRIBED, NOW + 1),
        d3: (Status.UNSUBSCRIBED, NOW + 1),
    }
    a = (await store.read_subscribers(portal.id, ["a@example.com"]))["a@example.com"]
    assert a.wide[0].status is Status.SUBSCRIBED
    assert [s.event.at for s in await store.events(portal.id, email="a@example.com")] == [
        NOW + 1,
        NOW + 3,
    ]
