"""Every operation of docs/wire-contract.md §1.2, described once: method, path, versions,
parameters, body, responses and handler. Routing, request validation and `/openapi.json` all read
this table.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from commpref.domain.scopes import Op
from commpref.http import handlers_v3 as v3
from commpref.http import handlers_v4 as v4
from commpref.http import wire
from commpref.http.params import QueryParam
from commpref.http.request import Handler

V4_FAMILY = ("v4", "2025-09", "2026-03", "2026-09")
V3_STYLE = ("v3", "2025-09", "2026-09")  # K–N; `v3/resubscribe` is the historic path (§3.N)
MULTI_STATUS = ("v4", "2026-03")  # F and I declare 207 here (§1.3 row 2)
SINGLE_STATUS = ("2025-09", "2026-09")
VERSIONS = ("v3", "v4", "2025-09", "2026-03", "2026-09")
V3_OPS = frozenset(
    {Op.V3_STATUSES, Op.V3_SUBSCRIBE, Op.V3_UNSUBSCRIBE, Op.V3_RESUBSCRIBE, Op.V3_BULK_STATUSES}
)

CHANNEL = QueryParam("channel", "channel", required=True, description="Only EMAIL.")
BUSINESS_UNIT = QueryParam(
    "businessUnitId", "int64", description="Business unit (brand); 0 is the default brand."
)
VERBOSE = QueryParam(
    "verbose", "bool", default=False, description="true: return the updated statuses."
)
TRANSLATIONS = QueryParam(
    "includeTranslations", "bool", default=False, description="true: add translations."
)
LINK_BUSINESS_UNIT = QueryParam(
    "businessUnitId", "int64", default=0, description="Business unit of the page (default 0)."
)


@dataclass(frozen=True, slots=True)
class Operation:
    op: Op
    method: str
    path: str  # under /communication-preferences/{version}/
    versions: tuple[str, ...]
    handler: Handler
    summary: str
    responses: dict[int, type[msgspec.Struct]]
    query: tuple[QueryParam, ...] = ()
    body: type[msgspec.Struct] | None = None  # a JSON object of this schema
    bare_array: bool = False  # O: the body is a bare array of email strings
    batch: bool = False  # the inputs are capped at `batch_max_inputs`
    multi_status: bool = False  # 207 when an input failed (F, I on v4/2026-03)

    @property
    def has_body(self) -> bool:
        return self.body is not None or self.bare_array

    @property
    def path_param(self) -> str | None:
        for part in self.path.split("/"):
            if part.startswith("{"):
                return part[1:-1]
        return None

    @property
    def v3_style(self) -> bool:
        """K–O: their error bodies carry `requestId` (§6.2)."""
        return self.op in V3_OPS


def _f(versions: tuple[str, ...], multi: bool) -> Operation:
    ok = wire.BatchResponsePublicStatusBulkResponse
    return Operation(
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
    return Operation(
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
    Operation(
        Op.LIST_DEFINITIONS,
        "GET",
        "definitions",
        ("v3",),
        v3.list_definitions,
        "List subscription definitions (v3 shape)",
        {200: wire.SubscriptionDefinitionsResponse},
    ),
    Operation(
        Op.LIST_DEFINITIONS,
        "GET",
        "definitions",
        V4_FAMILY,
        v4.list_definitions,
        "List subscription definitions",
        {200: wire.ActionResponseWithResultsSubscriptionDefinition},
        (BUSINESS_UNIT, TRANSLATIONS),
    ),
    Operation(
        Op.GET_STATUSES,
        "GET",
        "statuses/{subscriberIdString}",
        V4_FAMILY,
        v4.get_statuses,
        "Statuses of one subscriber",
        {200: wire.ActionResponseWithResultsPublicStatus},
        (CHANNEL, BUSINESS_UNIT),
    ),
    Operation(
        Op.SET_STATUS,
        "POST",
        "statuses/{subscriberIdString}",
        V4_FAMILY,
        v4.set_status,
        "Set one status of one subscriber",
        {200: wire.ActionResponseWithResultsPublicStatus},
        body=wire.PartialPublicStatusRequest,
    ),
    Operation(
        Op.GET_WIDE,
        "GET",
        "statuses/{subscriberIdString}/unsubscribe-all",
        V4_FAMILY,
        v4.get_wide,
        "Opt-out-of-all statuses of one subscriber",
        {200: wire.ActionResponseWithResultsPublicWideStatus},
        (CHANNEL, BUSINESS_UNIT, VERBOSE),
    ),
    Operation(
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
    Operation(
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
    Operation(
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
    Operation(
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
    Operation(
        Op.V3_STATUSES,
        "GET",
        "status/email/{emailAddress}",
        V3_STYLE,
        v3.statuses_of_email,
        "Subscription statuses of one email (v3)",
        {200: wire.PublicSubscriptionStatusesResponse},
    ),
    Operation(
        Op.V3_SUBSCRIBE,
        "POST",
        "subscribe",
        V3_STYLE,
        v3.subscribe,
        "Subscribe an email to one type (v3)",
        {200: wire.PublicSubscriptionStatus},
        body=_V3_CHANGE,
    ),
    Operation(
        Op.V3_UNSUBSCRIBE,
        "POST",
        "unsubscribe",
        V3_STYLE,
        v3.unsubscribe,
        "Unsubscribe an email from one type (v3)",
        {200: wire.PublicSubscriptionStatus},
        body=_V3_CHANGE,
    ),
    Operation(
        Op.V3_RESUBSCRIBE,
        "POST",
        "resubscribe",
        V3_STYLE,
        v3.resubscribe,
        "Resubscribe an email to one type (v3)",
        {200: wire.PublicSubscriptionStatus},
        body=_V3_CHANGE,
    ),
    Operation(
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
