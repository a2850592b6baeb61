"""Every operation of commpref's own API, `/commpref/v1/...` (docs/wire-contract.md §11),
described once.

Routing (on the raw path, `http.routing.Router` with the `commpref` prefix), the checks
(authentication, rate-limit hook, scope, query and body validation), the error envelope
and correlation ids (`http.ext_api.ExtApi`), and `/openapi.json` (`http.openapi`) all read
this table. Nothing here ever lives under HubSpot's `/communication-preferences/` paths.

Adding an operation takes two steps:

1. Write the handler: `async def handler(rq: ExtRequest) -> ExtReply` (in a `handlers_*`
   module of `http/`). `rq` carries the runtime (store, settings), `rq.call` (portal
   context, actor, correlation id, request time), the decoded path parameter `rq.param`,
   the validated `rq.query` (every declared parameter present, defaults filled in) and, for
   operations with a `body` schema, the decoded Struct in `rq.body`. Return
   `(status, Struct)` for JSON, or `(status, ext.Stream(...))` to stream a download.
   Raise `errors.*` for failures: they become HubSpot's error envelope.
2. Add one `ExtOperation` to `EXT_OPERATIONS` below: method, path under `/commpref/v1/`
   (at most one `{parameter}` segment), the scope it needs (add new scope names to
   `domain/scopes.py`; `commpref.admin` always grants), handler, summary, response
   schemas (Structs from `http/ext_wire.py` or your own; a string means a streamed media
   type), query parameters (`ExtParam`) and the body schema if any.

That is all: the route, the 401/403/404/405 answers and the OpenAPI entry follow.
"""

from __future__ import annotations

from commpref.domain import scopes
from commpref.http import ext_wire, handlers_links
from commpref.http import handlers_ext as ext
from commpref.http import handlers_hooks as hooks
from commpref.http.ext import ExtOperation, ExtParam

LIMIT = ExtParam("limit", "int", "Most results in one page (1-1000).", default=100,
                 minimum=1, maximum=1000)  # fmt: skip
SINCE = ExtParam(
    "since", "str", "A cursor from a previous page: continue after it (absent: from the start)."
)
EMAIL = "The email address (percent-decoded once; `+` stays `+`)."

