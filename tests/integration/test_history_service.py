"""The consent history and the change feed (services/history.py) on every backend: one
event per change, stable ids, cursors that never skip or repeat, filters."""

from __future__ import annotations

from commpref.domain.model import Actor, ChangeKind, PortalContext, Status
from commpref.services import erasure, history, statuses
from commpref.services.context import Call
from commpref.services.statuses import StatusWrite
from commpref.storage.store import Store

T = 1_700_000_000_000
A, B = "a@example.com", "b@example.com"
TOKEN = Actor("token", "1")


async def scenario(store: Store) -> tuple[PortalContext, list[int]]:
    portal = await store.create_portal(name="P", now=T)
    ctx = await store.portal_context(portal.id)
    ids = [d.id for d in ctx.definitions]

    def call(n: int, actor: Actor = TOKEN) -> Call:
        return Call.make(ctx, actor, now=T + n, correlation_id=f"corr-{n}")

    await statuses.unsubscribe_all(store=store, call=call(1), inputs=[A, B], business_unit_id=None)
    await statuses.write_statuses(
        store=store,
        call=call(2, Actor("token", "2")),
        writes=[StatusWrite(A, ids[0], Status.SUBSCRIBED, "NON_GDPR", "asked")],
    )
    await statuses.write_statuses(
        store=store,
        call=call(3, Actor("import", "5")),
        writes=[StatusWrite(B, ids[1], Status.NOT_SPECIFIED)],
    )
    return ctx, ids


async def all_pages(store: Store, portal_id: int, limit: int, **kw: object) -> list[str]:
    seen: list[str] = []
    since: str | None = None
    while True:
        page = await history.page(store=store, portal_id=portal_id, since=since, limit=limit, **kw)  # type: ignore[arg-type]
        assert len(page.events) <= limit
        seen += [e.id for e in page.events]
        since = page.cursor
        if not page.has_more:
            return seen


async def test_every_change_is_one_event_with_a_stable_id(store: Store) -> None:
    ctx, ids = await scenario(store)
    page = await history.page(store=store, portal_id=ctx.portal.id, since=None, limit=100)
    assert not page.has_more
    got = [
        (
            e.entry.event.email,
            e.change.kind,
            e.change.target,
            e.change.old,
            e.change.new,
            e.entry.event.actor,
            e.entry.event.correlation_id,
        )
        for e in page.events
    ]
    NS, SUB, UNSUB = Status.NOT_SPECIFIED, Status.SUBSCRIBED, Status.UNSUBSCRIBED
    opt_out = [(ChangeKind.TYPE, d, NS, UNSUB) for d in ids] + [(ChangeKind.WIDE, 0, NS, UNSUB)]
    assert got == [
        *[(A, *c, "token:1", "corr-1") for c in opt_out],
        *[(B, *c, "token:1", "corr-1") for c in opt_out],
        (A, ChangeKind.TYPE, ids[0], UNSUB, SUB, "token:2", "corr-2"),
        (A, ChangeKind.WIDE, 0, UNSUB, SUB, "token:2", "corr-2"),
        (B, ChangeKind.TYPE, ids[1], UNSUB, NS, "import:5", "corr-3"),
    ]
    entry = page.events[0].entry.id
    assert [e.id for e in page.events[:4]] == [f"{entry}.{i}" for i in range(4)]
    assert page.events[8].change.legal_basis == "NON_GDPR"
    # Paging in any size yields the same events exactly once, in the same order.
    every = [e.id for e in page.events]
    for limit in (1, 2, 3, 4, 7):
        assert await all_pages(store, ctx.portal.id, limit) == every
    # The last cursor is where polling resumes: nothing new, then only what is new.
    idle = await history.page(store=store, portal_id=ctx.portal.id, since=page.cursor, limit=5)
    assert (idle.events, idle.has_more, idle.cursor) == ([], False, page.cursor)
    await statuses.unsubscribe_all(
        store=store,
        call=Call.make(ctx, Actor("cli"), now=T + 9),
        inputs=[A],
        business_unit_id=None,
    )
    news = await history.page(store=store, portal_id=ctx.portal.id, since=page.cursor, limit=5)
    assert [(e.change.target, e.change.new) for e in news.events] == [
        (ids[0], Status.UNSUBSCRIBED),
        (0, Status.UNSUBSCRIBED),
    ]


async def test_filters(store: Store) -> None:
    ctx, ids = await scenario(store)
    pid = ctx.portal.id

    async def kept(**kw: object) -> list[tuple[str, int]]:
        filters = history.Filters(**kw)  # type: ignore[arg-type]
        page = await history.page(
            store=store, portal_id=pid, since=None, limit=100, filters=filters
        )
        return [(e.entry.event.email, e.change.target) for e in page.events]

    assert await kept(subscription=ids[1]) == [(A, ids[1]), (B, ids[1]), (B, ids[1])]
    assert await kept(subscription=history.ALL) == [(A, 0), (B, 0), (A, 0)]
    assert await kept(actor="token:2") == [(A, ids[0]), (A, 0)]
    assert await kept(actor="import") == [(B, ids[1])]
    assert await kept(at_from=T + 2, at_to=T + 3) == [(A, ids[0]), (A, 0)]
    # A filter that matches rarely still pages through everything, a little at a time.
    assert (
        await all_pages(store, pid, 1, filters=history.Filters(actor="import"))
        == [e for e in await all_pages(store, pid, 100) if e.endswith(".0")][-1:]
    )


async def test_one_subscriber_history_includes_what_an_erasure_relabelled(store: Store) -> None:
    ctx, _ids = await scenario(store)
    pid = ctx.portal.id
    before = await history.subscriber_history(
        store=store, portal_id=pid, email=A, since=None, limit=100
    )
    assert len(before.events) == 6 and {e.entry.event.email for e in before.events} == {A}
    await erasure.erase(store=store, call=Call.make(ctx, Actor("cli"), now=T + 20), email=A)
    after = await history.subscriber_history(
        store=store, portal_id=pid, email=A, since=None, limit=100
    )
    label = await store.subject_label(pid, A)
    assert [e.id for e in after.events][:6] == [e.id for e in before.events]
    assert {e.entry.event.email for e in after.events} == {label}
    assert after.events[-1].change.kind is ChangeKind.ERASURE
    b = await history.subscriber_history(store=store, portal_id=pid, email=B, since=None, limit=100)
    assert len(b.events) == 5
