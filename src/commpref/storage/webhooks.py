"""Webhooks and their outbox: the part of the storage interface (`store.Store`) for webhook
subscriptions and the deliveries `mutate` queues in the transaction of each change.

Both backends implement it and pass the same contract suite
(tests/integration/test_store_webhooks.py). Deliveries are claimed with leases (PostgreSQL:
`FOR UPDATE SKIP LOCKED`; SQLite: under the single writer), so any number of processes may
run workers against one database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from commpref.domain.webhooks import Delivery, DeliveryState, EventFilter, Webhook
from commpref.storage.ledger import StoredEvent


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery leased to one worker, with what it needs to send it."""

    delivery: Delivery
    webhook: Webhook
    entry: StoredEvent


class WebhookStore(ABC):
    """Webhooks and deliveries (see the module docstring)."""

    # --- webhooks ----------------------------------------------------------------------------
    @abstractmethod
    async def create_webhook(
        self,
        *,
        portal_id: int,
        url: str,
        secret: str,
        event_filter: EventFilter,
        active: bool,
        now: int,
    ) -> Webhook: ...

    @abstractmethod
    async def list_webhooks(self, portal_id: int) -> list[Webhook]: ...

    @abstractmethod
    async def get_webhook(self, portal_id: int, webhook_id: int) -> Webhook | None: ...

    @abstractmethod
    async def update_webhook(
        self, portal_id: int, webhook_id: int, *, now: int, **fields: object
    ) -> Webhook | None:
        """Change url, secret, event_filter (an `EventFilter`) or active."""

    @abstractmethod
    async def delete_webhook(self, portal_id: int, webhook_id: int) -> bool:
        """Delete a webhook and its deliveries."""

    @abstractmethod
    async def deliveries(
        self,
        portal_id: int,
        webhook_id: int,
        *,
        state: DeliveryState | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Delivery]:
        """A webhook's deliveries with id > after_id, in id order."""

    @abstractmethod
    async def replay_deliveries(
        self, portal_id: int, webhook_id: int, *, from_event_id: int, now: int
    ) -> int:
        """Queue new deliveries of the portal's ledger entries with id >= from_event_id."""

    @abstractmethod
    async def retry_deliveries(
        self, portal_id: int, webhook_id: int, delivery_ids: Sequence[int], *, now: int
    ) -> int:
        """Put these deliveries back to PENDING, due now, attempts reset."""

    @abstractmethod
    async def claim_deliveries(
        self, *, now: int, lease_until: int, limit: int
    ) -> list[ClaimedDelivery]:
        """Lease due PENDING deliveries of active webhooks, never one whose webhook has an
        older (by ledger id) PENDING delivery for the same subscriber: per subscriber they
        go out in ledger order. Safe across processes."""

    @abstractmethod
    async def finish_delivery(
        self,
        delivery_id: int,
        *,
        state: DeliveryState,
        attempts: int,
        next_attempt_at: int,
        status_code: int | None,
        error: str | None,
        now: int,
    ) -> None:
        """Record an attempt's outcome and release the lease."""

    @abstractmethod
    async def webhook_backlog(self) -> int:
        """PENDING deliveries of every portal (for `/metrics`)."""
