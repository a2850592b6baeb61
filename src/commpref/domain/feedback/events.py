"""Mailbox feedback's one shape: the event every provider's delivery becomes, and its times."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MAX_DETAIL = 500  # characters of a provider's explanation kept with an event


class UnknownPayload(ValueError):
    """A body that is not the documented shape of its provider's webhook (a 400)."""


class Provider(StrEnum):
    SES = "ses"
    SENDGRID = "sendgrid"
    POSTMARK = "postmark"
    MAILGUN = "mailgun"


class Kind(StrEnum):
    COMPLAINT = "COMPLAINT"  # the recipient reported the mail as spam
    HARD_BOUNCE = "HARD_BOUNCE"  # the address cannot receive mail
    SOFT_BOUNCE = "SOFT_BOUNCE"  # this delivery failed; a later one may not
    OTHER = "OTHER"  # deliveries, opens, clicks, …: not acted on


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    provider: str
    event_id: str  # the provider's id for this event and address: deliveries repeat
    kind: Kind
    email: str  # normalised; "" only for an OTHER event that names no address
    occurred_at: int  # epoch ms; 0 only for an OTHER event that carries no time
    detail: str  # the provider's explanation, at most MAX_DETAIL characters


@dataclass(frozen=True, slots=True)
class PayloadTimes:
    """The times a delivery carries, for refusing old or replayed deliveries.

    `signed_at` is the time the provider's signature covers, when it travels in the body
    (SNS `Timestamp`, Mailgun `signature.timestamp`); SendGrid signs a header instead
    (`epoch_seconds`) and Postmark signs nothing. `occurred` are the events' own times,
    which retries keep: a provider retrying for hours sends old ones legitimately.
    """

    signed_at: int | None
    occurred: tuple[int, ...]

    @property
    def reference(self) -> int | None:
        """The time to judge the delivery's age by: the signed one, else the newest event."""
        if self.signed_at is not None:
            return self.signed_at
        return max(self.occurred) if self.occurred else None


Body = bytes | str | Mapping[str, Any] | list[Any]
