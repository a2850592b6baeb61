"""Reading a provider's JSON: the fields an event needs, its times and its explanation.

What is missing or of the wrong type raises `UnknownPayload`, naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec

from commpref.domain import emails
from commpref.domain.feedback.events import (
    MAX_DETAIL,
    Body,
    FeedbackEvent,
    Kind,
    Provider,
    UnknownPayload,
)


def decode(body: Body) -> Any:
    """The JSON value of a body; bytes and str are JSON text, anything else is taken as
    already decoded (no top-level JSON string is a valid payload)."""
    if isinstance(body, bytes | str):
        try:
            return msgspec.json.decode(body)
        except msgspec.DecodeError as e:
            raise UnknownPayload(f"The body is not JSON: {e}") from None
    return body


def as_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UnknownPayload(f"{where} is not a JSON object")
    return value


def as_array(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise UnknownPayload(f"{where} is not a JSON array")
    return value


def required_text(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise UnknownPayload(f"{where}.{key} is missing or not a non-empty string")
    return value


def optional_text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def address(obj: Mapping[str, Any], key: str, where: str) -> str:
    email = emails.normalise(required_text(obj, key, where))
    if not email:
        raise UnknownPayload(f"{where}.{key} is blank")
    return email


def _number(value: Any) -> float | None:
    # bool is an int to Python but never a time to a provider
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def seconds_ms(value: Any, where: str) -> int:
    seconds = _number(value)
    if seconds is None or not 0 <= seconds < 1e11:
        raise UnknownPayload(f"{where} is missing or not seconds since the epoch")
    return round(seconds * 1000)


_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?",
    re.ASCII,
)


def iso_ms(value: Any, where: str) -> int:
    """ISO 8601 as providers write it: any number of fractional digits (Postmark sends
    seven), `Z` or a numeric offset, with or without a space before it (SES's examples)."""
    match = _ISO.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise UnknownPayload(f"{where} is missing or not an ISO 8601 time")
    year, month, day, hour, minute, second, fraction, _z, sign, off_h, off_m = match.groups()
    try:
        tz = UTC
        if sign is not None:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            tz = timezone(-offset if sign == "-" else offset)
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz
        )
    except ValueError:
        raise UnknownPayload(f"{where} is not a valid date and time") from None
    ms = int((fraction or "0")[:3].ljust(3, "0"))
    return int(moment.timestamp()) * 1000 + ms


def epoch_seconds(text: str) -> int:
    """A signature timestamp in seconds (SendGrid's header, Mailgun's field), as epoch ms."""
    if not (text.isascii() and text.isdigit()) or len(text) > 11:
        raise UnknownPayload(f"{text[:40]!r} is not a timestamp in seconds")
    return int(text) * 1000


def detail_of(*parts: Any) -> str:
    kept = (str(p).strip() for p in parts if isinstance(p, str | int) and not isinstance(p, bool))
    text = ": ".join(p for p in kept if p)
    return text[:MAX_DETAIL]


def event_of(
    provider: Provider, event_id: str, kind: Kind, email: str, occurred_at: int, detail: str
) -> FeedbackEvent:
    return FeedbackEvent(provider.value, event_id, kind, email, occurred_at, detail)


def occurred_times(events: list[FeedbackEvent]) -> tuple[int, ...]:
    return tuple(e.occurred_at for e in events if e.occurred_at)
