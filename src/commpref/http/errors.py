"""The one mapping from `commpref.errors` to HubSpot's error envelope
(docs/wire-contract.md §6.2–§6.5).

`status`, `message`, `correlationId` and `category` are always present; `subCategory`,
`context`, `errors` and `links` only when set; `requestId` on 429s and on the error bodies of
the v3-style operations K–O. Key order follows the examples of §10.
"""

from __future__ import annotations

import msgspec

from commpref.errors import CommprefError, MissingScopes, RateLimited

INTERNAL_MESSAGE = "internal error"
# Both JSON surfaces answer the correlation id as HubSpot does, under both names.
CORRELATION_HEADERS = (b"x-hubspot-correlation-id", b"x-request-id")
# OpenAPI's descriptions of the error answers the JSON surfaces share (each adds its own).
ERROR_TEXTS = {
    400: "Invalid request (VALIDATION_ERROR)",
    401: "Missing, unknown, revoked or expired credentials",
    408: "The request body was not received in time",
    413: "Request body too large",
    414: "Request URI too long",
    415: "Unsupported Content-Type",
    429: "Rate limit reached (RATE_LIMITS); see Retry-After",
    500: "Internal error",
    503: "Database unavailable, or the process is at its concurrency limit (Retry-After)",
}

_encode = msgspec.json.Encoder().encode


def error_body(exc: CommprefError, correlation_id: str, *, request_id: bool) -> dict[str, object]:
    body: dict[str, object] = {"status": "error", "message": exc.message}
    if isinstance(exc, RateLimited):
        # §10.9: HubSpot's literal 429 keys, in its order, plus the required `category`.
        body.update(exc.extra)
        body["correlationId"] = correlation_id
        body["policyName"] = body.pop("policyName", None)
        body["requestId"] = correlation_id
        body["category"] = exc.category
        return {k: v for k, v in body.items() if v is not None}
    body["correlationId"] = correlation_id
    if isinstance(exc, MissingScopes):
        # §10.7 order: errors and links before category and context.
        body.update(errors=exc.errors, links=exc.links, category=exc.category)
        body["context"] = exc.context
        return body
    body["category"] = exc.category
    if exc.sub_category:
        body["subCategory"] = exc.sub_category
    if exc.context:
        body["context"] = exc.context
    if exc.errors:
        body["errors"] = exc.errors
    if exc.links:
        body["links"] = exc.links
    body.update(exc.extra)
    if request_id:
        body["requestId"] = correlation_id
    return body


def render_error(
    exc: CommprefError, correlation_id: str, *, request_id: bool = False
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """HTTP status, JSON body and extra headers (`Allow`, `Retry-After`, …) of an error."""
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers.items()]
    body = error_body(exc, correlation_id, request_id=request_id)
    return exc.http_status, _encode(body), headers


def internal_error(correlation_id: str, *, request_id: bool = False) -> tuple[int, bytes]:
    exc = CommprefError(INTERNAL_MESSAGE)
    return 500, _encode(error_body(exc, correlation_id, request_id=request_id))


def json_error(
    exc: Exception, correlation_id: str, request_id: bool, scope: object
) -> tuple[int, str, bytes, list[tuple[bytes, bytes]]]:
    """An error as every JSON surface answers it: HubSpot's envelope (a generic 500 for
    anything that is not a `CommprefError`, which the pipeline has logged)."""
    if isinstance(exc, CommprefError):
        status, body, headers = render_error(exc, correlation_id, request_id=request_id)
        return status, "application/json", body, headers
    status, body = internal_error(correlation_id, request_id=request_id)
    return status, "application/json", body, []
