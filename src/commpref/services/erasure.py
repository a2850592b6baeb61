"""Erasing an address while keeping it suppressed (docs/privacy.md, `domain.erasure`)."""

from __future__ import annotations

from commpref.domain.erasure import ERASURE_SOURCE
from commpref.services.context import Call
from commpref.services.statuses import require_email
from commpref.storage.ledger import Erasure
from commpref.storage.store import Store


async def erase(*, store: Store, call: Call, email: str) -> Erasure:
    """Remove the address's statuses, relabel its ledger entries with the keyed hash and keep
    that hash as a suppression; the erasure itself is a ledger entry under the hash."""
    address = require_email(email)
    return await store.erase(
        call.ctx.portal.id,
        address,
        actor=call.actor.label(),
        correlation_id=call.correlation_id,
        source=ERASURE_SOURCE,  # what happened, whoever asked (the actor says who)
        now=call.now,
    )
