"""SendGrid's Event Webhook: an array of events (see the package's docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commpref.domain import emails
from commpref.domain.feedback.events import Body, FeedbackEvent, Kind, PayloadTimes, Provider
from commpref.domain.feedback.fields import (
    address,
    as_array,
    as_object,
    decode,
    detail_of,
    event_of,
    occurred_times,
    optional_text,
    required_text,
    seconds_ms,
)


def parse_sendgrid(body: Body) -> list[FeedbackEvent]:
    batch = as_array(decode(body), "The SendGrid body (an array of events)")
    return [
        _sendgrid_event(as_object(e, f"event [{i}]"), f"event [{i}]") for i, e in enumerate(batch)
    ]


def _sendgrid_event(event: Mapping[str, Any], where: str) -> FeedbackEvent:
    name = required_text(event, "event", where)
    at = seconds_ms(event.get("timestamp"), f"{where}.timestamp")
    bounce_type = optional_text(event, "type")
    if name == "spamreport":
        kind = Kind.COMPLAINT
    elif name == "bounce":
        kind = Kind.HARD_BOUNCE if bounce_type in ("", "bounce") else Kind.SOFT_BOUNCE
    elif name == "deferred":
        kind = Kind.SOFT_BOUNCE
    else:
        kind = Kind.OTHER
    if kind is Kind.OTHER:
        email = emails.normalise(optional_text(event, "email"))
        event_id = optional_text(event, "sg_event_id")
    else:
        email = address(event, "email", where)
        event_id = required_text(event, "sg_event_id", where)
    detail = detail_of(
        f"{name}/{bounce_type}" if bounce_type else name,
        optional_text(event, "bounce_classification"),
        optional_text(event, "status"),
        optional_text(event, "reason") or optional_text(event, "response"),
    )
    return event_of(Provider.SENDGRID, event_id, kind, email, at, detail)


def sendgrid_times(body: Body) -> PayloadTimes:
    return PayloadTimes(None, occurred_times(parse_sendgrid(body)))
