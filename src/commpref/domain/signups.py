"""Sign-ups and double opt-in: when an address must confirm first, the confirmation
token, the throttle on confirmation emails, and the evidence a confirmation leaves.

Pure rules (docs/signups.md): no I/O. A sign-up needs confirmation when double opt-in is
on for its business unit (the unit's own setting, else the portal's), or when the address
has opted out of all email of that unit: an opted-out address is never subscribed again
by a sign-up it has not confirmed, whatever the portal's setting.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from commpref.domain.formats import format_ms
from commpref.domain.model import (
    BusinessUnit,
    Change,
    ChangeKind,
    Definition,
    LegalBasis,
    Portal,
    Status,
    Subscriber,
)

TOKEN_BYTES = 32
DAY_MS = 86_400_000
MINUTE_MS = 60_000
DEFAULT_SOURCE = "Sign-up"
CONFIRMED_SOURCE = "Double opt-in confirmation"
ACTOR_KIND = "signup"


class SignupState(StrEnum):
    SUBSCRIBED = "SUBSCRIBED"  # subscribed at once: nothing to confirm
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    EXPIRED = "EXPIRED"


class MailState(StrEnum):
    """Where a confirmation email is: waiting for (another) attempt, accepted by the relay,
    or given up (the relay refused it for good, or every retry failed)."""

    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Signup:
    """One stored sign-up. `token_hash` is the SHA-256 of the token, never the token."""

    id: int
    portal_id: int
    email: str
    business_unit_id: int
    subscription_ids: tuple[int, ...]
    language: str
    source: str
    requested_at: int
    expires_at: int
    confirmed_at: int | None
    correlation_id: str
    direct: bool = False  # subscribed at once; it never had a link to confirm

    def state(self, now: int) -> SignupState:
        if self.direct:
            return SignupState.SUBSCRIBED
        if self.confirmed_at is not None:
            return SignupState.CONFIRMED
        return SignupState.EXPIRED if now >= self.expires_at else SignupState.PENDING


@dataclass(frozen=True, slots=True)
class Delivery:
    """The confirmation email of a sign-up, as the outbox holds it."""

    id: int
    state: MailState
    attempts: int
    last_error: str | None
    created_at: int
    sent_at: int | None


# --- the decision ------------------------------------------------------------------------


def double_opt_in(portal: Portal, unit: BusinessUnit | None) -> bool:
    """The unit's own setting when it has one, else the portal's."""
    if unit is not None and unit.double_opt_in is not None:
        return unit.double_opt_in
    return portal.double_opt_in


def opted_out(sub: Subscriber, business_unit_id: int) -> bool:
    """Opted out of all email of the unit (its own switch, or the portal-wide one)."""
    for scope in {0, business_unit_id}:
        wide = sub.wide.get(scope)
        if wide is not None and wide.status is Status.UNSUBSCRIBED:
            return True
    return False


def needs_confirmation(
    portal: Portal, unit: BusinessUnit | None, sub: Subscriber, business_unit_id: int
) -> bool:
    return double_opt_in(portal, unit) or opted_out(sub, business_unit_id)


def throttled(sent_at: Sequence[int], *, now: int, resend_minutes: int, daily: int) -> bool:
    """True when no confirmation email may go to an address that was sent ones at
    `sent_at` (queued times): one per `resend_minutes`, `daily` per 24 hours."""
    recent = [t for t in sent_at if now - t < DAY_MS]
    if len(recent) >= daily:
        return True
    return any(now - t < resend_minutes * MINUTE_MS for t in recent)


# --- tokens -------------------------------------------------------------------------------


def new_token() -> str:
    """A confirmation token: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, hex. A token is random and long, so no salt
    or slow hash is needed; a database leak does not give the links away."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def pack_ids(ids: Sequence[int]) -> str:
    return " ".join(str(i) for i in ids)


def unpack_ids(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split())


# --- changes ------------------------------------------------------------------------------


def confirmation_changes(sub: Subscriber, definitions: Sequence[Definition]) -> list[Change]:
    """One CONFIRMATION_REQUESTED per asked type: old == new, its current status."""
    changes = []
    for d in definitions:
        stored = sub.types.get(d.id)
        current = stored.status if stored is not None else Status.NOT_SPECIFIED
        changes.append(Change(ChangeKind.CONFIRMATION, d.id, current, current))
    return changes


def evidence(signup: Signup, *, confirmed_at: int, page_language: str) -> str:
    """The legal basis explanation of a confirmed sign-up: what was asked, when, where from,
    and when it was confirmed on which page."""
    return (
        f"Double opt-in: sign-up {signup.id} requested {format_ms(signup.requested_at)} "
        f"(source: {signup.source}), confirmed {format_ms(confirmed_at)} on the confirmation "
        f"page (language: {page_language})"
    )


CONFIRMED_LEGAL_BASIS = LegalBasis.CONSENT_WITH_NOTICE.value
