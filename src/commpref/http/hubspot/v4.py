"""Operations A–J of the v4 family (`v4`, `2025-09`, `2026-03`, `2026-09`),
docs/wire-contract.md §3.

Each handler takes an already authorised and validated request, calls one service and
shapes the answer; the rules live in `services` and `domain`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal, cast

from msgspec import UNSET

from commpref.domain.model import Status
from commpref.http.hubspot import render, wire
from commpref.http.operation import Reply, Request
from commpref.http.values import iso
from commpref.services import links, statuses
from commpref.services.context import now_ms
from commpref.services.statuses import InputError, StatusWrite

COMPLETE: Final[Literal["COMPLETE"]] = "COMPLETE"


def _batch_errors(errors: Sequence[InputError]) -> dict[str, Any]:
    """`errors`/`numErrors` keyword arguments of a batch envelope; omitted when none failed."""
    if not errors:
        return {}
    return {"errors": render.standard_errors(errors), "numErrors": len(errors)}


def _batch_status(rq: Request, errors: Sequence[InputError]) -> int:
    """§5.12: 207 on the versions that declare it (F, I on v4/2026-03) when an input failed."""
    return 207 if errors and rq.operation.multi_status else 200


async def list_definitions(rq: Request) -> Reply:
    """A: every definition of the portal, optionally of one brand, by id."""
    unit = rq.query["businessUnitId"]
    with_translations = bool(rq.query["includeTranslations"])
    results = [
        render.definition(d, translations=with_translations)
        for d in rq.call.ctx.definitions
        if unit is None or d.business_unit_id == unit
    ]
    return 200, wire.ActionResponseWithResultsSubscriptionDefinition(
        status=COMPLETE, results=results, startedAt=iso(rq.call.now), completedAt=iso(now_ms())
    )


async def get_statuses(rq: Request) -> Reply:
    """B: one row per definition in scope, defaults included."""
    email = statuses.require_email(cast(str, rq.param))
    result = await statuses.read_statuses(
        store=rq.runtime.store,
        call=rq.call,
        inputs=[email],
        business_unit_id=rq.query["businessUnitId"],
    )
    return 200, wire.ActionResponseWithResultsPublicStatus(
        status=COMPLETE,
        results=render.public_statuses(email, result.results[0].rows),
        startedAt=iso(rq.call.now),
        completedAt=iso(now_ms()),
    )


async def set_status(rq: Request) -> Reply:
    """C: one status write; the row after it, with `setStatusSuccessReason`."""
    email = statuses.require_email(cast(str, rq.param))
    body = rq.body
    row = await statuses.set_status(
        store=rq.runtime.store,
        call=rq.call,
        write=StatusWrite(
            email=email,
            subscription_id=body["subscriptionId"],
            status=Status(body["statusState"]),
            legal_basis=body["legalBasis"],
            legal_basis_explanation=body["legalBasisExplanation"],
        ),
    )
    return 200, wire.ActionResponseWithResultsPublicStatus(
        status=COMPLETE,
        results=[render.public_status(email, row)],
        startedAt=iso(rq.call.now),
        completedAt=iso(now_ms()),
    )


async def get_wide(rq: Request) -> Reply:
    """D: the stored opt-out-of-all rows; `verbose` is validated and ignored (§3.D)."""
    email = statuses.require_email(cast(str, rq.param))
    result = await statuses.read_wide(
        store=rq.runtime.store,
        call=rq.call,
        inputs=[email],
        business_unit_id=rq.query["businessUnitId"],
    )
    return 200, wire.ActionResponseWithResultsPublicWideStatus(
        status=COMPLETE,
        results=render.wide_statuses(rq.call.ctx.portal, email, result.results[0].rows),
        startedAt=iso(rq.call.now),
        completedAt=iso(now_ms()),
    )


async def unsubscribe_all(rq: Request) -> Reply:
    """E: opt one address out of all email of a scope; its body is ignored (§3.E)."""
    email = statuses.require_email(cast(str, rq.param))
    result = await statuses.unsubscribe_all(
        store=rq.runtime.store,
        call=rq.call,
        inputs=[email],
        business_unit_id=rq.query["businessUnitId"],
        verbose=rq.query["verbose"],
    )
    rows = result.results[0].rows
    return 200, wire.ActionResponseWithResultsPublicStatus(
        status=COMPLETE,
        results=render.public_statuses(email, rows),
        startedAt=iso(rq.call.now),
        completedAt=iso(now_ms()),
    )


async def batch_read(rq: Request) -> Reply:
    """F: per distinct valid address the rows B would return."""
    result = await statuses.read_statuses(
        store=rq.runtime.store,
        call=rq.call,
        inputs=rq.body["inputs"],
        business_unit_id=rq.query["businessUnitId"],
    )
    results = [
        wire.PublicStatusBulkResponse(
            subscriberIdString=r.email, statuses=render.public_statuses(r.email, r.rows)
        )
        for r in result.results
    ]
    return _batch_status(rq, result.errors), wire.BatchResponsePublicStatusBulkResponse(
        status=COMPLETE,
        results=results,
        **_batch_errors(result.errors),
        startedAt=iso(rq.call.now),
        completedAt=iso(now_ms()),
    )


async def batch_write(rq: Request) -> Reply:
    """G: every valid input in order, one row each; 200 in every version."""
    writes = [
        StatusWrite(
            email=i["subscriberIdString"],
            subscription_id=i["subscriptionId"],
            status=Status(i["statusState"]),
            legal_basis=i["legalBasis"],
            legal_basis_explanation=i["legalBasisExplanation"],
        )
        for i in rq.body["inputs"]
    ]
    result = await statuses.write_statuses(store=rq.runtime.store, call=rq.call, writes=writes)
    return 200, wire.BatchResponsePublicStatus(
        status=COMPLETE,
        results=[render.public_status(email, row) for email, row in result.results],
        **_batch_errors(result.errors),
        startedAt=iso(rq.call.now),
        completedAt=iso(now_ms()),
    )


async def batch_unsubscribe_all(rq: Request) -> Reply:
    """H: opt every distinct valid address out; `statuses` only with `verbose=true`."""
    result = await statuses.unsubscribe_all(
        store=rq.runtime.store,
        call=rq.call,
        inputs=rq.body["inputs"],
        business_unit_id=rq.query["businessUnitId"],
        verbose=rq.query["verbose"],
    )
    verbose = rq.query["verbose"]
    results = [
        wire.PublicBulkOptOutFromAllResponse(
            subscriberIdString=r.email,
            statuses=render.public_statuses(r.email, r.rows) if verbose else UNSET,
        )
        for r in result.results
    ]
    return 200, wire.BatchResponsePublicBulkOptOutFromAllResponse(
        status=COMPLETE,
        results=results,
        **_batch_errors(result.errors),
        startedAt=iso(rq.call.now),
        completedAt=iso(now_ms()),
    )


async def batch_read_wide(rq: Request) -> Reply:
    """I: per distinct valid address its stored wide rows."""
    result = await statuses.read_wide(
        store=rq.runtime.store,
        call=rq.call,
        inputs=rq.body["inputs"],
        business_unit_id=rq.query["businessUnitId"],
    )
    portal = rq.call.ctx.portal
    results = [
        wire.PublicWideStatusBulkResponse(
            subscriberIdString=r.email, wideStatuses=render.wide_statuses(portal, r.email, r.rows)
        )
        for r in result.results
    ]
    return _batch_status(rq, result.errors), wire.BatchResponsePublicWideStatusBulkResponse(
        status=COMPLETE,
        results=results,
        **_batch_errors(result.errors),
        startedAt=iso(rq.call.now),
        completedAt=iso(now_ms()),
    )


async def generate_links(rq: Request) -> Reply:
    """J: signed preference-page URLs for one address (§5.14)."""
    body = rq.body
    result = links.generate_links(
        call=rq.call,
        email=body["subscriberIdString"],
        business_unit_id=rq.query["businessUnitId"],
        language=body["language"],
        subscription_id=body["subscriptionId"],
        base_url=rq.runtime.base_url,
        key=rq.runtime.link_keys[0],
    )
    return 200, wire.LinkGenerationResponse(
        subscriberIdString=result.email,
        managePreferencesUrl=result.manage_preferences_url,
        unsubscribeAllUrl=result.unsubscribe_all_url,
        unsubscribeSingleUrl=(
            UNSET if result.unsubscribe_single_url is None else result.unsubscribe_single_url
        ),
    )
