"""Both rate-limit windows through the real dispatcher and store (docs/wire-contract.md §7),
on every backend.

The limiter takes its clock and tier table by injection, so the test crosses the rolling
10-second window and UTC midnight exactly, with a tier of 5 per window and 8 per day instead
of waiting or sending 250,000 requests. Wire details (HubSpot's numbers, header names, the
body) are also checked against a real server in tests/e2e/test_http_ratelimits.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from commpref.app import Front
from commpref.domain.scopes import ALL_SCOPES
from commpref.http.ratelimit import RateLimiter
from commpref.http.runtime import Runtime
from commpref.services import admin
from commpref.services.ratelimits import Tier
from commpref.settings import Settings
from commpref.storage.store import Store

DAY = 86_400_000
MIDNIGHT = 1_780_012_800_000  # a 00:00 UTC
assert MIDNIGHT % DAY == 0
A = "/communication-preferences/v4/definitions"


@dataclass
class Clock:
    now: int

    def __call__(self) -> int:
        return self.now


@dataclass
class Setup:
    http: httpx.AsyncClient
    clock: Clock
    token: str
    other: str
    store: Store
    portal_id: int


@pytest.fixture
async def setup(store: Store) -> AsyncIterator[Setup]:
    portal = await admin.create_portal(store=store, name="Limited")
    await admin.update_portal(store=store, portal_id=portal.id, rate_limit_tier="starter")
    _, token = await admin.create_token(store=store, portal_id=portal.id, scopes=ALL_SCOPES)
    _, other = await admin.create_token(store=store, portal_id=portal.id, scopes=ALL_SCOPES)
    clock = Clock(MIDNIGHT - 60_000)  # 23:59:00 UTC
    limiter = RateLimiter(store, clock=clock, tiers={"starter": Tier(max=5, daily=8)})
    runtime = Runtime(
        settings=Settings(),
        base_url="http://testserver",
        store_=store,
        link_keys=(b"k" * 32,),
        rate_limiter=limiter,
    )
    transport = httpx.ASGITransport(app=Front(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Setup(http, clock, token, other, store, portal.id)


async def get(s: Setup, token: str | None = None) -> httpx.Response:
    return await s.http.get(A, headers={"Authorization": f"Bearer {token or s.token}"})


def figures(r: httpx.Response) -> tuple[str, str, str]:
    h = r.headers
    return (
        h["x-hubspot-ratelimit-remaining"],
        h["x-hubspot-ratelimit-daily-remaining"],
        h["x-hubspot-ratelimit-secondly-remaining"],
    )


def assert_429(r: httpx.Response, policy: str, message: str, retry_after: int) -> None:
    assert r.status_code == 429, r.text
    cid = r.headers["x-hubspot-correlation-id"]
    assert r.json() == {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": cid,
        "policyName": policy,
        "requestId": cid,
        "category": "RATE_LIMITS",
    }
    assert r.headers["retry-after"] == str(retry_after)


async def test_ten_second_window_refuses_the_sixth_and_rolls(setup: Setup) -> None:
    s = setup
    start = s.clock.now
    seen = []
    for i in range(5):
        s.clock.now = start + i * 1000  # one request a second
        r = await get(s)
        assert r.status_code == 200, r.text
        seen.append(figures(r))
    assert seen == [(str(4 - i), str(7 - i), "0") for i in range(5)]  # secondly = 5 // 10 = 0

    s.clock.now = start + 5_500
    refused = await get(s)
    # the oldest request (at `start`) leaves the window at start + 10 s: 4.5 s → 5
    assert_429(
        refused, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.", 5
    )
    assert figures(refused) == ("0", "3", "0")  # the refused request was not counted

    s.clock.now = start + 9_999
    assert (await get(s)).status_code == 429
    s.clock.now = start + 10_000
    r = await get(s)
    assert r.status_code == 200
    assert figures(r)[:2] == ("0", "2")
    # another token of the same portal has its own window
    assert (await get(s, s.other)).status_code == 200


async def test_daily_window_refuses_until_utc_midnight(setup: Setup) -> None:
    s = setup
    start = s.clock.now  # 23:59:00
    for i in range(8):
        s.clock.now = start + i * 3_000  # below 5 per 10 s: only the day fills up
        r = await get(s)
        assert r.status_code == 200, r.text
    assert figures(r)[1] == "0"

    s.clock.now = start + 30_000  # 23:59:30: 30 s to midnight
    refused = await get(s)
    assert_429(refused, "DAILY", "You have reached your daily limit.", 30)
    assert refused.headers["x-hubspot-ratelimit-daily-remaining"] == "0"
    s.clock.now = MIDNIGHT - 1
    assert_429(await get(s), "DAILY", "You have reached your daily limit.", 1)

    s.clock.now = MIDNIGHT
    r = await get(s)
    assert r.status_code == 200
    assert r.headers["x-hubspot-ratelimit-daily-remaining"] == "7"


async def test_errors_carry_the_headers_and_count(setup: Setup) -> None:
    s = setup
    _, reader = await admin.create_token(
        store=s.store, portal_id=s.portal_id, scopes=frozenset({"communication_preferences.read"})
    )
    auth = {"Authorization": f"Bearer {reader}"}
    forbidden = await s.http.post(
        "/communication-preferences/v4/statuses/batch/read?channel=EMAIL",
        json={"inputs": []},
        headers=auth,
    )
    assert forbidden.status_code == 403
    assert figures(forbidden)[:2] == ("4", "7")
    invalid = await s.http.get(A + "?businessUnitId=x", headers=auth)
    assert invalid.status_code == 400
    assert figures(invalid)[:2] == ("3", "6")
    unauthenticated = await s.http.get(A)
    assert unauthenticated.status_code == 401
    assert not any(k.startswith("x-hubspot-ratelimit") for k in unauthenticated.headers)
