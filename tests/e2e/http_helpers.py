"""Shared helpers of the raw-HTTP tests (tests/e2e/test_http_*.py)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

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
    **rest: Any,
) -> dict[str, Any]:
    """The whole error body: the constant keys, the header's correlation id, and `rest`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    cid = response.headers["x-hubspot-correlation-id"]
    assert response.headers["x-request-id"] == cid
    body = response.json()
    expected = {"status": "error", "message": message, "correlationId": cid, "category": category}
    expected.update(rest)
    if rest.get("requestId") is True:
        expected["requestId"] = cid
    assert body == expected
    return dict(body)


def is_uuid4(value: str) -> bool:
    try:
        return uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value
    except ValueError:
        return False
