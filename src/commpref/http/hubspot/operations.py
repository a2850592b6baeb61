"""Every operation of docs/wire-contract.md §1.2, described once: method, path, versions,
parameters, body, responses and handler. Routing, request validation and `/openapi.json` all read
this table.
"""

from __future__ import annotations

import functools
import re

import msgspec

from commpref.domain.scopes import ALTERNATIVES, Op
from commpref.http.hubspot import v3, v4, wire
from commpref.http.operation import Handler, Operation
from commpref.http.params import Param
from commpref.services import auth

V4_FAMILY = ("v4", "2025-09", "2026-03", "2026-09")
V3_STYLE = ("v3", "2025-09", "2026-09")  # K–N; `v3/resubscribe` is the historic path (§3.N)
MULTI_STATUS = ("v4", "2026-03")  # F and I declare 207 here (§1.3 row 2)
SINGLE_STATUS = ("2025-09", "2026-09")
VERSIONS = ("v3", "v4", "2025-09", "2026-03", "2026-09")
V3_OPS = frozenset(
    {Op.V3_STATUSES, Op.V3_SUBSCRIBE, Op.V3_UNSUBSCRIBE, Op.V3_RESUBSCRIBE, Op.V3_BULK_STATUSES}
)

CHANNEL = Param("channel", "channel", required=True, description="Only EMAIL.")
BUSINESS_UNIT = Param(
    "businessUnitId", "int", description="Business unit (brand); 0 is the default brand."
)
VERBOSE = Param("verbose", "bool", default=False, description="true: return the updated statuses.")
TRANSLATIONS = Param(
    "includeTranslations", "bool", default=False, description="true: add translations."
)
LINK_BUSINESS_UNIT = Param(
    "businessUnitId", "int", default=0, description="Business unit of the page (default 0)."
)
_PRIVATE_APPS: tuple[dict[str, list[str]], ...] = (
    {"private_apps": []},
    {"private_apps_legacy": []},
)


def operation(
    op: Op,
    method: str,
    path: str,
    versions: tuple[str, ...],
    handler: Handler,
    summary: str,
    responses: dict[int, type[msgspec.Struct]],
    query: tuple[Param, ...] = (),
    body: type[msgspec.Struct] | None = None,
    *,
    bare_array: bool = False,
    batch: bool = False,
    multi_status: bool = False,
) -> Operation:
    """One of HubSpot's operations (its letter `op` decides its scopes, §2.3)."""
    has_body = body is not None or bare_array
    errors = {400, 401, 403, 414, 429, 500, 503}
    if op in V3_OPS and has_body:
        errors.add(404)
    if "{" in path:
        errors.add(405)  # a subscriber id spelled like a literal segment names another path
    if has_body:
        errors |= {408, 413, 415}
    security = tuple({"oauth2": sorted(alt)} for alt in ALTERNATIVES[op]) + _PRIVATE_APPS
    return Operation(
        name=op.name.lower(),
        label=op.name.lower(),
        method=method,
        path=path,
        versions=versions,
        handler=handler,
        summary=summary,
        responses=responses,
        authorize=functools.partial(auth.authorize, op),
        errors=frozenset(errors),
        security=security,
        query=query,
        body=body,
        bare_array=bare_array,
        batch=batch,
        multi_status=multi_status,
        request_id=op in V3_OPS,  # K–O: their error bodies carry `requestId` (§6.2)
        op=op,
        param_description="The email address (percent-decoded once; `+` stays `+`).",
    )


def operation_id(o: Operation, version: str) -> str:
    """OpenAPI's operationId: one per version of an operation."""
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{o.method.lower()} {version} {o.path}").strip("_")


def _f(versions: tuple[str, ...], multi: bool) -> Operation:
    ok = wire.BatchResponsePublicStatusBulkResponse
    return operation(
        Op.BATCH_READ,
        "POST",
        "statuses/batch/read",
        versions,
        v4.batch_read,
        "Batch read statuses",
        {200: ok, 207: wire.BatchResponsePublicStatusBulkResponseWithErrors}
        if multi
        else {200: ok},
        (CHANNEL, BUSINESS_UNIT),
        wire.BatchInputString,
        batch=True,
        multi_status=multi,
    )


def _i(versions: tuple[str, ...], multi: bool) -> Operation:
    ok = wire.BatchResponsePublicWideStatusBulkResponse
    return operation(
        Op.BATCH_READ_WIDE,
        "POST",
        "statuses/batch/unsubscribe-all/read",
        versions,
        v4.batch_read_wide,
        "Batch read opt-out-of-all statuses",
        {200: ok, 207: wire.BatchResponsePublicWideStatusBulkResponseWithErrors}
        if multi
        else {200: ok},
        (CHANNEL, BUSINESS_UNIT),
        wire.BatchInputString,
        batch=True,
        multi_status=multi,
    )


