"""Every operation of commpref's own API, `/commpref/v1/...` (docs/wire-contract.md §11),
described once.

Routing (on the raw path, `http.routing.Router` with the `commpref` prefix), the checks
(authentication, rate limit, scope, query and body validation), the error envelope and
correlation ids (`http.pipeline`), and `/openapi.json` (`http.openapi`) all read this table.
Nothing here ever lives under HubSpot's `/communication-preferences/` paths.

Adding an operation takes two steps:

1. Write the handler: `async def handler(rq: Request) -> Reply` (in a module of
   `http/api/`). `rq` carries the runtime (store, settings), `rq.call` (portal
   context, actor, correlation id, request time), the decoded path parameter `rq.param`,
   the validated `rq.query` (every declared parameter present, defaults filled in) and, for
   operations with a `body` schema, the decoded Struct in `rq.body`. Return
   `(status, Struct)` for JSON, or `(status, Stream(...))` to stream a download.
   Raise `errors.*` for failures: they become HubSpot's error envelope.
2. Add one `operation(...)` to `OPERATIONS` below: method, path under `/commpref/v1/`
   (at most one `{parameter}` segment), the scope it needs (add new scope names to
   `domain/scopes.py`; `commpref.admin` always grants), handler, summary, response
   schemas (Structs from `http/api/wire.py` or your own; a string means a streamed media
   type), query parameters (`param`) and the body schema if any.

That is all: the route, the 401/403/404/405 answers and the OpenAPI entry follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from commpref.domain import scopes
from commpref.domain.model import PortalContext, Token
from commpref.errors import MissingScopes
from commpref.http.api import handlers, links, webhooks, wire
from commpref.http.operation import Authorize, Handler, Operation
from commpref.http.params import Param

PREFIX = "commpref"  # first path segment of every path of this API
VERSION = "v1"
SECURITY_SCHEME = "commpref_token"


def param(name: str, kind: str, description: str, **options: Any) -> Param:
    """A query parameter of this API: `?name=` counts as absent."""
    return Param(name, kind, description, blank_is_missing=True, **options)


def require(scope: str) -> Authorize:
    """The check of an operation that needs `scope` (`commpref.admin` grants every one)."""

    def authorize(token: Token, ctx: PortalContext) -> None:
        if not scopes.allows_extension(scope, token.scopes):
            raise MissingScopes(sorted({scope, scopes.ADMIN}))

    return authorize


def operation(
    name: str,
    method: str,
    path: str,
    scope: str,
    handler: Handler,
    summary: str,
    responses: Mapping[int, type[msgspec.Struct] | str],
    query: tuple[Param, ...] = (),
    body: type[msgspec.Struct] | None = None,
    *,
    upload: tuple[str, ...] = (),
    param_description: str = "",
) -> Operation:
    errors = {400, 401, 403, 404, 414, 429, 500, 503}
    if body is not None or upload:
        errors |= {408, 413, 415}
    return Operation(
        name=name,
        label=f"commpref_{name}",
        method=method,
        path=path,
        versions=(VERSION,),
        handler=handler,
        summary=summary,
        responses=responses,
        authorize=require(scope),
        errors=frozenset(errors),
        security=({SECURITY_SCHEME: []},),
        query=query,
        body=body,
        upload=upload,
        gated=not upload,  # an upload streams for as long as the file takes
        scope=scope,
        description=f"Needs scope `{scope}` (or `{scopes.ADMIN}`).",
        param_description=param_description,
    )


LIMIT = param("limit", "int", "Most results in one page (1-1000).", default=100,
                 minimum=1, maximum=1000)  # fmt: skip
SINCE = param(
    "since", "str", "A cursor from a previous page: continue after it (absent: from the start)."
)
EMAIL = "The email address (percent-decoded once; `+` stays `+`)."

OPERATIONS: tuple[Operation, ...] = (
    # --- consent history and the change feed -------------------------------------------------
    operation(
        "get_subscriber_history",
        "GET",
        "subscribers/{subscriberIdString}/history",
        scopes.HISTORY_READ,
        handlers.subscriber_history,
        "Consent history of one address (including events relabelled by an erasure)",
        {200: wire.ConsentEventPage},
        (SINCE, LIMIT),
        param_description=EMAIL,
    ),
    operation(
        "list_events",
        "GET",
        "events",
        scopes.HISTORY_READ,
        handlers.events,
        "The change feed: consent events of the portal after a cursor",
        {200: wire.ConsentEventPage},
        (
            SINCE,
            LIMIT,
            param(
                "subscriptionId",
                "str",
                "Only this definition's changes; ALL: only opt-out-of-all changes and erasures.",
            ),
            param(
                "actor",
                "str",
                "Only changes by this actor (`token:7`), or of this kind "
                "(`import` matches `import:12`).",
            ),
            param("startTime", "time", "Only changes at or after (epoch ms or ISO 8601)."),
            param("endTime", "time", "Only changes before (epoch ms or ISO 8601)."),
        ),
    ),
    # --- erasure -------------------------------------------------------------------------------
    operation(
        "erase_subscriber",
        "DELETE",
        "subscribers/{subscriberIdString}",
        scopes.SUBSCRIBERS_ERASE,
        handlers.erase,
        "Erase an address: statuses removed, ledger relabelled with a keyed hash, suppressed",
        {200: wire.Erasure},
        param_description=EMAIL,
    ),
    # --- export ------------------------------------------------------------------------------
    operation(
        "export",
        "GET",
        "exports",
        scopes.EXPORT_READ,
        handlers.export,
        "Download every address's current statuses (or the ledger), streamed",
        {200: "text/csv"},
        (
            param("format", "choice", "csv or jsonl.", default="csv", choices=("csv", "jsonl")),
            param(
                "onlyUnsubscribed",
                "bool",
                "Only UNSUBSCRIBED statuses (a suppression list).",
                default=False,
            ),
            param(
                "history",
                "bool",
                "The consent ledger (one row per event) instead of the current state.",
                default=False,
            ),
        ),
    ),
    # --- imports -------------------------------------------------------------------------------
    operation(
        "create_import",
        "POST",
        "imports",
        scopes.IMPORT_WRITE,
        handlers.create_import,
        "Upload a CSV or JSON Lines file as an import job (the body is the file)",
        {202: wire.ImportJobView},
        (
            param(
                "format",
                "choice",
                "csv or jsonl (default: from fileName or the Content-Type, else csv).",
                choices=("csv", "jsonl"),
            ),
            param(
                "allowResubscribe",
                "bool",
                "Let rows undo opt-outs (and erasures) when newer.",
                default=False,
            ),
            param("fileName", "str", "The file's name, kept with the job."),
        ),
        upload=("text/csv", "application/x-ndjson"),
    ),
    operation(
        "list_imports",
        "GET",
        "imports",
        scopes.IMPORT_WRITE,
        handlers.list_imports,
        "Import jobs of the portal, newest first",
        {200: wire.ImportJobList},
        (LIMIT,),
    ),
    operation(
        "get_import",
        "GET",
        "imports/{importId}",
        scopes.IMPORT_WRITE,
        handlers.get_import,
        "One import job: status and counts",
        {200: wire.ImportJobView},
        param_description="The import job's id.",
    ),
    operation(
        "cancel_import",
        "POST",
        "imports/{importId}/cancel",
        scopes.IMPORT_WRITE,
        handlers.cancel_import,
        "Cancel an import job (chunks applied so far stay applied)",
        {200: wire.ImportJobView},
        param_description="The import job's id.",
    ),
    operation(
        "get_import_report",
        "GET",
        "imports/{importId}/report",
        scopes.IMPORT_WRITE,
        handlers.import_report,
        "Rows of an import job that were rejected or skipped, with line numbers and reasons",
        {200: wire.ImportReport},
        (param("after", "int", "Continue after this line.", default=0, minimum=0), LIMIT),
        param_description="The import job's id.",
    ),
    # --- webhooks ------------------------------------------------------------------------------
    operation(
        "create_webhook",
        "POST",
        "webhooks",
        scopes.WEBHOOKS_WRITE,
        webhooks.create_webhook,
        "Subscribe a URL to consent events",
        {201: wire.WebhookView},
        body=wire.WebhookCreate,
    ),
    operation(
        "list_webhooks",
        "GET",
        "webhooks",
        scopes.WEBHOOKS_WRITE,
        webhooks.list_webhooks,
        "Webhook subscriptions of the portal",
        {200: wire.WebhookList},
    ),
    operation(
        "get_webhook",
        "GET",
        "webhooks/{webhookId}",
        scopes.WEBHOOKS_WRITE,
        webhooks.get_webhook,
        "One webhook subscription",
        {200: wire.WebhookView},
        param_description="The webhook's id.",
    ),
    operation(
        "update_webhook",
        "PATCH",
        "webhooks/{webhookId}",
        scopes.WEBHOOKS_WRITE,
        webhooks.update_webhook,
        "Change a webhook's URL, filter or state; rotate its secret",
        {200: wire.WebhookView},
        body=wire.WebhookUpdate,
        param_description="The webhook's id.",
    ),
    operation(
        "delete_webhook",
        "DELETE",
        "webhooks/{webhookId}",
        scopes.WEBHOOKS_WRITE,
        webhooks.delete_webhook,
        "Delete a webhook and its deliveries",
        {200: wire.Done},
        param_description="The webhook's id.",
    ),
    operation(
        "list_webhook_deliveries",
        "GET",
        "webhooks/{webhookId}/deliveries",
        scopes.WEBHOOKS_WRITE,
        webhooks.list_deliveries,
        "Delivery state of a webhook's events",
        {200: wire.DeliveryList},
        (
            param(
                "state",
                "choice",
                "Only deliveries in this state.",
                choices=("PENDING", "DELIVERED", "FAILED", "SKIPPED"),
            ),
            param("after", "int", "Continue after this delivery id.", default=0, minimum=0),
            LIMIT,
        ),
        param_description="The webhook's id.",
    ),
    operation(
        "replay_webhook",
        "POST",
        "webhooks/{webhookId}/replay",
        scopes.WEBHOOKS_WRITE,
        webhooks.replay,
        "Deliver again: given deliveries, or every consent event after a cursor",
        {202: wire.ReplayResult},
        body=wire.Replay,
        param_description="The webhook's id.",
    ),
    # --- preference links ----------------------------------------------------------------
    operation(
        "list_unsubscribe",
        "POST",
        "list-unsubscribe",
        scopes.READ_WRITE,  # what links/generate needs: these headers carry such a link
        links.list_unsubscribe,
        "The List-Unsubscribe and List-Unsubscribe-Post headers (RFC 8058) for one address",
        {200: links.ListUnsubscribeResponse},
        body=links.ListUnsubscribeRequest,
    ),
)