EXT_OPERATIONS: tuple[ExtOperation, ...] = (
    # --- consent history and the change feed -------------------------------------------------
    ExtOperation(
        "get_subscriber_history",
        "GET",
        "subscribers/{subscriberIdString}/history",
        scopes.HISTORY_READ,
        ext.subscriber_history,
        "Consent history of one address (including events relabelled by an erasure)",
        {200: ext_wire.ConsentEventPage},
        (SINCE, LIMIT),
        param_description=EMAIL,
    ),
    ExtOperation(
        "list_events",
        "GET",
        "events",
        scopes.HISTORY_READ,
        ext.events,
        "The change feed: consent events of the portal after a cursor",
        {200: ext_wire.ConsentEventPage},
        (
            SINCE,
            LIMIT,
            ExtParam(
                "subscriptionId",
                "str",
                "Only this definition's changes; ALL: only opt-out-of-all changes and erasures.",
            ),
            ExtParam(
                "actor",
                "str",
                "Only changes by this actor (`token:7`), or of this kind "
                "(`import` matches `import:12`).",
            ),
            ExtParam("startTime", "time", "Only changes at or after (epoch ms or ISO 8601)."),
            ExtParam("endTime", "time", "Only changes before (epoch ms or ISO 8601)."),
        ),
    ),
    # --- erasure -------------------------------------------------------------------------------
    ExtOperation(
        "erase_subscriber",
        "DELETE",
        "subscribers/{subscriberIdString}",
        scopes.SUBSCRIBERS_ERASE,
        ext.erase,
        "Erase an address: statuses removed, ledger relabelled with a keyed hash, suppressed",
        {200: ext_wire.Erasure},
        param_description=EMAIL,
    ),
    # --- export ------------------------------------------------------------------------------
    ExtOperation(
        "export",
        "GET",
        "exports",
        scopes.EXPORT_READ,
        ext.export,
        "Download every address's current statuses (or the ledger), streamed",
        {200: "text/csv"},
        (
            ExtParam("format", "choice", "csv or jsonl.", default="csv", choices=("csv", "jsonl")),
            ExtParam(
                "onlyUnsubscribed",
                "bool",
                "Only UNSUBSCRIBED statuses (a suppression list).",
                default=False,
            ),
            ExtParam(
                "history",
                "bool",
                "The consent ledger (one row per event) instead of the current state.",
                default=False,
            ),
        ),
    ),
    # --- imports -------------------------------------------------------------------------------
    ExtOperation(
        "create_import",
        "POST",
        "imports",
        scopes.IMPORT_WRITE,
        ext.create_import,
        "Upload a CSV or JSON Lines file as an import job (the body is the file)",
        {202: ext_wire.ImportJobView},
        (
            ExtParam(
                "format",
                "choice",
                "csv or jsonl (default: from fileName or the Content-Type, else csv).",
                choices=("csv", "jsonl"),
            ),
            ExtParam(
                "allowResubscribe",
                "bool",
                "Let rows undo opt-outs (and erasures) when newer.",
                default=False,
            ),
            ExtParam("fileName", "str", "The file's name, kept with the job."),
        ),
        upload=("text/csv", "application/x-ndjson"),
    ),
    ExtOperation(
        "list_imports",
        "GET",
        "imports",
        scopes.IMPORT_WRITE,
        ext.list_imports,
        "Import jobs of the portal, newest first",
        {200: ext_wire.ImportJobList},
        (LIMIT,),
    ),
    ExtOperation(
        "get_import",
        "GET",
        "imports/{importId}",
        scopes.IMPORT_WRITE,
        ext.get_import,
        "One import job: status and counts",
        {200: ext_wire.ImportJobView},
        param_description="The import job's id.",
    ),
    ExtOperation(
        "cancel_import",
        "POST",
        "imports/{importId}/cancel",
        scopes.IMPORT_WRITE,
        ext.cancel_import,
        "Cancel an import job (chunks applied so far stay applied)",
        {200: ext_wire.ImportJobView},
        param_description="The import job's id.",
    ),
    ExtOperation(
        "get_import_report",
        "GET",
        "imports/{importId}/report",
        scopes.IMPORT_WRITE,
        ext.import_report,
        "Rows of an import job that were rejected or skipped, with line numbers and reasons",
        {200: ext_wire.ImportReport},
        (ExtParam("after", "int", "Continue after this line.", default=0, minimum=0), LIMIT),
        param_description="The import job's id.",
    ),
    # --- webhooks ------------------------------------------------------------------------------
    ExtOperation(
        "create_webhook",
        "POST",
        "webhooks",
        scopes.WEBHOOKS_WRITE,
        hooks.create_webhook,
        "Subscribe a URL to consent events",
        {201: ext_wire.WebhookView},
        body=ext_wire.WebhookCreate,
    ),
    ExtOperation(
        "list_webhooks",
        "GET",
        "webhooks",
        scopes.WEBHOOKS_WRITE,
        hooks.list_webhooks,
        "Webhook subscriptions of the portal",
        {200: ext_wire.WebhookList},
    ),
    ExtOperation(
        "get_webhook",
        "GET",
        "webhooks/{webhookId}",
        scopes.WEBHOOKS_WRITE,
        hooks.get_webhook,
        "One webhook subscription",
        {200: ext_wire.WebhookView},
        param_description="The webhook's id.",
    ),
    ExtOperation(
        "update_webhook",
        "PATCH",
        "webhooks/{webhookId}",
        scopes.WEBHOOKS_WRITE,
        hooks.update_webhook,
        "Change a webhook's URL, filter or state; rotate its secret",
        {200: ext_wire.WebhookView},
        body=ext_wire.WebhookUpdate,
        param_description="The webhook's id.",
    ),
    ExtOperation(
        "delete_webhook",
        "DELETE",
        "webhooks/{webhookId}",
        scopes.WEBHOOKS_WRITE,
        hooks.delete_webhook,
        "Delete a webhook and its deliveries",
        {200: ext_wire.Done},
        param_description="The webhook's id.",
    ),
    ExtOperation(
        "list_webhook_deliveries",
        "GET",
        "webhooks/{webhookId}/deliveries",
        scopes.WEBHOOKS_WRITE,
        hooks.list_deliveries,
        "Delivery state of a webhook's events",
        {200: ext_wire.DeliveryList},
        (
            ExtParam(
                "state",
                "choice",
                "Only deliveries in this state.",
                choices=("PENDING", "DELIVERED", "FAILED", "SKIPPED"),
            ),
            ExtParam("after", "int", "Continue after this delivery id.", default=0, minimum=0),
            LIMIT,
        ),
        param_description="The webhook's id.",
    ),
    ExtOperation(
        "replay_webhook",
        "POST",
        "webhooks/{webhookId}/replay",
        scopes.WEBHOOKS_WRITE,
        hooks.replay,
        "Deliver again: given deliveries, or every consent event after a cursor",
        {202: ext_wire.ReplayResult},
        body=ext_wire.Replay,
        param_description="The webhook's id.",
    ),
    # --- preference links ----------------------------------------------------------------
    ExtOperation(
        "list_unsubscribe",
        "POST",
        "list-unsubscribe",
        scopes.READ_WRITE,  # what links/generate needs: these headers carry such a link
        handlers_links.list_unsubscribe,
        "The List-Unsubscribe and List-Unsubscribe-Post headers (RFC 8058) for one address",
        {200: handlers_links.ListUnsubscribeResponse},
        body=handlers_links.ListUnsubscribeRequest,
    ),
)
