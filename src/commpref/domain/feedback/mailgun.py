"""Mailgun's webhooks, one event each under `event-data` (see the package's docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from commpref.domain import emails
from commpref.domain.feedback.events import Body, FeedbackEvent, Kind, PayloadTimes, Provider
from commpref.domain.feedback.fields import (
    address,
    as_object,
    decode,
    detail_of,
    epoch_seconds,
    event_of,
    occurred_times,
    optional_text,
    required_text,
    seconds_ms,
)


@dataclass(frozen=True, slots=True)
class MailgunSignature:
    timestamp: str
    token: str
    signature: str


_MAILGUN_NOT_THE_MAILBOX = frozenset({"suppress-unsubscribe", "suppress-complaint"})


def mailgun_signature(body: Body) -> MailgunSignature:
    """The `signature` object Mailgun puts in the body, for `verify_mailgun`."""
    root = as_object(decode(body), "The Mailgun body")
    sig = as_object(root.get("signature"), "The Mailgun body's signature")
    where = "signature"
    return MailgunSignature(
        required_text(sig, "timestamp", where),
        required_text(sig, "token", where),
        required_text(sig, "signature", where),
    )


def parse_mailgun(body: Body) -> list[FeedbackEvent]:
    root = as_object(decode(body), "The Mailgun body")
    data = as_object(root.get("event-data"), "The Mailgun body's event-data")
    where = "event-data"
    name = required_text(data, "event", where)
    at = seconds_ms(data.get("timestamp"), f"{where}.timestamp")
    severity = optional_text(data, "severity")
    reason = optional_text(data, "reason")
    if name == "complained":
        kind = Kind.COMPLAINT
    elif name == "failed":
        if severity == "permanent":
            if reason in _MAILGUN_NOT_THE_MAILBOX:
                kind = Kind.OTHER
            elif reason == "old":
                kind = Kind.SOFT_BOUNCE
            else:
                kind = Kind.HARD_BOUNCE
        else:
            kind = Kind.SOFT_BOUNCE
    else:
        kind = Kind.OTHER
    raw_id = optional_text(data, "id") if kind is Kind.OTHER else required_text(data, "id", where)
    if kind is Kind.OTHER:
        email = emails.normalise(optional_text(data, "recipient"))
    else:
        email = address(data, "recipient", where)
    status = data.get("delivery-status")
    status = status if isinstance(status, Mapping) else {}
    detail = detail_of(
        "/".join(p for p in (name, severity, reason) if p),
        status.get("code"),
        optional_text(status, "description") or optional_text(status, "message"),
    )
    event_id = f"{raw_id}:{at}" if raw_id else ""
    return [event_of(Provider.MAILGUN, event_id, kind, email, at, detail)]


def mailgun_times(body: Body) -> PayloadTimes:
    events = parse_mailgun(body)
    return PayloadTimes(epoch_seconds(mailgun_signature(body).timestamp), occurred_times(events))
