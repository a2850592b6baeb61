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
2. Add one `operation(...)` (from `declare.py`) to the table of its concept: the
   `OPERATIONS` of `consent_operations.py` (history, the change feed, erasure),
   `bulk_operations.py` (export, imports), `webhook_operations.py`,
   `admin_operations.py` (types, business units, tokens, the portal, console users) or
   `link_operations.py` (list-unsubscribe, link keys); a new table joins `OPERATIONS`
   below. Give the method, the path under `/commpref/v1/` (at most one `{parameter}`
   segment), the scope it needs (add new scope names to `domain/scopes.py`;
   `commpref.admin` always grants), handler, summary, response schemas (Structs from
   `wire.py`, `admin_wire.py` or your own; a string means a streamed media type), query
   parameters (`param`) and the body schema if any.

That is all: the route, the 401/403/404/405 answers and the OpenAPI entry follow.
"""

from __future__ import annotations

from commpref.http.api import (
    admin_operations,
    bulk_operations,
    consent_operations,
    feedback_operations,
    link_operations,
    signup_operations,
    webhook_operations,
)
from commpref.http.operation import Operation

# Keep this order: the OpenAPI document lists the operations in it, and the router keeps it
# for templates alike in specificity and for the methods a 405's `Allow` names.
OPERATIONS: tuple[Operation, ...] = (
    *consent_operations.OPERATIONS,
    *bulk_operations.OPERATIONS,
    *webhook_operations.OPERATIONS,
    *admin_operations.OPERATIONS,
    *link_operations.OPERATIONS,
    *signup_operations.OPERATIONS,
    *feedback_operations.OPERATIONS,
)
