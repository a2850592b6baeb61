"""The text forms every surface shares: 64-bit integers (query parameters, JSON strings, CSV
fields) and epoch-millisecond times (ISO 8601 on the wire, in exports and in logs)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INT64 = re.compile(r"-?[0-9]{1,19}")


def parse_int64(text: str) -> int | None:
    """A decimal integer that fits in 64 bits (as HubSpot's ids and times do), else None."""
    if not _INT64.fullmatch(text):
        return None
    number = int(text)
    return number if INT64_MIN <= number <= INT64_MAX else None


def parse_time(text: str) -> int | None:
    """Epoch milliseconds from a 64-bit integer or an ISO 8601 time (UTC unless it says
    otherwise); None for anything else."""
    if _INT64.fullmatch(text):
        return parse_int64(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def format_ms(ms: int) -> str:
    """Epoch milliseconds as UTC ISO 8601 with milliseconds and `Z`, as the API shows times."""
    seconds, millis = divmod(ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"
