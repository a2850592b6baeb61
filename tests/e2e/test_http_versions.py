"""One store behind every version, and 200 vs 207 per version
(docs/wire-contract.md §1.1, §1.3, §5.12)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.http_helpers import (
    SOURCE,
    V3_STYLE,
    V4_FAMILY,
    row,
    url,
)
from tests.support.server import Portal, Server

EMAIL = {"channel": "EMAIL"}


@pytest.fixture
def client(server: Server, portal: Portal) -> Iterator[httpx.Client]:
    with server.client(portal.token) as c:
        yield c


# --- one store behind every version ------------------------------------------------------


def read_everywhere(client: httpx.Client, email: str) -> tuple[Any, Any, Any]:
    """B and F through the v4 family, K through the v3 style, O on v3: each identical."""
    b = [client.get(url(v, f"statuses/{email}"), params=EMAIL).json()["results"] for v in V4_FAMILY]
    f = [
        client.post(url(v, "statuses/batch/read"), params=EMAIL, json={"inputs": [email]}).json()[
            "results"
        ][0]["statuses"]
        for v in V4_FAMILY
    ]
    d = [
        client.get(url(v, f"statuses/{email}/unsubscribe-all"), params=EMAIL).json()["results"]
        for v in V4_FAMILY
    ]
    k = [
        client.get(url(v, f"status/email/{email}")).json()["subscriptionStatuses"] for v in V3_STYLE
    ]
    o = client.post(url("v3", "status/email/bulk"), json=[email]).json()
    assert all(x == b[0] for x in b + f), "B/F differ between versions"
    assert all(x == d[0] for x in d), "D differs between versions"
    assert all(x == k[0] for x in k), "K differs between versions"
    assert o == {"recipientToSubscriptionStatuses": {email: k[0]}}
    return b[0], d[0], k[0]


@pytest.mark.parametrize("writer", ["v3", *V4_FAMILY])
def test_a_write_through_any_version_reads_the_same_everywhere(
    client: httpx.Client, portal: Portal, writer: str
) -> None:
    email = f"cross-{writer}@example.com"
    d101, d102, _ = portal.definitions
    if writer == "v3":
        r = client.post(
            url(writer, "unsubscribe"), json={"emailAddress": email, "subscriptionId": str(d102)}
        )
        assert r.status_code == 200
        r = client.post(
            url(writer, "subscribe"), json={"emailAddress": email, "subscriptionId": d101}
        )
        assert r.status_code == 200
    else:
        r = client.post(
            url(writer, "statuses/batch/write"),
            json={
                "inputs": [
                    {
                        "subscriberIdString": email,
                        "channel": "EMAIL",
                        "statusState": "UNSUBSCRIBED",
                        "subscriptionId": d102,
                    },
                    {
                        "subscriberIdString": email,
                        "channel": "EMAIL",
                        "statusState": "SUBSCRIBED",
                        "subscriptionId": d101,
                    },
                ]
            },
        )
        assert r.status_code == 200
    b, d, k = read_everywhere(client, email)
    assert [(x["status"], x["source"]) for x in b] == [
        ("SUBSCRIBED", SOURCE),
        ("UNSUBSCRIBED", SOURCE),
        ("NOT_SPECIFIED", "Not specified"),
    ]
    assert d == []
    assert [(x["status"], x["sourceOfStatus"]) for x in k] == [
        ("SUBSCRIBED", "SUBSCRIPTION_STATUS"),
        ("NOT_SUBSCRIBED", "SUBSCRIPTION_STATUS"),
        ("SUBSCRIBED", "SUBSCRIPTION_STATUS"),
    ]

    # An opt-out through another version shows up everywhere too.
    other = "2026-09" if writer != "2026-09" else "v4"
    r = client.post(
        url(other, "statuses/batch/unsubscribe-all"), params=EMAIL, json={"inputs": [email]}
    )
    assert r.json()["results"] == [{"subscriberIdString": email}]
    b, d, k = read_everywhere(client, email)
    assert {x["status"] for x in b} == {"UNSUBSCRIBED"}
    assert [w["wideStatusType"] for w in d] == ["PORTAL_WIDE"]
    assert {x["sourceOfStatus"] for x in k} == {"PORTAL_WIDE_STATUS"}


# --- 200 vs 207 (§5.12) ------------------------------------------------------------------


@pytest.mark.parametrize("version", V4_FAMILY)
@pytest.mark.parametrize("op", ["statuses/batch/read", "statuses/batch/unsubscribe-all/read"])
def test_reads_answer_207_only_where_declared(client: httpx.Client, version: str, op: str) -> None:
    multi = version in ("v4", "2026-03")
    for inputs, failed in [
        (["a@example.com", "bad"], 1),
        (["bad", "worse"], 2),
        (["a@example.com"], 0),
        ([], 0),
    ]:
        r = client.post(url(version, op), params=EMAIL, json={"inputs": inputs})
        assert r.status_code == (207 if multi and failed else 200), (inputs, r.text)
        body = r.json()
        assert body.get("numErrors") == (failed or None)
        assert len(body.get("errors", [])) == failed
        assert len(body["results"]) == len(inputs) - failed


@pytest.mark.parametrize("version", V4_FAMILY)
def test_writes_answer_200_with_errors(client: httpx.Client, portal: Portal, version: str) -> None:
    r = client.post(
        url(version, "statuses/batch/unsubscribe-all"),
        params=EMAIL,
        json={"inputs": ["h@example.com", "bad", "H@EXAMPLE.COM"]},
    )
    assert r.status_code == 200
    assert r.json()["results"] == [{"subscriberIdString": "h@example.com"}]
    assert r.json()["numErrors"] == 1
    r = client.post(
        url(version, "statuses/batch/write"),
        json={
            "inputs": [
                {
                    "subscriberIdString": "bad",
                    "channel": "EMAIL",
                    "statusState": "SUBSCRIBED",
                    "subscriptionId": portal.definitions[0],
                },
                {
                    "subscriberIdString": "g@example.com",
                    "channel": "EMAIL",
                    "statusState": "SUBSCRIBED",
                    "subscriptionId": portal.definitions[0],
                },
                {
                    "subscriberIdString": "g@example.com",
                    "channel": "EMAIL",
                    "statusState": "SUBSCRIBED",
                    "subscriptionId": portal.definitions[0],
                },
            ]
        },
    )
    assert r.status_code == 200
    assert [x["setStatusSuccessReason"] for x in r.json()["results"]] == [
        "REQUESTED_CHANGE_OCCURRED",
        "NO_STATUS_CHANGE",
    ]
    assert r.json()["numErrors"] == 1


def test_verbose_batch_opt_out(client: httpx.Client, portal: Portal) -> None:
    r = client.post(
        url("v4", "statuses/batch/unsubscribe-all"),
        params={"channel": "EMAIL", "verbose": "true"},
        json={"inputs": ["v1@example.com", "V1@example.com", "v2@example.com"]},
    )
    results = r.json()["results"]
    assert [x["subscriberIdString"] for x in results] == ["v1@example.com", "v2@example.com"]
    now = r.json()["startedAt"]
    for x in results:
        email = x["subscriberIdString"]
        assert x["statuses"] == [
            row(email, d, i, "UNSUBSCRIBED", reason="UNSUBSCRIBE_FROM_ALL_OCCURRED", timestamp=now)
            for i, d in enumerate(portal.definitions)
        ]