_V3_CHANGE = wire.PublicUpdateSubscriptionStatusRequest

OPERATIONS: tuple[Operation, ...] = (
    operation(
        Op.LIST_DEFINITIONS,
        "GET",
        "definitions",
        ("v3",),
        v3.list_definitions,
        "List subscription definitions (v3 shape)",
        {200: wire.SubscriptionDefinitionsResponse},
    ),
    operation(
        Op.LIST_DEFINITIONS,
        "GET",
        "definitions",
        V4_FAMILY,
        v4.list_definitions,
        "List subscription definitions",
        {200: wire.ActionResponseWithResultsSubscriptionDefinition},
        (BUSINESS_UNIT, TRANSLATIONS),
    ),
    operation(
        Op.GET_STATUSES,
        "GET",
        "statuses/{subscriberIdString}",
        V4_FAMILY,
        v4.get_statuses,
        "Statuses of one subscriber",
        {200: wire.ActionResponseWithResultsPublicStatus},
        (CHANNEL, BUSINESS_UNIT),
    ),
    operation(
        Op.SET_STATUS,
        "POST",
        "statuses/{subscriberIdString}",
        V4_FAMILY,
        v4.set_status,
        "Set one status of one subscriber",
        {200: wire.ActionResponseWithResultsPublicStatus},
        body=wire.PartialPublicStatusRequest,
    ),
    operation(
        Op.GET_WIDE,
        "GET",
        "statuses/{subscriberIdString}/unsubscribe-all",
        V4_FAMILY,
        v4.get_wide,
        "Opt-out-of-all statuses of one subscriber",
        {200: wire.ActionResponseWithResultsPublicWideStatus},
        (CHANNEL, BUSINESS_UNIT, VERBOSE),
    ),
    operation(
        Op.UNSUBSCRIBE_ALL,
        "POST",
        "statuses/{subscriberIdString}/unsubscribe-all",
        V4_FAMILY,
        v4.unsubscribe_all,
        "Opt one subscriber out of all email",
        {200: wire.ActionResponseWithResultsPublicStatus},
        (CHANNEL, BUSINESS_UNIT, VERBOSE),
    ),
    _f(MULTI_STATUS, True),
    _f(SINGLE_STATUS, False),
    operation(
        Op.BATCH_WRITE,
        "POST",
        "statuses/batch/write",
        V4_FAMILY,
        v4.batch_write,
        "Batch write statuses",
        {200: wire.BatchResponsePublicStatus},
        body=wire.BatchInputPublicStatusRequest,
        batch=True,
    ),
    operation(
        Op.BATCH_UNSUBSCRIBE_ALL,
        "POST",
        "statuses/batch/unsubscribe-all",
        V4_FAMILY,
        v4.batch_unsubscribe_all,
        "Batch opt-out of all email",
        {200: wire.BatchResponsePublicBulkOptOutFromAllResponse},
        (CHANNEL, BUSINESS_UNIT, VERBOSE),
        wire.BatchInputString,
        batch=True,
    ),
    _i(MULTI_STATUS, True),
    _i(SINGLE_STATUS, False),
    operation(
        Op.GENERATE_LINKS,
        "POST",
        "links/generate",
        V4_FAMILY,
        v4.generate_links,
        "Generate preference-page links",
        {200: wire.LinkGenerationResponse},
        (CHANNEL, LINK_BUSINESS_UNIT),
        wire.LinkGenerationRequest,
    ),
    operation(
        Op.V3_STATUSES,
        "GET",
        "status/email/{emailAddress}",
        V3_STYLE,
        v3.statuses_of_email,
        "Subscription statuses of one email (v3)",
        {200: wire.PublicSubscriptionStatusesResponse},
    ),
    operation(
        Op.V3_SUBSCRIBE,
        "POST",
        "subscribe",
        V3_STYLE,
        v3.subscribe,
        "Subscribe an email to one type (v3)",
        {200: wire.PublicSubscriptionStatus},
        body=_V3_CHANGE,
    ),
    operation(
        Op.V3_UNSUBSCRIBE,
        "POST",
        "unsubscribe",
        V3_STYLE,
        v3.unsubscribe,
        "Unsubscribe an email from one type (v3)",
        {200: wire.PublicSubscriptionStatus},
        body=_V3_CHANGE,
    ),
    operation(
        Op.V3_RESUBSCRIBE,
        "POST",
        "resubscribe",
        V3_STYLE,
        v3.resubscribe,
        "Resubscribe an email to one type (v3)",
        {200: wire.PublicSubscriptionStatus},
        body=_V3_CHANGE,
    ),
    operation(
        Op.V3_BULK_STATUSES,
        "POST",
        "status/email/bulk",
        ("v3",),
        v3.bulk_statuses,
        "Subscription statuses of many emails (v3, historic)",
        {200: wire.PublicBulkSubscriptionStatusesResponse},
        bare_array=True,
        batch=True,
    ),
)
