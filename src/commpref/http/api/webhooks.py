"""Handlers of `/commpref/v1/webhooks`: subscriptions, their deliveries, replay."""

from __future__ import annotations

from typing import Any

from commpref.domain.model import Status
from commpref.domain.webhooks import DeliveryState, EventFilter
from commpref.http.api import wire
from commpref.http.api.handlers import path_id
from commpref.http.operation import Reply, Request
from commpref.services import webhooks


def _filter(body: wire.EventFilterBody | None) -> EventFilter:
    if body is None:
        return EventFilter()
    return EventFilter(
        None if body.statuses is None else frozenset(Status(s) for s in body.statuses),
        None if body.subscriptionIds is None else frozenset(body.subscriptionIds),
        body.includeWide,
    )


def _id(rq: Request) -> int:
    return path_id(rq, "Webhook")


async def create_webhook(rq: Request) -> Reply:
    """Subscribe a URL to consent events; the answer shows the signing secret (only here)."""
    body: wire.WebhookCreate = rq.body
    hook = await webhooks.create(
        store=rq.runtime.store,
        call=rq.call,
        url=body.url,
        event_filter=_filter(body.eventFilter),
        secret=body.secret,
        active=body.active,
    )
    return 201, wire.webhook(hook, with_secret=True)


async def list_webhooks(rq: Request) -> Reply:
    hooks = await rq.runtime.store.list_webhooks(rq.call.ctx.portal.id)
    return 200, wire.WebhookList(results=[wire.webhook(h) for h in hooks])


async def get_webhook(rq: Request) -> Reply:
    hook = await webhooks.get(store=rq.runtime.store, call=rq.call, webhook_id=_id(rq))
    return 200, wire.webhook(hook)


async def update_webhook(rq: Request) -> Reply:
    """Change the URL, filter or `active` (false pauses delivery); rotate the secret."""
    body: wire.WebhookUpdate = rq.body
    fields: dict[str, Any] = {}
    if body.url is not None:
        fields["url"] = body.url
    if body.eventFilter is not None:
        fields["event_filter"] = _filter(body.eventFilter)
    if body.active is not None:
        fields["active"] = body.active
    if body.secret is not None or body.rotateSecret:
        fields["secret"] = body.secret if body.secret is not None else webhooks.new_secret()
    hook = await webhooks.update(store=rq.runtime.store, call=rq.call, webhook_id=_id(rq), **fields)
    return 200, wire.webhook(hook, with_secret="secret" in fields)


async def delete_webhook(rq: Request) -> Reply:
    await webhooks.delete(store=rq.runtime.store, call=rq.call, webhook_id=_id(rq))
    return 200, wire.Done(status="COMPLETE")


async def list_deliveries(rq: Request) -> Reply:
    """Delivery state: what was sent, when, how often, and the receiver's last answer."""
    state = rq.query["state"]
    limit = rq.query["limit"]
    found = await webhooks.deliveries(
        store=rq.runtime.store,
        call=rq.call,
        webhook_id=_id(rq),
        state=None if state is None else DeliveryState(state),
        after_id=rq.query["after"],
        limit=limit,
    )
    return 200, wire.DeliveryList(
        results=[wire.delivery(d) for d in found],
        after=found[-1].id if found else rq.query["after"],
        hasMore=len(found) == limit,
    )


async def replay(rq: Request) -> Reply:
    """Send again: given deliveries (`deliveryIds`), or the ledger after a cursor (`since`)."""
    body: wire.Replay = rq.body
    queued = await webhooks.replay(
        store=rq.runtime.store,
        call=rq.call,
        webhook_id=_id(rq),
        since=body.since,
        delivery_ids=body.deliveryIds,
    )
    return 202, wire.ReplayResult(queued=queued)
