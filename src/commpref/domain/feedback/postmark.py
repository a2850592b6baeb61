"""Postmark's Bounce and Spam Complaint webhooks, one record each (see the package's docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commpref.domain import emails
from commpref.domain.feedback.events import (
    Body,
    FeedbackEvent,
    Kind,
    PayloadTimes,
    Provider,
    UnknownPayload,
)
from commpref.domain.feedback.fields import (
    address,
    as_object,
    decode,
    detail_of,
    event_of,
    iso_ms,
    occurred_times,
    optional_text,
    required_text,
)

_POSTMARK_HARD = frozenset({"HardBounce", "BadEmailAddress"})
_POSTMARK_SOFT = frozenset(
    {"SoftBounce", "Transient", "DnsError", "Blocked", "SpamNotification", "Unknown"}
)
_POSTMARK_TIMES = ("BouncedAt", "DeliveredAt", "ReceivedAt", "ChangedAt")


def parse_postmark(body: Body) -> list[FeedbackEvent]:
    record = as_object(decode(body), "The Postmark body")
    where = "The Postmark record"
    record_type = record.get("RecordType", "Bounce")  # the older bounce hook sends none
    if not isinstance(record_type, str):
        raise UnknownPayload(f"{where}.RecordType is not a string")
    bounce_type = optional_text(record, "Type")
    if record_type == "SpamComplaint" or (
        record_type == "Bounce" and bounce_type == "SpamComplaint"
    ):
        kind = Kind.COMPLAINT
    elif record_type == "Bounce":
        bounce_type = required_text(record, "Type", where)
        if bounce_type in _POSTMARK_HARD:
            kind = Kind.HARD_BOUNCE
        elif bounce_type in _POSTMARK_SOFT:
            kind = Kind.SOFT_BOUNCE
        else:
            kind = Kind.OTHER
    else:
        return [_postmark_other(record, record_type)]
    record_id = record.get("ID")
    if isinstance(record_id, bool) or not isinstance(record_id, int | str) or record_id == "":
        raise UnknownPayload(f"{where}.ID is missing or not a number")
    detail = detail_of(
        bounce_type or record_type,
        optional_text(record, "Description"),
        optional_text(record, "Details"),
    )
    return [
        event_of(
            Provider.POSTMARK,
            str(record_id),
            kind,
            address(record, "Email", where),
            iso_ms(record.get("BouncedAt"), f"{where}.BouncedAt"),
            detail,
        )
    ]


def _postmark_other(record: Mapping[str, Any], record_type: str) -> FeedbackEvent:
    """Deliveries, opens, clicks, subscription changes: read leniently, not acted on."""
    email = emails.normalise(optional_text(record, "Email") or optional_text(record, "Recipient"))
    at = 0
    for key in _POSTMARK_TIMES:
        if isinstance(record.get(key), str):
            at = iso_ms(record[key], key)
            break
    message_id = optional_text(record, "MessageID")
    event_id = f"{record_type}:{message_id}" if message_id else ""
    return event_of(Provider.POSTMARK, event_id, Kind.OTHER, email, at, detail_of(record_type))


def postmark_times(body: Body) -> PayloadTimes:
    return PayloadTimes(None, occurred_times(parse_postmark(body)))
