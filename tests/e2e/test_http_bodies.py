"""Bad request bodies over real HTTP (docs/wire-contract.md §6.4): JSON syntax with
line and column, content types (415), size (413), required fields, types and enums. Every
case is a HubSpot-style error body, never a 500, never a partial write."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.http_helpers import (
    BODY_OPS,
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


# --- JSON syntax -------------------------------------------------------------------------


@pytest.mark.parametrize("op", sorted(BODY_OPS))
@pytest.mark.parametrize("content", [b"", b"  \n "])
def test_empty_body(client: httpx.Client, op: str, content: bytes) -> None:
    path, query, version = BODY_OPS[op]
    r = client.post(
        url(version, path),
        params=query,
        content=content,
        headers={"content-type": "application/json"},
    )
    assert_error(
        r,
        400,
        "Invalid input JSON on line 1, column 1: empty body",
        request_id=op in "LMNO",
    )


def test_malformed_json_names_line_and_column(client: httpx.Client) -> None:
    body = b'{\n  "channel": EMAIL,\n  "statusState": "SUBSCRIBED"\n}'
    r = client.post(url(B, "statuses/x@example.com"), content=body)
    assert_error(
        r, 400, "Invalid input JSON on line 2, column 14: JSON is malformed: invalid character"
    )


def test_truncated_json_points_past_the_end(client: httpx.Client) -> None:
    r = client.post(
        url(B, "statuses/batch/read"), params={"channel": "EMAIL"}, content=b'{"inputs": ["a@x.com"'
    )
    assert_error(r, 400, "Invalid input JSON on line 1, column 22: Input data was truncated")


def test_invalid_utf8(client: httpx.Client) -> None:
    r = client.post(
        url(B, "statuses/batch/read"), params={"channel": "EMAIL"}, content=b'{"inputs": ["\xff"]}'
    )
    assert_error(r, 400, "Invalid input JSON on line 1, column 14: invalid UTF-8")


def test_body_of_the_wrong_json_type(client: httpx.Client) -> None:
    r = client.post(url(B, "statuses/x@example.com"), json=[1, 2])
    assert_error(r, 400, "Invalid input JSON on line 1, column 1: expected a JSON object")
    r = client.post(url("v3", "status/email/bulk"), json={"inputs": ["a@example.com"]})
    assert_error(
        r, 400, "Invalid input JSON on line 1, column 1: expected a JSON array", request_id=True
    )


# --- content type and size ---------------------------------------------------------------


def test_wrong_content_type_is_415(client: httpx.Client, portal: Portal) -> None:
    r = client.post(
        url(B, "statuses/x@example.com"),
        content=b'{"channel": "EMAIL"}',
        headers={"content-type": "text/plain"},
    )
    assert_error(r, 415, "Unsupported Content-Type: text/plain. Send application/json")
    # 415 comes before JSON validation: even a broken body gets it.
    r = client.post(
        url(B, "statuses/batch/read"),
        params={"channel": "EMAIL"},
        content=b"inputs=a",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "application/vnd.api+json",
        "APPLICATION/JSON",
    ],
)
def test_json_content_types_are_accepted(
    client: httpx.Client, portal: Portal, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    r = client.post(
        url(B, "statuses/batch/read"),
        params={"channel": "EMAIL"},
        content=b'{"inputs": []}',
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["results"] == []


def test_unsubscribe_all_ignores_its_body(client: httpx.Client) -> None:
    """E declares no body; the Stainless SDK sends a JSON content type with nothing (§3.E)."""
    for content, headers in [
        (b"", {"content-type": "application/json"}),
        (b"", {}),
        (b"not json at all", {"content-type": "text/plain"}),
        (b'{"inputs": 5}', {"content-type": "application/json"}),
    ]:
        r = client.post(
            url(B, "statuses/e@example.com/unsubscribe-all"),
            params={"channel": "EMAIL"},
            content=content,
            headers=headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["results"] == []


def test_body_over_the_limit_is_413(client: httpx.Client, server: Server, portal: Portal) -> None:
    # Over the 4 MiB default, and more inputs than the cap: the size check comes first (§2.5).
    inputs = [f"user{i:07d}@example.com" for i in range(200_000)]
    r = post_json(
        client, url(B, "statuses/batch/unsubscribe-all"), {"inputs": inputs}, channel="EMAIL"
    )
    assert_error(r, 413, "Request body is larger than the limit of 4194304 bytes")
    assert events(server, portal) == []


def test_body_over_the_limit_without_content_length(client: httpx.Client) -> None:
    """A chunked body has no Content-Length to trust; the cap applies while reading."""

    def chunks() -> Iterator[bytes]:
        yield b'{"inputs": ['
        for _ in range(100):
            yield b'"aaaaaaaaaaaaaaaaaaaaaaaa@example.com",' * 1200
        yield b'"b@example.com"]}'

    r = client.post(
        url(B, "statuses/batch/read"),
        params={"channel": "EMAIL"},
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "Request body is larger than the limit of 4194304 bytes")


# --- required fields, types, enums -------------------------------------------------------


def test_hubspot_literal_message_for_an_empty_object(client: httpx.Client) -> None:
    r = client.post(url("v3", "subscribe"), json={})
    assert_error(
        r,
        400,
        "Invalid input JSON on line 1, column 2: Cannot build "
        "PublicUpdateSubscriptionStatusRequest, some of required attributes are not set "
        "[emailAddress, subscriptionId]",
        request_id=True,
    )


def test_missing_fields_name_the_closing_brace(client: httpx.Client) -> None:
    body = b'{\n  "channel": "EMAIL"\n  \n}\n'
    r = client.post(url(B, "statuses/x@example.com"), content=body)
    assert_error(
        r,
        400,
        "Invalid input JSON on line 4, column 1: Cannot build PartialPublicStatusRequest, "
        "some of required attributes are not set [statusState, subscriptionId]",
    )


def test_null_and_snake_case_count_as_missing(client: httpx.Client) -> None:
    body = {"channel": "EMAIL", "statusState": None, "subscription_id": 1, "status_state": "X"}
    r = client.post(url(B, "statuses/x@example.com"), json=body)
    assert r.status_code == 400
    assert r.json()["message"].endswith(
        "Cannot build PartialPublicStatusRequest, some of required attributes are not set "
        "[statusState, subscriptionId]"
    )


def test_missing_field_inside_a_batch_fails_the_whole_request(
    client: httpx.Client, server: Server, portal: Portal
) -> None:
    good = g_input(portal, "first@example.com")
    body = (
        b'{"inputs": [\n'
        + httpx.Request("POST", "/", json=good).content
        + b',\n    {"subscriberIdString": "second@example.com", "channel": "EMAIL"}\n]}'
    )
    r = client.post(url(B, "statuses/batch/write"), content=body)
    assert_error(
        r,
        400,
        "Invalid input JSON on line 3, column 68: Cannot build PublicStatusRequest, "
        "some of required attributes are not set [statusState, subscriptionId]",
    )
    # Nothing was applied, not even the valid first input.
    assert status_of(client, "first@example.com") == ["NOT_SPECIFIED"] * 3
    assert events(server, portal) == []

    content = json.dumps({"input": [good]}).encode()  # `inputs` misspelt
    r = client.post(url(B, "statuses/batch/write"), content=content)
    assert r.json()["message"] == (
        f"Invalid input JSON on line 1, column {len(content)}: Cannot build "
        "BatchInputPublicStatusRequest, some of required attributes are not set [inputs]"
    )


def test_wrong_types(client: httpx.Client, portal: Portal) -> None:
    r = client.post(
        url(B, "statuses/x@example.com"),
        json=c_body(portal, subscriptionId="abc"),
    )
    message = (
        'Invalid input JSON on line 1, column 64: invalid value "abc" for subscriptionId; '
        "expected integer"
    )
    assert_error(r, 400, message, errors=[{"message": message, "in": "subscriptionId"}])

    r = client.post(
        url(B, "statuses/x@example.com"),
        json=c_body(portal, legalBasisExplanation=5, subscriptionId=True),
    )
    assert r.json()["errors"][0]["in"] == "subscriptionId"  # booleans are not integers

    r = post_json(
        client, url(B, "statuses/batch/read"), {"inputs": "a@example.com"}, channel="EMAIL"
    )
    message = (
        'Invalid input JSON on line 1, column 11: invalid value "a@example.com" for inputs; '
        "expected array"
    )
    assert_error(r, 400, message, errors=[{"message": message, "in": "inputs"}])

    r = post_json(
        client,
        url(B, "statuses/batch/unsubscribe-all"),
        {"inputs": ["a@example.com", 7]},
        channel="EMAIL",
    )
    message = (
        "Invalid input JSON on line 1, column 28: invalid value 7 for inputs[1]; expected string"
    )
    assert_error(r, 400, message, errors=[{"message": message, "in": "inputs[1]"}])
    # Structural: nothing applied to the valid first input either.
    assert status_of(client, "a@example.com") == ["NOT_SPECIFIED"] * 3

    r = client.post(url("v3", "subscribe"), json={"emailAddress": ["x"], "subscriptionId": "1"})
    assert r.json()["errors"] == [{"message": r.json()["message"], "in": "emailAddress"}]
    assert r.json()["message"].endswith('invalid value ["x"] for emailAddress; expected string')


def test_bad_enums(client: httpx.Client, portal: Portal) -> None:
    r = client.post(url(B, "statuses/x@example.com"), json=c_body(portal, statusState="subscribed"))
    message = (
        'Invalid input JSON on line 1, column 34: invalid value "subscribed" for statusState; '
        "allowed values: NOT_SPECIFIED, SUBSCRIBED, UNSUBSCRIBED"
    )
    assert_error(r, 400, message, errors=[{"message": message, "in": "statusState"}])

    r = client.post(
        url(B, "statuses/batch/write"),
        json={"inputs": [g_input(portal, "a@example.com", legalBasis="CONSENT")]},
    )
    assert r.status_code == 400
    assert r.json()["errors"][0]["in"] == "inputs[0].legalBasis"
    assert "allowed values: CONSENT_WITH_NOTICE, LEGITIMATE_INTEREST_CLIENT" in r.json()["message"]


def test_numeric_strings_and_unknown_keys_are_accepted(
    client: httpx.Client, portal: Portal
) -> None:
    body = c_body(portal, subscriptionId=str(portal.definitions[0]), snake_case_extra=1, x={"y": 2})
    r = client.post(url(B, "statuses/x@example.com"), json=body)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["subscriptionId"] == portal.definitions[0]
    # v3 string ids also take JSON integers.
    r = client.post(
        url("v3", "unsubscribe"),
        json={
            "emailAddress": "y@example.com",
            "subscriptionId": portal.definitions[1],
            "extra": None,
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["id"] == str(portal.definitions[1])
