"""HubSpot's rate limits per token (docs/wire-contract.md §7):
tiers, counting, and what the headers say.

Off unless the portal has a `rate_limit_tier`. Each request that passed authentication is
counted once by `Store.count_request` (atomic across processes); a request that finds a
window full is refused and not counted. The per-second figure is reported, never enforced.
"""

from __future__ import annotations

from dataclasses import dataclass

from commpref.storage.store import Store

WINDOW_MS = 10_000
DAY_MS = 86_400_000
TEN_SECONDLY = "TEN_SECONDLY_ROLLING"
DAILY = "DAILY"


@dataclass(frozen=True, slots=True)
class Tier:
    max: int  # requests per rolling 10 s
    daily: int  # requests per UTC day

    @property
    def secondly(self) -> int:
        return self.max // 10


TIERS: dict[str, Tier] = {
    "starter": Tier(100, 250_000),
    "professional": Tier(190, 625_000),
    "enterprise": Tier(190, 1_000_000),
}


@dataclass(frozen=True, slots=True)
class Decision:
    """One request's verdict and the figures of the `X-HubSpot-RateLimit-*` headers."""

    tier: Tier
    policy: str | None  # None: allowed; else the window that refused it
    remaining: int
    daily_remaining: int
    secondly_remaining: int
    retry_after_s: int  # only meaningful when refused


def decide(
    tier: Tier, *, counted: bool, hits: tuple[int, ...], day_count: int, now: int
) -> Decision:
    """The verdict and header figures from a token's counters after counting (pure)."""
    daily_remaining = max(0, tier.daily - day_count)
    remaining = max(0, tier.max - len(hits))
    this_second = sum(1 for h in hits if h > now - 1000)
    secondly_remaining = max(0, tier.secondly - this_second)
    policy: str | None = None
    retry_ms = 0
    if not counted:
        if day_count >= tier.daily:
            policy = DAILY
            retry_ms = (now // DAY_MS + 1) * DAY_MS - now
        else:
            policy = TEN_SECONDLY
            retry_ms = min(hits) + WINDOW_MS - now if hits else 0
            remaining = 0
    retry_after = max(1, -(-retry_ms // 1000))  # whole seconds, rounded up, at least 1
    return Decision(tier, policy, remaining, daily_remaining, secondly_remaining, retry_after)


async def check(*, store: Store, tier: Tier, token_id: int, now: int) -> Decision:
    """Count one request of `token_id` under its portal's tier."""
    count = await store.count_request(
        token_id=token_id,
        now=now,
        window_ms=WINDOW_MS,
        window_max=tier.max,
        daily_max=tier.daily,
    )
    return decide(tier, counted=count.counted, hits=count.hits, day_count=count.day_count, now=now)
