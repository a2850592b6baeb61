"""Who is asking, for which portal, and when: passed to every status service."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from commpref.domain.model import Actor, PortalContext

API_SOURCE = "Public status API"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Call:
    """One request's identity: portal context, actor, ledger source, correlation id, time.

    `now` is the request's `startedAt`; every change the request makes carries it (§5.15).
    """

    ctx: PortalContext
    actor: Actor
    source: str
    correlation_id: str
    now: int

    @classmethod
    def make(
        cls,
        ctx: PortalContext,
        actor: Actor,
        *,
        source: str = API_SOURCE,
        correlation_id: str | None = None,
        now: int | None = None,
    ) -> Call:
        return cls(
            ctx,
            actor,
            source,
            correlation_id or str(uuid.uuid4()),
            now_ms() if now is None else now,
        )


def api_source(app_id: int | None) -> str:
    """`source` text of writes through HubSpot's paths (§5.15)."""
    return API_SOURCE if app_id is None else f"{API_SOURCE}, App ID:{app_id}"
