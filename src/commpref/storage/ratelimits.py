"""Rate limits: the part of the storage interface (`store.Store`) that counts a token's
requests, one atomic step per request (docs/wire-contract.md §7.2).

A token's row holds the times of the requests counted in the rolling window and the count of
the current UTC day. Counting a request either appends it (both windows have room) or leaves
the counters as they are (a window is full: the request is answered 429 and not counted).
How each engine makes that one step: `sqlite.ratelimits`, `postgres.ratelimits`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class RateCount:
    """A token's rate-limit counters after `Store.count_request` (docs/wire-contract.md §7)."""

    counted: bool  # False: a window was full, and this request was not counted
    hits: tuple[int, ...]  # times (ms) of the requests in the rolling window, oldest first
    day_count: int  # requests counted on the current UTC day


class RateLimitStore(ABC):
    """Per-token request counters (see the module docstring)."""

    @abstractmethod
    async def count_request(
        self, *, token_id: int, now: int, window_ms: int, window_max: int, daily_max: int
    ) -> RateCount:
        """Count one request of a token, atomically across processes: drop the window's
        entries older than `now - window_ms`, start a new count when the UTC day of `now`
        differs from the stored one, then count the request only if fewer than `window_max`
        requests are in the window and fewer than `daily_max` were counted today."""
