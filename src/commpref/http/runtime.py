"""The process-wide state every HTTP surface reads, built by `app.create_app`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from commpref.domain.model import PortalContext, Token
from commpref.errors import Unavailable
from commpref.http.metrics import Metrics
from commpref.services.auth import TokenUses
from commpref.settings import Settings
from commpref.storage.store import Store


class RateLimiter(Protocol):
    """Step 3 of docs/wire-contract.md §2.5 (rate limits; `http.ratelimit.RateLimiter`).

    Called after authentication and before the scope check. Returns the
    `X-HubSpot-RateLimit-*` headers to add to the response (errors included); raises
    `errors.RateLimited` (with its headers) when a window is exhausted.
    """

    async def check(
        self, *, token: Token, ctx: PortalContext, now: int
    ) -> list[tuple[bytes, bytes]]: ...


@dataclass(slots=True)
class Runtime:
    """Process-wide state built by `app.create_app`; the store is opened in the lifespan."""

    settings: Settings
    base_url: str
    store_: Store | None = None
    link_keys: tuple[bytes, ...] = ()
    rate_limiter: RateLimiter | None = None
    metrics: Metrics | None = None
    token_uses: TokenUses | None = None
    # Outgoing requests of request handlers (SNS certificates and confirmations); opened
    # in the lifespan, so its connections are reused and closed on shutdown.
    http_client: httpx.AsyncClient | None = None

    @property
    def store(self) -> Store:
        if self.store_ is None:
            raise Unavailable("store not open")
        return self.store_
