"""Bad inputs over real HTTP (docs/wire-contract.md §6.4, §6.6): `channel` and the
other query parameters, invalid and over-long emails (per input in batches, the rest
applied), unknown subscription and business-unit ids, and the batch cap."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.http_helpers import (
    BODY_OPS,
    V4_FAMILY,
    B,
    assert_error,
    c_body,
    events,
    g_input,
    post_json,
    status_of,
    url,
)
from tests.support.server import Portal, Server


@pytest.fixture
def client(server: Server, portal: Portal) -> Iterator[httpx.Client]:
    with server.client(portal.token) as c:
        yield c


# --- channel and other query parameters --------------------------------------------------


@pytest.mark.parametrize("version", V4_FAMILY)
def test_channel_is_required_and_must_be_email(client: httpx.Client, version: str) -> None:
    path = url(version, "statuses/x@example.com")
    message = "Missing required query parameter: channel"
    assert_error(client.get(path), 400, message, errors=[{"message": message, "in": "channel"}])
    for value in ["SMS", "email", ""]:
        message = f"Invalid value for channel: {value}. Allowed values: EMAIL"
        r = client.get(path, params={"channel": value})
        assert_error(r, 400, message, errors=[{"message": message, "in": "channel"}])


def test_channel_in_bodies_must_be_email(client: httpx.Client, portal: Portal) -> None:
    message = "Invalid value for channel: WHATSAPP. Allowed values: EMAIL"
    r = client.post(url(B, "statuses/x@example.com"), json=c_body(portal, channel="WHATSAPP"))
    assert_error(r, 400, message, errors=[{"message": message, "in": "channel"}])
    r = client.post(
        url(B, "statuses/batch/write"),
        json={
            "inputs": [
                g_input(portal, "a@example.com"),
                g_input(portal, "b@example.com", channel="WHATSAPP"),
            ]
        },
    )
    assert_error(r, 400, message, errors=[{"message": message, "in": "inputs[1].channel"}])
    assert status_of(client, "a@example.com") == ["NOT_SPECIFIED"] * 3


def test_query_parameter_types(client: httpx.Client) -> None:
    cases = [
        (
            "statuses/x@example.com",
            {"channel": "EMAIL", "businessUnitId": "abc"},
            "businessUnitId",
            "Expected an integer",
        ),
        (
            "statuses/x@example.com",
            {"channel": "EMAIL", "businessUnitId": "1.5"},
            "businessUnitId",
            "Expected an integer",
        ),
        (
            "statuses/x@example.com/unsubscribe-all",
            {"channel": "EMAIL", "verbose": "yes"},
            "verbose",
            "Expected true or false",
        ),
        (
            "definitions",
            {"includeTranslations": "1"},
            "includeTranslations",
            "Expected true or false",
        ),
    ]
    for path, params, name, expected in cases:
        r = client.get(url(B, path), params=params)
        message = f"Invalid value for query parameter {name}: {params[name]}. {expected}"
        assert_error(r, 400, message, errors=[{"message": message, "in": name}])


def test_booleans_in_any_letter_case(client: httpx.Client) -> None:
    path = url(B, "statuses/v@example.com/unsubscribe-all")
    r = client.post(path, params={"channel": "EMAIL", "verbose": "TRUE"})
    assert len(r.json()["results"]) == 3
    r = client.post(path, params={"channel": "EMAIL", "verbose": "False"})
    assert r.json()["results"] == []
    r = client.get(url(B, "definitions"), params={"includeTranslations": "tRuE"})
    assert all(d["subscriptionTranslations"] == [] for d in r.json()["results"])


# --- email addresses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["not-an-email", "a@b", "a@b.c1", "two@@example.com", "a b@example.com", '"q"@example.com'],
)
def test_invalid_email_in_the_path(client: httpx.Client, bad: str) -> None:
    r = client.get(url(B, f"statuses/{bad}"), params={"channel": "EMAIL"})
    assert_error(
        r,
        400,
        "Invalid email address",
        errors=[{"message": "Invalid email address", "in": "subscriberIdString"}],
        context={"subscriberIdString": [bad]},
    )


def test_control_characters_make_an_address_invalid(
    client: httpx.Client, server: Server, portal: Portal
) -> None:
    for encoded, raw in [
        ("a%00b@example.com", "a\x00b@example.com"),
        ("a%7Fb@x.com", "a\x7fb@x.com"),
    ]:
        r = client.get(url(B, f"statuses/{encoded}"), params={"channel": "EMAIL"})
        assert r.status_code == 400
        assert r.json()["context"] == {"subscriberIdString": [raw]}
    r = post_json(
        client,
        url(B, "statuses/batch/unsubscribe-all"),
        {"inputs": ["nul\u0000@example.com", "fine@example.com"]},
        channel="EMAIL",
    )
    assert r.status_code == 200
    assert r.json()["results"] == [{"subscriberIdString": "fine@example.com"}]
    assert r.json()["numErrors"] == 1
    assert [e.event.email for e in events(server, portal)] == ["fine@example.com"]


def test_over_long_email(client: httpx.Client) -> None:
    longest = "a" * 242 + "@example.com"  # 254 characters
    assert client.get(url(B, f"statuses/{longest}"), params={"channel": "EMAIL"}).status_code == 200
    r = client.post(url(B, f"statuses/a{longest}/unsubscribe-all"), params={"channel": "EMAIL"})
    assert r.status_code == 400
    assert r.json()["message"] == "Invalid email address"


def test_invalid_emails_in_a_batch_are_per_input_errors(
    client: httpx.Client, server: Server, portal: Portal
) -> None:
    too_long = "b" * 250 + "@example.com"
    r = post_json(
        client,
        url("v4", "statuses/batch/unsubscribe-all"),
        {"inputs": ["ok@example.com", "bad", too_long, "OK@example.com"]},
        channel="EMAIL",
    )
    assert r.status_code == 200
    body = r.json()
    assert body["results"] == [{"subscriberIdString": "ok@example.com"}]
    assert body["numErrors"] == 2
    assert body["errors"] == [
        {
            "status": "error",
            "category": "VALIDATION_ERROR",
            "message": "Invalid email address",
            "context": {"subscriberIdString": [value]},
            "errors": [],
            "links": {},
        }
        for value in ["bad", too_long]
    ]
    # The valid input was applied, the invalid ones left no trace.
    assert status_of(client, "ok@example.com") == ["UNSUBSCRIBED"] * 3
    assert [e.event.email for e in events(server, portal)] == ["ok@example.com"]


def test_invalid_emails_in_single_bodies(client: httpx.Client, portal: Portal) -> None:
    r = client.post(url("v3", "subscribe"), json={"emailAddress": "nope", "subscriptionId": "1"})
    assert_error(
        r,
        400,
        "Invalid email address",
        errors=[{"message": "Invalid email address", "in": "emailAddress"}],
        context={"subscriberIdString": ["nope"]},
        request_id=True,
    )
    r = post_json(client, url(B, "links/generate"), {"subscriberIdString": "nope"}, channel="EMAIL")
    assert r.status_code == 400
    assert r.json()["context"] == {"subscriberIdString": ["nope"]}
    r = client.post(url("v3", "status/email/bulk"), json=["a@example.com", "nope"])
    assert r.status_code == 400
    assert r.json()["message"] == "Invalid email address"


# --- unknown ids -------------------------------------------------------------------------


def test_unknown_subscription_id(client: httpx.Client, server: Server, portal: Portal) -> None:
    message = "Subscription definition 987654321 does not exist"
    detail = [{"message": message, "in": "subscriptionId"}]
    r = client.post(url(B, "statuses/x@example.com"), json=c_body(portal, subscriptionId=987654321))
    assert_error(r, 400, message, errors=detail)
    r = client.post(
        url("v3", "subscribe"),
        json={"emailAddress": "x@example.com", "subscriptionId": "987654321"},
    )
    assert_error(r, 400, message, errors=detail, request_id=True)
    r = client.post(
        url("v3", "unsubscribe"), json={"emailAddress": "x@example.com", "subscriptionId": "abc"}
    )
    assert r.json()["message"] == "Subscription definition abc does not exist"
    long_id = "9" * 5000  # longer than int() accepts: still just an unknown id
    r = client.post(
        url("v3", "unsubscribe"), json={"emailAddress": "x@example.com", "subscriptionId": long_id}
    )
    assert r.json()["message"] == f"Subscription definition {long_id} does not exist"
    r = client.get(
        url(B, "statuses/x@example.com"), params={"channel": "EMAIL", "businessUnitId": long_id}
    )
    assert r.json()["errors"] == [{"message": r.json()["message"], "in": "businessUnitId"}]
    r = post_json(
        client,
        url(B, "links/generate"),
        {"subscriberIdString": "x@example.com", "subscriptionId": 987654321},
        channel="EMAIL",
    )
    assert_error(r, 400, message, errors=detail)

    r = client.post(
        url(B, "statuses/batch/write"),
        json={
            "inputs": [
                g_input(portal, "x@example.com", subscriptionId=987654321),
                g_input(portal, "y@example.com"),
            ]
        },
    )
    assert r.status_code == 200
    assert r.json()["errors"] == [
        {
            "status": "error",
            "category": "VALIDATION_ERROR",
            "message": message,
            "context": {"subscriberIdString": ["x@example.com"], "subscriptionId": ["987654321"]},
            "errors": [],
            "links": {},
        }
    ]
    assert [row["subscriberIdString"] for row in r.json()["results"]] == ["y@example.com"]
    assert [e.event.email for e in events(server, portal)] == ["y@example.com"]


def test_unknown_business_unit(client: httpx.Client, server: Server, portal: Portal) -> None:
    message = "Business unit 7 does not exist"
    detail = [{"message": message, "in": "businessUnitId"}]
    query = {"channel": "EMAIL", "businessUnitId": "7"}
    r = client.post(url(B, "statuses/x@example.com/unsubscribe-all"), params=query)
    assert_error(r, 400, message, errors=detail)
    r = client.post(
        url(B, "statuses/batch/unsubscribe-all"), params=query, json={"inputs": ["x@example.com"]}
    )
    assert_error(r, 400, message, errors=detail)
    r = client.post(
        url(B, "links/generate"), params=query, json={"subscriberIdString": "x@example.com"}
    )
    assert_error(r, 400, message, errors=detail)
    assert events(server, portal) == []
    # Reads answer empty instead (§8 Q10).
    assert client.get(url(B, "statuses/x@example.com"), params=query).json()["results"] == []
    assert (
        client.get(url(B, "statuses/x@example.com/unsubscribe-all"), params=query).json()["results"]
        == []
    )
    assert client.get(url(B, "definitions"), params={"businessUnitId": "7"}).json()["results"] == []
    r = client.post(url(B, "statuses/batch/read"), params=query, json={"inputs": ["x@example.com"]})
    assert r.json()["results"] == [{"subscriberIdString": "x@example.com", "statuses": []}]


# --- the batch cap -----------------------------------------------------------------------


@pytest.mark.parametrize("op", ["F", "G", "H", "I", "O"])
def test_more_inputs_than_the_cap(
    client: httpx.Client, server: Server, portal: Portal, op: str
) -> None:
    path, query, version = BODY_OPS[op]
    emails = [f"u{i}@example.com" for i in range(1001)]
    inputs: Any = [g_input(portal, e) for e in emails] if op == "G" else emails
    body = inputs if op == "O" else {"inputs": inputs}
    r = client.post(url(version, path), params=query, json=body)
    message = "Too many inputs: 1001. The maximum is 1000"
    assert_error(
        r,
        400,
        message,
        errors=[{"message": message, "in": "inputs"}],
        request_id=op == "O",
    )
    assert events(server, portal) == []


def test_the_cap_counts_inputs_before_de_duplication(client: httpx.Client) -> None:
    r = post_json(
        client,
        url(B, "statuses/batch/read"),
        {"inputs": ["same@example.com"] * 1001},
        channel="EMAIL",
    )
    assert r.status_code == 400
    r = post_json(
        client,
        url(B, "statuses/batch/unsubscribe-all"),
        {"inputs": [f"n{i}@example.com" for i in range(1000)]},
        channel="EMAIL",
    )
    assert r.status_code == 200
    assert len(r.json()["results"]) == 1000
