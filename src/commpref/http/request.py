"""What a handler gets: the process-wide runtime and one parsed, authorised request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from commpref.domain.model import PortalContext, Token
from commpref.errors import Unavailable
from commpref.services.context import Call
from commpref.settings import Settings
from commpref.storage.base import Store

if TYPE_CHECKING:
    from commpref.http.metrics import Metrics
    from commpref.http.ops import Operation


class RateLimiter(Protocol):
    """Hook for step 3 of §2.5 (rate limits; `http.ratelimit.RateLimiter`).

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

    @property
    def store(self) -> Store:
        if self.store_ is None:
            raise Unavailable("store not open")
        return self.store_


@dataclass(slots=True)
class ApiRequest:
    """One request after routing, authentication, authorisation and validation."""

    runtime: Runtime
    operation: Operation
    version: str
    call: Call
    token: Token
    subscriber: str | None  # the decoded path email of B–E and K
    query: dict[str, Any]
    body: Any  # validated request body (dict, or list for O); None when the op has none
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)  # extra response headers


Reply = tuple[int, Any]  # (HTTP status, msgspec Struct or plain JSON value)
Handler = Callable[[ApiRequest], Awaitable[Reply]]
