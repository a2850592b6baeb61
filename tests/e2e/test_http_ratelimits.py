"""Rate limits on the wire (docs/wire-contract.md §7, §10.9): HubSpot's numbers and headers, the
429, per token, and one count shared by two server processes on one database."""

from __future__ import annotations

from pathlib import Path

import httpx

from commpref.domain.scopes import READ
from tests.e2e.http_helpers import url
from tests.support.server import Server

A = url("v4", "definitions")
NAMES = (
    "x-hubspot-ratelimit-daily",
    "x-hubspot-ratelimit-daily-remaining",
    "x-hubspot-ratelimit-interval-milliseconds",
    "x-hubspot-ratelimit-max",
    "x-hubspot-ratelimit-remaining",
    "x-hubspot-ratelimit-secondly",
    "x-hubspot-ratelimit-secondly-remaining",
)


def limits(r: httpx.Response) -> dict[str, int]:
    return {n.removeprefix("x-hubspot-ratelimit-"): int(r.headers[n]) for n in NAMES}


def test_no_headers_without_a_tier(server: Server) -> None:
    portal = server.new_portal()
    with server.client(portal.token) as http:
        r = http.get(A)
    assert r.status_code == 200
    assert not [k for k in r.headers if k.startswith("x-hubspot-ratelimit")]


def test_starter_headers_on_success_and_errors(server: Server) -> None:
    portal = server.new_portal(rate_limit_tier="starter")
    with server.client(portal.token) as http:
        first = limits(http.get(A))
        bad = http.get(url("v4", "statuses/x@example.com"))  # no channel → 400
    assert first == {
        "daily": 250_000,
        "daily-remaining": 249_999,
        "interval-milliseconds": 10_000,
        "max": 100,
        "remaining": 99,
        "secondly": 10,
        "secondly-remaining": first["secondly-remaining"],
    }
    assert 0 <= first["secondly-remaining"] <= 9
    assert bad.status_code == 400
    assert (limits(bad)["daily-remaining"], limits(bad)["remaining"]) == (249_998, 98)

    reader = server.token(portal.id, frozenset({READ}))
    with server.client(reader) as http:
        forbidden = http.post(url("v4", "statuses/batch/read"), params={"channel": "EMAIL"})
    assert forbidden.status_code == 403
    assert limits(forbidden)["daily-remaining"] == 249_999  # its own token, its own count
    with server.client("not-a-token") as http:
        unknown = http.get(A)
    assert unknown.status_code == 401
    assert "x-hubspot-ratelimit-max" not in unknown.headers


def test_the_101st_request_in_ten_seconds_is_refused(server: Server) -> None:
    portal = server.new_portal(rate_limit_tier="starter")
    other = server.token(portal.id, frozenset({READ}))
    answered = []
    with server.client(portal.token) as http:
        for _ in range(400):  # a window holds 100; a slow machine may need a few more
            r = http.get(A)
            answered.append(r)
            if r.status_code == 429:
                break
        again = http.get(A)
    ok = [r for r in answered if r.status_code == 200]
    refused = answered[-1]
    assert refused.status_code == 429, "no request was refused"
    assert len(ok) >= 100 and len(ok) == len(answered) - 1
    cid = refused.headers["x-hubspot-correlation-id"]
    assert refused.json() == {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": cid,
        "policyName": "TEN_SECONDLY_ROLLING",
        "requestId": cid,
        "category": "RATE_LIMITS",
    }
    got = limits(refused)
    assert (got["max"], got["remaining"], got["daily"]) == (100, 0, 250_000)
    assert got["daily-remaining"] == 250_000 - len(ok)  # the 429 itself was not counted
    assert 1 <= int(refused.headers["retry-after"]) <= 10
    assert refused.headers["x-request-id"] == cid
    if again.status_code == 429:
        assert limits(again)["daily-remaining"] == 250_000 - len(ok)
    with server.client(other) as http:
        assert http.get(A).status_code == 200  # another token is not limited


def test_two_processes_share_one_count(server: Server, tmp_path: Path) -> None:
    """A second server on the same database: every request, whichever process answers it,
    takes one from the same daily count."""
    portal = server.new_portal(rate_limit_tier="professional")
    second = Server(server.database_url, tmp_path / "second.log")
    second.start()
    try:
        remaining = []
        with server.client(portal.token) as one, second.client(portal.token) as two:
            for i in range(30):
                r = (one if i % 2 == 0 else two).get(A)
                assert r.status_code == 200, r.text
                remaining.append(limits(r)["daily-remaining"])
    finally:
        second.stop()
    assert remaining == [625_000 - n for n in range(1, 31)]
