"""The v3 shapes: A on `v3`, and K–O (`v3`; K–N also on `2025-09`, `2026-09`),
docs/wire-contract.md §3, §5.11.

Successes are bare objects with HTTP 200 only: `hubspot-api-client` deserialises nothing else.
"""

from __future__ import annotations

from typing import cast

from commpref.errors import ValidationError
from commpref.http.hubspot import render, wire
from commpref.http.operation import Reply, Request
from commpref.services import statuses

_DIGITS = frozenset("0123456789")


async def list_definitions(rq: Request) -> Reply:
    """A on v3: the same definitions, never with translations."""
    return 200, wire.SubscriptionDefinitionsResponse(
        subscriptionDefinitions=[
            render.definition(d, translations=False) for d in rq.call.ctx.definitions
        ]
    )


async def statuses_of_email(rq: Request) -> Reply:
    """K: the v3 mapping of every definition in scope for one address."""
    email = statuses.require_email(cast(str, rq.param), "emailAddress")
    result = await statuses.read_v3(store=rq.runtime.store, call=rq.call, inputs=[email])
    portal = rq.call.ctx.portal
    return 200, wire.PublicSubscriptionStatusesResponse(
        recipient=email,
        subscriptionStatuses=[render.v3_status(portal, r) for r in result.results[0].rows],
    )


def _definition_id(raw: str) -> int:
    """v3 ids travel as strings; one that is not a number names no definition."""
    if 0 < len(raw) <= 19 and set(raw) <= _DIGITS:
        return int(raw)
    message = f"Subscription definition {raw} does not exist"
    raise ValidationError(message, errors=[{"message": message, "in": "subscriptionId"}])


async def _change(rq: Request, action: str) -> Reply:
    body = rq.body
    # Email first, then the id, so the business-rule order matches the service's.
    statuses.require_email(body["emailAddress"], "emailAddress")
    row = await statuses.v3_change(
        store=rq.runtime.store,
        call=rq.call,
        action=action,
        email=body["emailAddress"],
        subscription_id=_definition_id(body["subscriptionId"]),
        legal_basis=body["legalBasis"],
        legal_basis_explanation=body["legalBasisExplanation"],
    )
    return 200, render.v3_status(rq.call.ctx.portal, row)


async def subscribe(rq: Request) -> Reply:
    """L: subscribe to one type; refused for unsubscribed or opted-out addresses."""
    return await _change(rq, "subscribe")


async def unsubscribe(rq: Request) -> Reply:
    """M: unsubscribe from one type; refused when already unsubscribed."""
    return await _change(rq, "unsubscribe")


async def resubscribe(rq: Request) -> Reply:
    """N: resubscribe to one type, lifting a covering opt-out; refused when subscribed."""
    return await _change(rq, "resubscribe")


async def bulk_statuses(rq: Request) -> Reply:
    """O: v3 rows per distinct address; one invalid address fails the request (§3.O)."""
    inputs: list[str] = rq.body
    for raw in inputs:
        statuses.require_email(raw)
    result = await statuses.read_v3(store=rq.runtime.store, call=rq.call, inputs=inputs)
    portal = rq.call.ctx.portal
    return 200, wire.PublicBulkSubscriptionStatusesResponse(
        recipientToSubscriptionStatuses={
            r.email: [render.v3_status(portal, row) for row in r.rows] for r in result.results
        }
    )
