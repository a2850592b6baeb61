"""Webhook subscriptions: which consent events they want, the retry schedule, signatures.

Deliveries are at least once, in ledger order per subscriber; each is signed with
HMAC-SHA256 over `"{timestamp}.{body}"` under the webhook's secret (docs/webhooks.md).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

import msgspec

from commpref.domain.model import Change, ChangeKind, Status

SIGNATURE_VERSION = "v1"


class DeliveryState(StrEnum):
    PENDING = "PENDING"  # waiting for its (next) attempt
    DELIVERED = "DELIVERED"  # the receiver answered 2xx
    FAILED = "FAILED"  # retried for the whole retry window without success
    SKIPPED = "SKIPPED"  # nothing in the ledger entry matched the webhook's filter


# Every consumer must forget an erased address and stop mailing a bounced one; a requested
# confirmation or a soft bounce changes no status, so no consumer needs to hear of it.
_ALWAYS = frozenset({ChangeKind.ERASURE, ChangeKind.BOUNCE})
_NEVER = frozenset({ChangeKind.CONFIRMATION, ChangeKind.SOFT_BOUNCE})


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which consent events a webhook receives; None means "any". Erasures and hard bounces
    always pass, requested confirmations and soft bounces never."""

    statuses: frozenset[Status] | None = None  # the new status of the change
    subscription_ids: frozenset[int] | None = None  # definition ids of type changes
    include_wide: bool = True  # opt-out-of-all changes

    def matches(self, change: Change) -> bool:
        if change.kind in _ALWAYS:
            return True
        if change.kind in _NEVER:
            return False
        if self.statuses is not None and change.new not in self.statuses:
            return False
        if change.kind is ChangeKind.WIDE:
            return self.include_wide
        return self.subscription_ids is None or change.target in self.subscription_ids

    def to_json(self) -> str:
        return msgspec.json.encode(
            {
                "statuses": None if self.statuses is None else sorted(self.statuses),
                "subscriptionIds": (
                    None if self.subscription_ids is None else sorted(self.subscription_ids)
                ),
                "includeWide": self.include_wide,
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> EventFilter:
        raw = msgspec.json.decode(text)
        statuses = raw.get("statuses")
        ids = raw.get("subscriptionIds")
        return cls(
            None if statuses is None else frozenset(Status(s) for s in statuses),
            None if ids is None else frozenset(int(i) for i in ids),
            bool(raw.get("includeWide", True)),
        )


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    portal_id: int
    url: str
    secret: str
    event_filter: EventFilter
    active: bool
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """One ledger entry on its way to one webhook (a row of the outbox)."""

    id: int
    webhook_id: int
    portal_id: int
    event_id: int  # the ledger row
    subscriber: str  # the address (or its erasure label): deliveries keep its order
    state: DeliveryState
    attempts: int
    next_attempt_at: int
    last_attempt_at: int | None
    last_status: int | None
    last_error: str | None
    created_at: int
    delivered_at: int | None


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: `initial_ms`, doubling up to `max_ms`, for `window_ms` after the
    delivery was queued; the last attempt falls at the end of the window."""

    initial_ms: int
    max_ms: int
    window_ms: int

    def next_attempt(self, *, attempts: int, created_at: int, now: int) -> int | None:
        """When to try again after `attempts` failed attempts; None: give up."""
        deadline = created_at + self.window_ms
        if now >= deadline:
            return None
        delay = min(self.initial_ms << max(attempts - 1, 0), self.max_ms)
        return min(now + delay, deadline)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Commpref-Signature` value: `v1=` and the hex HMAC-SHA256 of
    `"{timestamp}." + body` under the webhook's secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    """What a receiver does (and the tests): constant-time comparison of the signature."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
