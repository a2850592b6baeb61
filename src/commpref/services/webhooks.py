"""Webhook subscriptions: management, delivery state, replay (docs/webhooks.md).

Changes reach webhooks through the outbox that `Store.mutate` fills in the transaction of
the change; the delivery worker (`jobs.webhooks`) sends them. Nothing here is on the
request path of a status change.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from commpref.domain.webhooks import Delivery, DeliveryState, EventFilter, Webhook
from commpref.errors import NotFound, ValidationError
from commpref.services import history
from commpref.services.context import Call
from commpref.storage.store import Store

SECRET_PREFIX = "whsec_"
MAX_URL = 2000


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _printable(text: str) -> bool:
    """No control characters, and plain UTF-8 (what every backend can store)."""
    if not text.isprintable():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_url(url: str) -> str:
    url = url.strip()
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a malformed port
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok or len(url) > MAX_URL or not _printable(url):
        message = f"Invalid webhook url {url!r}: use an absolute http(s) URL"
        raise ValidationError(message, errors=[{"message": message, "in": "url"}])
    return url


def check_secret(secret: str) -> str:
    if not 16 <= len(secret) <= 200 or not _printable(secret):
        message = "A webhook secret is 16 to 200 printable characters"
        raise ValidationError(message, errors=[{"message": message, "in": "secret"}])
    return secret


def not_found(webhook_id: int | str) -> NotFound:
    return NotFound(f"Webhook {webhook_id} does not exist")


async def create(
    *,
    store: Store,
    call: Call,
    url: str,
    event_filter: EventFilter,
    secret: str | None,
    active: bool,
) -> Webhook:
    return await store.create_webhook(
        portal_id=call.ctx.portal.id,
        url=check_url(url),
        secret=new_secret() if secret is None else check_secret(secret),
        event_filter=event_filter,
        active=active,
        now=call.now,
    )


async def get(*, store: Store, call: Call, webhook_id: int) -> Webhook:
    found = await store.get_webhook(call.ctx.portal.id, webhook_id)
    if found is None:
        raise not_found(webhook_id)
    return found


async def update(*, store: Store, call: Call, webhook_id: int, **fields: object) -> Webhook:
    """Change url, secret, event_filter or active; unknown webhook → 404."""
    if isinstance(fields.get("url"), str):
        fields["url"] = check_url(str(fields["url"]))
    if isinstance(fields.get("secret"), str):
        fields["secret"] = check_secret(str(fields["secret"]))
    changed = await store.update_webhook(call.ctx.portal.id, webhook_id, now=call.now, **fields)
    if changed is None:
        raise not_found(webhook_id)
    return changed


async def delete(*, store: Store, call: Call, webhook_id: int) -> None:
    if not await store.delete_webhook(call.ctx.portal.id, webhook_id):
        raise not_found(webhook_id)


async def deliveries(
    *,
    store: Store,
    call: Call,
    webhook_id: int,
    state: DeliveryState | None,
    after_id: int,
    limit: int,
) -> list[Delivery]:
    await get(store=store, call=call, webhook_id=webhook_id)
    return await store.deliveries(
        call.ctx.portal.id, webhook_id, state=state, after_id=after_id, limit=limit
    )


async def replay(
    *,
    store: Store,
    call: Call,
    webhook_id: int,
    since: str | None,
    delivery_ids: Sequence[int] | None,
) -> int:
    """Send again: the given deliveries, or every ledger entry after a history cursor."""
    await get(store=store, call=call, webhook_id=webhook_id)
    portal_id = call.ctx.portal.id
    if delivery_ids is not None:
        return await store.retry_deliveries(portal_id, webhook_id, delivery_ids, now=call.now)
    if since is None:
        message = "Give either since (a history cursor) or deliveryIds"
        raise ValidationError(message, errors=[{"message": message, "in": "since"}])
    entry_id, index = history.decode_cursor(since)
    # An entry whose changes were not all seen is sent whole: receivers dedupe by event id.
    first = entry_id if index >= 0 else entry_id + 1
    return await store.replay_deliveries(
        portal_id, webhook_id, from_event_id=max(first, 1), now=call.now
    )
