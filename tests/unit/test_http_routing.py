"""Pure pieces of the HTTP layer: the raw-path router, the time format, link tokens and
the error envelope."""

from __future__ import annotations

import pytest

from commpref.errors import (
    MethodNotAllowed,
    MissingScopes,
    NotFound,
    RateLimited,
    ValidationError,
)
from commpref.http.errors import error_body
from commpref.http.routing import Router
from commpref.http.values import iso
from commpref.services.links import LinkClaims, sign, verify

# --- routing -----------------------------------------------------------------------------

ROUTER: Router[str] = Router(
    [
        ("GET", "statuses/{id}", ("v4", "v5"), "B"),
        ("POST", "statuses/{id}", ("v4", "v5"), "C"),
        ("POST", "statuses/batch/read", ("v4", "v5"), "F"),
        ("GET", "status/email/{email}", ("v3", "v4"), "K"),
        ("POST", "status/email/bulk", ("v3",), "O"),
    ]
)


def test_router_resolves_raw_paths() -> None:
    p = "/communication-preferences"
    assert ROUTER.resolve("GET", f"{p}/v4/statuses/a%2Fb%40x.com") == ("B", "v4", "a/b@x.com")
    assert ROUTER.resolve("POST", f"{p}/v5/statuses/a+b@x.com") == ("C", "v5", "a+b@x.com")
    assert ROUTER.resolve("POST", f"{p}/v4/statuses/batch/read") == ("F", "v4", None)
    assert ROUTER.resolve("GET", f"{p}/v4/status/email/bulk2") == ("K", "v4", "bulk2")


@pytest.mark.parametrize(
    "path",
    [
        "/communication-preferences/v3/statuses/a@x.com",  # not in that version
        "/communication-preferences/v6/statuses/a@x.com",
        "/communication-preferences/v4/statuses/",
        "/communication-preferences/v4/statuses/a/b",
        "/communication-preferences/v4/status/email/bulk",  # O's path, O not in v4
        "/other/v4/statuses/a",
        "/",
    ],
)
def test_router_not_found(path: str) -> None:
    with pytest.raises(NotFound) as caught:
        ROUTER.resolve("GET", path)
    assert caught.value.message == f"No route found for GET {path}"


def test_router_method_not_allowed() -> None:
    with pytest.raises(MethodNotAllowed) as caught:
        ROUTER.resolve("DELETE", "/communication-preferences/v4/statuses/a@x.com")
    assert caught.value.headers == {"Allow": "GET, POST"}
    with pytest.raises(MethodNotAllowed) as caught:
        ROUTER.resolve("GET", "/communication-preferences/v4/statuses/batch/read")
    assert caught.value.headers == {"Allow": "POST"}


def test_router_rejects_duplicates() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Router([("GET", "a/{x}", ("v4",), 1), ("GET", "a/{y}", ("v4",), 2)])


# --- times, link tokens, error bodies ----------------------------------------------------


def test_iso() -> None:
    assert iso(1724702359758) == "2024-08-26T19:59:19.758Z"
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(1777629600120) == "2026-05-01T10:00:00.120Z"


def test_link_tokens_round_trip_and_rotate() -> None:
    claims = LinkClaims(7, "jörg@bücher.de", 41857, "de", 1_777_629_600)
    token = sign(claims, b"old")
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert verify(token, (b"new", b"old")) == claims
    assert verify(token, (b"new",)) is None
    tampered = sign(LinkClaims(8, "jörg@bücher.de", 41857, "de", 1_777_629_600), b"old")
    assert verify(tampered[:10] + token[10:], (b"old",)) is None
    for junk in ["", "a", "!!!", token[:-1]]:
        assert verify(junk, (b"old",)) is None


def test_error_body_key_orders() -> None:
    cid = "c1d"
    body = error_body(MissingScopes(["a", "b"]), cid, request_id=False)
    assert list(body) == [
        "status",
        "message",
        "correlationId",
        "errors",
        "links",
        "category",
        "context",
    ]
    limited = RateLimited(
        "You have reached your ten_secondly_rolling limit.",
        extra={"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"},
    )
    assert list(error_body(limited, cid, request_id=False).items()) == [
        ("status", "error"),
        ("message", "You have reached your ten_secondly_rolling limit."),
        ("errorType", "RATE_LIMIT"),
        ("correlationId", cid),
        ("policyName", "TEN_SECONDLY_ROLLING"),
        ("requestId", cid),
        ("category", "RATE_LIMITS"),
    ]
    plain = ValidationError("bad", errors=[{"message": "bad", "in": "x"}])
    assert error_body(plain, cid, request_id=True) == {
        "status": "error",
        "message": "bad",
        "correlationId": cid,
        "category": "VALIDATION_ERROR",
        "errors": [{"message": "bad", "in": "x"}],
        "requestId": cid,
    }
