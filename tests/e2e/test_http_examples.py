"""The worked examples of docs/wire-contract.md §10 over real HTTP, whole bodies compared (times
checked by their relations rather than values)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.http_helpers import (
    assert_error,
    default_rows,
    row,
    scrub,
    url,
    v3_row,
)
from tests.support.server import Portal, Server

EMAIL = {"channel": "EMAIL"}


@pytest.fixture
def client(server: Server, portal: Portal) -> Iterator[httpx.Client]:
    with server.client(portal.token) as c:
        yield c


def set_status(client: httpx.Client, email: str, definition: int, state: str) -> dict[str, Any]:
    r = client.post(
        url("v4", f"statuses/{email}"),
        json={"channel": "EMAIL", "statusState": state, "subscriptionId": definition},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_worked_examples_10_1_to_10_6(client: httpx.Client, portal: Portal) -> None:
    ids = portal.definitions
    d101, d102, d103 = ids

    # 10.1 — an unknown address reads defaults stamped with the request time; nothing created.
    r = client.get(url("2026-03", "statuses/Jane@Example.com"), params=EMAIL)
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["status", "results", "startedAt", "completedAt"]
    assert scrub(body) == {
        "status": "COMPLETE",
        "results": default_rows("jane@example.com", ids),
        "startedAt": "<t>",
        "completedAt": "<t>",
    }
    assert {x["timestamp"] for x in body["results"]} == {body["startedAt"]}
    assert body["startedAt"] <= body["completedAt"]

    # 10.2 — opt-out of all, then D, B and K.
    r = client.post(url("2026-03", "statuses/jane@example.com/unsubscribe-all"), params=EMAIL)
    assert scrub(r.json()) == {
        "status": "COMPLETE",
        "results": [],
        "startedAt": "<t>",
        "completedAt": "<t>",
    }
    opted_out_at = r.json()["startedAt"]
    r = client.get(url("2026-03", "statuses/jane@example.com/unsubscribe-all"), params=EMAIL)
    assert r.json()["results"] == [
        {
            "subscriberIdString": "jane@example.com",
            "wideStatusType": "PORTAL_WIDE",
            "status": "UNSUBSCRIBED",
            "channel": "EMAIL",
            "timestamp": opted_out_at,
        }
    ]
    r = client.get(url("2026-03", "statuses/jane@example.com"), params=EMAIL)
    assert r.json()["results"] == [
        row("jane@example.com", d, i, "UNSUBSCRIBED", timestamp=opted_out_at)
        for i, d in enumerate(ids)
    ]
    r = client.get(url("v3", "status/email/jane%40example.com"))
    assert r.json() == {
        "recipient": "jane@example.com",
        "subscriptionStatuses": [
            v3_row(d, i, "NOT_SUBSCRIBED", "PORTAL_WIDE_STATUS") for i, d in enumerate(ids)
        ],
    }

    # 10.4 — resubscribe through the v4 write.
    r = client.post(
        url("2026-03", "statuses/jane%40example.com"),
        json={"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": d101},
    )
    body = r.json()
    resubscribed_at = body["startedAt"]
    assert body == {
        "status": "COMPLETE",
        "results": [
            row(
                "jane@example.com",
                d101,
                0,
                "SUBSCRIBED",
                reason="RESUBSCRIBE_OCCURRED",
                timestamp=resubscribed_at,
            )
        ],
        "startedAt": resubscribed_at,
        "completedAt": body["completedAt"],
    }
    r = client.get(url("2026-03", "statuses/jane@example.com/unsubscribe-all"), params=EMAIL)
    assert [(w["status"], w["timestamp"]) for w in r.json()["results"]] == [
        ("SUBSCRIBED", resubscribed_at)
    ]
    r = client.get(url("2026-03", "statuses/jane@example.com"), params=EMAIL)
    assert [(x["status"], x["timestamp"]) for x in r.json()["results"]] == [
        ("SUBSCRIBED", resubscribed_at),
        ("UNSUBSCRIBED", opted_out_at),
        ("UNSUBSCRIBED", opted_out_at),
    ]
    r = client.get(url("v3", "status/email/jane%40example.com"))
    assert r.json()["subscriptionStatuses"] == [
        v3_row(d101, 0, "SUBSCRIBED", "SUBSCRIPTION_STATUS"),
        v3_row(d102, 1, "NOT_SUBSCRIBED", "SUBSCRIPTION_STATUS"),
        v3_row(d103, 2, "NOT_SUBSCRIBED", "SUBSCRIPTION_STATUS"),
    ]
    r = client.post(
        url("2026-03", "statuses/jane%40example.com"),
        json={"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": d101},
    )
    assert r.json()["results"] == [
        row(
            "jane@example.com",
            d101,
            0,
            "SUBSCRIBED",
            reason="NO_STATUS_CHANGE",
            timestamp=resubscribed_at,
        )
    ]

    # 10.5 — v3 subscribe refused for the unsubscribed type 102.
    r = client.post(
        url("v3", "subscribe"),
        json={"emailAddress": "jane@example.com", "subscriptionId": str(d102)},
    )
    body = assert_error(
        r,
        400,
        f"subscription {d102} for jane@example.com cannot be updated "
        "because they have unsubscribed",
        request_id=True,
    )
    assert list(body) == ["status", "message", "correlationId", "category", "requestId"]

    # 10.6 — batch read with a duplicate and a bad input: 207 on v4, 200 on 2026-09.
    inputs = {"inputs": ["jane@example.com", "JANE@example.com", "not-an-email"]}
    expected = {
        "status": "COMPLETE",
        "results": [
            {
                "subscriberIdString": "jane@example.com",
                "statuses": [
                    row("jane@example.com", d101, 0, "SUBSCRIBED", timestamp=resubscribed_at),
                    row("jane@example.com", d102, 1, "UNSUBSCRIBED", timestamp=opted_out_at),
                    row("jane@example.com", d103, 2, "UNSUBSCRIBED", timestamp=opted_out_at),
                ],
            }
        ],
        "errors": [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "Invalid email address",
                "context": {"subscriberIdString": ["not-an-email"]},
                "errors": [],
                "links": {},
            }
        ],
        "numErrors": 1,
    }
    for version, code in [("v4", 207), ("2026-09", 200)]:
        r = client.post(url(version, "statuses/batch/read"), params=EMAIL, json=inputs)
        assert r.status_code == code
        body = r.json()
        assert list(body) == [
            "status",
            "results",
            "errors",
            "numErrors",
            "startedAt",
            "completedAt",
        ]
        assert {k: v for k, v in body.items() if not k.endswith("edAt")} == expected
        r = client.post(
            url(version, "statuses/batch/read"),
            params=EMAIL,
            json={"inputs": inputs["inputs"][:2]},
        )
        assert r.status_code == 200
        assert "errors" not in r.json() and "numErrors" not in r.json()
        assert r.json()["results"] == expected["results"]


def test_worked_example_10_3_verbose_opt_out(client: httpx.Client, portal: Portal) -> None:
    d101, d102, d103 = portal.definitions
    set_status(client, "li@example.com", d101, "SUBSCRIBED")
    before = set_status(client, "li@example.com", d102, "UNSUBSCRIBED")["startedAt"]
    r = client.post(
        url("2026-03", "statuses/li@example.com/unsubscribe-all"),
        params={"channel": "EMAIL", "verbose": "true"},
    )
    body = r.json()
    now = body["startedAt"]
    assert body["results"] == [
        row(
            "li@example.com",
            d101,
            0,
            "UNSUBSCRIBED",
            reason="UNSUBSCRIBE_FROM_ALL_OCCURRED",
            timestamp=now,
        ),
        row("li@example.com", d102, 1, "UNSUBSCRIBED", reason="NO_STATUS_CHANGE", timestamp=before),
        row(
            "li@example.com",
            d103,
            2,
            "UNSUBSCRIBED",
            reason="UNSUBSCRIBE_FROM_ALL_OCCURRED",
            timestamp=now,
        ),
    ]


def test_v3_resubscribe_alternative_of_10_5(client: httpx.Client, portal: Portal) -> None:
    d102 = portal.definitions[1]
    client.post(url("v4", "statuses/jane@example.com/unsubscribe-all"), params=EMAIL)
    r = client.post(
        url("v3", "resubscribe"),
        json={"emailAddress": "jane@example.com", "subscriptionId": str(d102)},
    )
    assert r.status_code == 200
    assert r.json() == v3_row(d102, 1, "SUBSCRIBED", "SUBSCRIPTION_STATUS")


def test_worked_example_10_10_gdpr(server: Server) -> None:
    portal = server.new_portal(gdpr=True)
    d101 = portal.definitions[0]
    path = url("v4", "statuses/jane@example.com")
    with server.client(portal.token) as c:
        r = c.post(
            path, json={"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": d101}
        )
        assert_error(
            r,
            400,
            "legalBasis and legalBasisExplanation are required to subscribe in this portal",
            errors=[
                {"message": "legalBasis is required", "in": "legalBasis"},
                {"message": "legalBasisExplanation is required", "in": "legalBasisExplanation"},
            ],
        )
        r = c.post(
            path,
            json={
                "channel": "EMAIL",
                "statusState": "SUBSCRIBED",
                "subscriptionId": d101,
                "legalBasis": "CONSENT_WITH_NOTICE",
                "legalBasisExplanation": "Signed up at the booth",
            },
        )
        assert r.status_code == 200
        assert r.json()["results"][0]["legalBasis"] == "CONSENT_WITH_NOTICE"
        assert r.json()["results"][0]["legalBasisExplanation"] == "Signed up at the booth"
        r = c.post(
            path, json={"channel": "EMAIL", "statusState": "UNSUBSCRIBED", "subscriptionId": d101}
        )
        assert r.status_code == 200
        assert r.json()["results"][0]["setStatusSuccessReason"] == "REQUESTED_CHANGE_OCCURRED"
