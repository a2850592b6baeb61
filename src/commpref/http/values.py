"""JSON value types every JSON surface shares: times, 64-bit ids and the status vocabulary."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

import msgspec

from commpref.domain.formats import format_ms

DateTime = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]
Int64 = Annotated[int, msgspec.Meta(extra_json_schema={"format": "int64"})]
V4Status = Literal["NOT_SPECIFIED", "SUBSCRIBED", "UNSUBSCRIBED"]

# Cached: the rows of one answer usually share a handful of timestamps.
iso = lru_cache(maxsize=8192)(format_ms)
