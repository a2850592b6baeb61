"""Step 3 of docs/wire-contract.md §2.5:
the rate limiter behind `Runtime.rate_limiter` (§7.3, §7.4).

In a portal with a `rate_limit_tier`, every response to an authenticated request carries the
seven `X-HubSpot-RateLimit-*` headers; a refused request raises `RateLimited` (429) with the
same headers plus `Retry-After`, and HubSpot's body.
"""

from __future__ import annotations

from collections.abc import Callable

from commpref.domain.model import PortalContext, Token
from commpref.errors import RateLimited
from commpref.services import ratelimits
from commpref.services.ratelimits import DAILY, Decision
from commpref.storage.store import Store

_MESSAGES = {
    DAILY: "You have reached your daily limit.",
    ratelimits.TEN_SECONDLY: "You have reached your ten_secondly_rolling limit.",
}


def header_values(d: Decision) -> dict[str, str]:
    """§7.3, in HubSpot's order."""
    return {
        "X-HubSpot-RateLimit-Daily": str(d.tier.daily),
        "X-HubSpot-RateLimit-Daily-Remaining": str(d.daily_remaining),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(ratelimits.WINDOW_MS),
        "X-HubSpot-RateLimit-Max": str(d.tier.max),
        "X-HubSpot-RateLimit-Remaining": str(d.remaining),
        "X-HubSpot-RateLimit-Secondly": str(d.tier.secondly),
        "X-HubSpot-RateLimit-Secondly-Remaining": str(d.secondly_remaining),
    }


def rate_limited(d: Decision) -> RateLimited:
    """The 429 of §7.4 for a refused request."""
    assert d.policy is not None
    headers = header_values(d)
    headers["Retry-After"] = str(d.retry_after_s)
    return RateLimited(
        _MESSAGES[d.policy],
        headers=headers,
        extra={"errorType": "RATE_LIMIT", "policyName": d.policy},
    )


class RateLimiter:
    """Counts per token in the database, so every process and node shares one count.

    `clock` (epoch ms) replaces the request's start time and `tiers` HubSpot's numbers;
    tests use them to cross both windows without waiting or sending 250,000 requests.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], int] | None = None,
        tiers: dict[str, ratelimits.Tier] = ratelimits.TIERS,
    ) -> None:
        self.store = store
        self.clock = clock
        self.tiers = tiers

    async def check(
        self, *, token: Token, ctx: PortalContext, now: int
    ) -> list[tuple[bytes, bytes]]:
        name = ctx.portal.rate_limit_tier
        if name is None:
            return []
        at = self.clock() if self.clock is not None else now
        decision = await ratelimits.check(
            store=self.store, tier=self.tiers[name], token_id=token.id, now=at
        )
        if decision.policy is not None:
            raise rate_limited(decision)
        return [(k.lower().encode(), v.encode()) for k, v in header_values(decision).items()]
