"""The webhook delivery worker: sends what the outbox holds, signed, retried with backoff.

Each claimed delivery is one ledger entry for one webhook: the entry's consent events that
pass the webhook's filter, in one POST. A 2xx answer delivers it; anything else (or no
answer within `webhook_timeout_ms`) schedules the next attempt (`domain.webhooks.Backoff`)
until the retry window is over, then it is FAILED. Per subscriber, deliveries wait for the
older ones (`Store.claim_deliveries`), so a receiver sees each address's events in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import msgspec

import commpref
from commpref.domain.webhooks import Backoff, DeliveryState, sign
from commpref.errors import Unavailable
from commpref.http import logs
from commpref.http.api import wire
from commpref.jobs.imports import pause
from commpref.services import history
from commpref.services.context import now_ms
from commpref.settings import Settings
from commpref.storage.store import Store
from commpref.storage.webhooks import ClaimedDelivery

BATCH = 50  # deliveries claimed (and sent concurrently) at once
BACKLOG_EVERY_MS = 5000
HEADER_SIGNATURE = "X-Commpref-Signature"
HEADER_TIMESTAMP = "X-Commpref-Timestamp"
HEADER_DELIVERY = "X-Commpref-Delivery"
HEADER_WEBHOOK = "X-Commpref-Webhook"
HEADER_ATTEMPT = "X-Commpref-Attempt"
_encode = msgspec.json.Encoder().encode


def payload(claimed: ClaimedDelivery) -> bytes | None:
    """The request body, or None when no event of the entry passes the webhook's filter."""
    entry, hook = claimed.entry, claimed.webhook
    events = [
        wire.consent_event(history.ConsentEvent(history.event_id(entry.id, i), entry, c))
        for i, c in enumerate(entry.event.changes)
        if hook.event_filter.matches(c)
    ]
    if not events:
        return None
    body = wire.WebhookPayload(webhookId=hook.id, deliveryId=claimed.delivery.id, events=events)
    return _encode(body)


class WebhookWorker:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        on_backlog: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.poll_s = settings.job_poll_ms / 1000
        self.timeout_s = settings.webhook_timeout_ms / 1000
        self.lease_ms = settings.webhook_timeout_ms + 30_000
        self.backoff = Backoff(
            settings.webhook_backoff_initial_ms,
            settings.webhook_backoff_max_ms,
            settings.webhook_retry_window_ms,
        )
        self.on_backlog = on_backlog
        self._backlog_at = 0

    async def send(self, client: httpx.AsyncClient, claimed: ClaimedDelivery) -> None:
        d = claimed.delivery
        body = payload(claimed)
        if body is None:
            await self.store.finish_delivery(
                d.id, state=DeliveryState.SKIPPED, attempts=d.attempts,
                next_attempt_at=d.next_attempt_at, status_code=None, error=None, now=now_ms(),
            )  # fmt: skip
            return
        timestamp = str(now_ms() // 1000)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"commpref-webhooks/{commpref.__version__}",
            HEADER_SIGNATURE: sign(claimed.webhook.secret, int(timestamp), body),
            HEADER_TIMESTAMP: timestamp,
            HEADER_DELIVERY: str(d.id),
            HEADER_WEBHOOK: str(claimed.webhook.id),
            HEADER_ATTEMPT: str(d.attempts + 1),
        }
        status: int | None = None
        error: str | None = None
        try:
            response = await client.post(
                claimed.webhook.url, content=body, headers=headers, timeout=self.timeout_s
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempts = d.attempts + 1
        now = now_ms()
        state, next_at = DeliveryState.DELIVERED, now
        if error is not None:
            retry = self.backoff.next_attempt(attempts=attempts, created_at=d.created_at, now=now)
            state, next_at = (
                (DeliveryState.FAILED, now) if retry is None else (DeliveryState.PENDING, retry)
            )
        await self.store.finish_delivery(
            d.id, state=state, attempts=attempts, next_attempt_at=next_at, status_code=status,
            error=error, now=now,
        )  # fmt: skip

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        """Send every delivery due now (one claim); returns how many were claimed."""
        now = now_ms()
        claimed = await self.store.claim_deliveries(
            now=now, lease_until=now + self.lease_ms, limit=BATCH
        )
        await asyncio.gather(*(self.send(client, c) for c in claimed))
        if self.on_backlog is not None and now - self._backlog_at >= BACKLOG_EVERY_MS:
            self._backlog_at = now
            self.on_backlog(await self.store.webhook_backlog())
        return len(claimed)

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
            while not stop.is_set():
                sent = 0
                try:
                    sent = await self.deliver_due(client)
                except Unavailable:
                    pass
                except Exception as exc:  # never let the worker die
                    logs.error("webhook worker error", None, exc)
                if not sent:
                    await pause(stop, self.poll_s)
