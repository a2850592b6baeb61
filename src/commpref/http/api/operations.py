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
from commpref.http.api import admin, handlers, links, users, webhooks, wire
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
    conflict: bool = False,
) -> Operation:
    errors = {400, 401, 403, 404, 414, 429, 500, 503} | ({409} if conflict else set())
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
TYPE_ID = "The subscription type's id."

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
    # --- subscription types -------------------------------------------------------------
    operation(
        "list_types",
        "GET",
        "types",
        scopes.TYPES_READ,
        admin.list_types,
        "Every subscription type of the portal, archived ones and translations included",
        {200: wire.SubscriptionTypeList},
    ),
    operation(
        "get_type",
        "GET",
        "types/{typeId}",
        scopes.TYPES_READ,
        admin.get_type,
        "One subscription type, with its translations",
        {200: wire.SubscriptionType},
        param_description=TYPE_ID,
    ),
    operation(
        "create_type",
        "POST",
        "types",
        scopes.TYPES_WRITE,
        admin.create_type,
        "Create a subscription type (its name unique within its business unit)",
        {201: wire.SubscriptionType},
        body=wire.SubscriptionTypeCreate,
    ),
    operation(
        "update_type",
        "PATCH",
        "types/{typeId}",
        scopes.TYPES_WRITE,
        admin.update_type,
        "Change a type's name, description, purpose or communication method (not internal ones)",
        {200: wire.SubscriptionType},
        body=wire.SubscriptionTypeUpdate,
        param_description=TYPE_ID,
    ),
    operation(
        "archive_type",
        "POST",
        "types/{typeId}/archive",
        scopes.TYPES_WRITE,
        admin.archive_type,
        "Archive a type: left out of reads and pages, its stored statuses kept",
        {200: wire.SubscriptionType},
        param_description=TYPE_ID,
    ),
    operation(
        "restore_type",
        "POST",
        "types/{typeId}/restore",
        scopes.TYPES_WRITE,
        admin.restore_type,
        "Restore an archived type",
        {200: wire.SubscriptionType},
        param_description=TYPE_ID,
    ),
    operation(
        "set_type_translation",
        "PUT",
        "types/{typeId}/translations",
        scopes.TYPES_WRITE,
        admin.set_translation,
        "Add or replace a type's name and description in one language",
        {200: wire.SubscriptionType},
        body=wire.TranslationSet,
        param_description=TYPE_ID,
    ),
    operation(
        "delete_type_translation",
        "DELETE",
        "types/{typeId}/translations",
        scopes.TYPES_WRITE,
        admin.delete_translation,
        "Remove a type's translation in one language",
        {200: wire.SubscriptionType},
        (param("languageCode", "str", "The language tag of the translation.", required=True),),
        param_description=TYPE_ID,
    ),
    # --- business units -----------------------------------------------------------------
    operation(
        "list_business_units",
        "GET",
        "business-units",
        scopes.BUSINESS_UNITS_READ,
        admin.list_business_units,
        "The portal's business units (brands); 0 always exists",
        {200: wire.BusinessUnitList},
    ),
    operation(
        "create_business_unit",
        "POST",
        "business-units",
        scopes.BUSINESS_UNITS_WRITE,
        admin.create_business_unit,
        "Add a business unit (brand) with an id of your choosing",
        {201: wire.BusinessUnitView},
        body=wire.BusinessUnitCreate,
    ),
    operation(
        "update_business_unit",
        "PATCH",
        "business-units/{businessUnitId}",
        scopes.BUSINESS_UNITS_WRITE,
        admin.rename_business_unit,
        "Rename a business unit",
        {200: wire.BusinessUnitView},
        body=wire.BusinessUnitUpdate,
        param_description="The business unit's id.",
    ),
    # --- tokens -------------------------------------------------------------------------
    operation(
        "list_tokens",
        "GET",
        "tokens",
        scopes.TOKENS_READ,
        admin.list_tokens,
        "The portal's tokens, with when each was last used (never their secrets)",
        {200: wire.TokenList},
    ),
    operation(
        "create_token",
        "POST",
        "tokens",
        scopes.TOKENS_WRITE,
        admin.create_token,
        "Make a token (only with scopes the caller holds, unless it holds commpref.admin); "
        "the answer shows its secret, once",
        {201: wire.TokenView},
        body=wire.TokenCreate,
    ),
    operation(
        "revoke_token",
        "POST",
        "tokens/{tokenId}/revoke",
        scopes.TOKENS_WRITE,
        admin.revoke_token,
        "Revoke a token at once",
        {200: wire.TokenView},
        param_description="The token's id.",
    ),
    # --- the portal ---------------------------------------------------------------------
    operation(
        "get_portal",
        "GET",
        "portal",
        scopes.PORTAL_READ,
        admin.get_portal,
        "The portal's settings and its preference pages' branding",
        {200: wire.PortalView},
    ),
    operation(
        "update_portal",
        "PATCH",
        "portal",
        scopes.PORTAL_WRITE,
        admin.update_portal,
        "Change the portal's settings or branding (only the fields given)",
        {200: wire.PortalView},
        body=wire.PortalUpdate,
    ),
    # --- console users -------------------------------------------------------------------
    operation(
        "list_users",
        "GET",
        "users",
        scopes.USERS_READ,
        users.list_users,
        "The console users who see this portal (never their passwords)",
        {200: users.UserList},
    ),
    operation(
        "create_user",
        "POST",
        "users",
        scopes.USERS_WRITE,
        users.create_user,
        "Add a console user who sees this portal only",
        {201: users.User},
        body=users.UserCreate,
        conflict=True,
    ),
    operation(
        "update_user",
        "PATCH",
        "users/{userId}",
        scopes.USERS_WRITE,
        users.update_user,
        "Change a console user's role, password or state (only users who see this portal "
        "alone; 403 for others)",
        {200: users.User},
        body=users.UserUpdate,
        param_description="The console user's id.",
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
