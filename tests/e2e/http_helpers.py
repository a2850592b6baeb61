"""Shared helpers of the raw-HTTP tests (tests/e2e/test_http_*.py)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support.server import Portal, Server

V4_FAMILY = ("v4", "2025-09", "2026-03", "2026-09")
V3_STYLE = ("v3", "2025-09", "2026-09")
VERSIONS = ("v3", "v4", "2025-09", "2026-03", "2026-09")
NAMES = ("Marketing Information", "Customer Service Communication", "One to One")
DESCRIPTIONS = (
    "Marketing offers and updates.",
    "Receive feedback requests and customer service information.",
    "One to One emails",
)
SOURCE = "Public status API"
B = "2026-03"  # the version the Stainless SDK calls; A–J behave alike on the v4 family
TIME_KEYS = frozenset({"startedAt", "completedAt", "timestamp", "createdAt", "updatedAt"})


def url(version: str, path: str) -> str:
    return f"/communication-preferences/{version}/{path}"


def post_json(client: httpx.Client, path: str, body: Any, **params: Any) -> httpx.Response:
    return client.post(path, json=body, params=params or None)


def scrub(value: Any) -> Any:
    """The body with times replaced by "<t>", so whole bodies can be compared."""
    if isinstance(value, dict):
        return {k: "<t>" if k in TIME_KEYS else scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def row(
    email: str,
    definition_id: int,
    index: int,
    status: str,
    *,
    source: str = SOURCE,
    reason: str | None = None,
    unit: int = 0,
    legal_basis: str | None = None,
    explanation: str | None = None,
    timestamp: str = "<t>",
) -> dict[str, Any]:
    """One `PublicStatus` as §10 shows it (key order included)."""
    return {
        "subscriberIdString": email,
        "subscriptionId": definition_id,
        "subscriptionName": NAMES[index],
        "channel": "EMAIL",
        "status": status,
        "source": source,
        "legalBasis": legal_basis,
        "legalBasisExplanation": explanation,
        "setStatusSuccessReason": reason,
        "businessUnitId": unit,
        "timestamp": timestamp,
    }


def default_rows(email: str, ids: list[int], **kwargs: Any) -> list[dict[str, Any]]:
    return [
        row(email, d, i, "NOT_SPECIFIED", source="Not specified", **kwargs)
        for i, d in enumerate(ids[:3])
    ]


def v3_row(
    definition_id: int, index: int, status: str, source_of_status: str, **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(definition_id),
        "name": NAMES[index],
        "description": DESCRIPTIONS[index],
        "status": status,
        "sourceOfStatus": source_of_status,
    }
    if "brandId" in extra:
        out["brandId"] = extra.pop("brandId")
    out["legalBasis"] = extra.pop("legalBasis", None)
    out["legalBasisExplanation"] = extra.pop("legalBasisExplanation", None)
    assert not extra
    return out


def assert_error(
    response: httpx.Response,
    status: int,
    message: str,
    category: str = "VALIDATION_ERROR",
    *,
    request_id: bool = False,
    **rest: Any,
) -> dict[str, Any]:
    """The whole error body: the constant keys, the header's correlation id, `requestId`
    (= that id) when asked, and `rest`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    cid = response.headers["x-hubspot-correlation-id"]
    assert response.headers["x-request-id"] == cid
    body = response.json()
    expected = {"status": "error", "message": message, "correlationId": cid, "category": category}
    expected.update(rest)
    if request_id:
        expected["requestId"] = cid
    assert body == expected
    return dict(body)


def is_uuid4(value: str) -> bool:
    try:
        return uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def events(server: Server, portal: Portal) -> list[Any]:
    return list(server.admin(lambda store: store.events(portal.id)))


def status_of(client: httpx.Client, email: str) -> list[str]:
    r = client.get(url(B, f"statuses/{email}"), params={"channel": "EMAIL"})
    assert r.status_code == 200, r.text
    return [row["status"] for row in r.json()["results"]]


def c_body(portal: Portal, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "EMAIL",
        "statusState": "SUBSCRIBED",
        "subscriptionId": portal.definitions[0],
    }
    body.update(overrides)
    return body


def g_input(portal: Portal, email: str, **overrides: Any) -> dict[str, Any]:
    return {"subscriberIdString": email, **c_body(portal, **overrides)}


# Ops with a JSON body: (path under the version, query, the version to call it on).
BODY_OPS = {
    "C": ("statuses/x@example.com", {}, B),
    "F": ("statuses/batch/read", {"channel": "EMAIL"}, B),
    "G": ("statuses/batch/write", {}, B),
    "H": ("statuses/batch/unsubscribe-all", {"channel": "EMAIL"}, B),
    "I": ("statuses/batch/unsubscribe-all/read", {"channel": "EMAIL"}, B),
    "J": ("links/generate", {"channel": "EMAIL"}, B),
    "L": ("subscribe", {}, "v3"),
    "M": ("unsubscribe", {}, "v3"),
    "N": ("resubscribe", {}, "2026-09"),
    "O": ("status/email/bulk", {}, "v3"),
}
