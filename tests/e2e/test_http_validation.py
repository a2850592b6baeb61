"""Bad input over real HTTP (issue 2 "Bad input", API.md §6.4): every case is a HubSpot-style
error body, never a 500, never a partial write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.http_helpers import V4_FAMILY, assert_error, post_json, url
from tests.support.server import Portal, Server

B = "2026-03"  # the version the Stainless SDK uses; A–J behave alike on the v4 family


@pytest.fixture
def client(server: Server, portal: Portal) -> Iterator[httpx.Client]:
    with server.client(portal.token) as c:
        yield c


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
        **({"requestId": True} if op in "LMNO" else {}),
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
        r, 400, "Invalid input JSON on line 1, column 1: expected a JSON array", requestId=True
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
        "Invalid input JSON on line 1, column 2: Cannot build PublicUpdateSubscriptionStatusRequest, "
        "some of required attributes are not set [emailAddress, subscriptionId]",
        requestId=True,
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

    r = post_json(client, url(B, "statuses/batch/write"), {"input": [good]})
    assert r.json()["message"] == (
        "Invalid input JSON on line 1, column 153: Cannot build BatchInputPublicStatusRequest, "
        "some of required attributes are not set [inputs]"
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
        context={"emailAddress": ["nope"]},
        requestId=True,
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
    assert_error(r, 400, message, errors=detail, requestId=True)
    r = client.post(
        url("v3", "unsubscribe"), json={"emailAddress": "x@example.com", "subscriptionId": "abc"}
    )
    assert r.json()["message"] == "Subscription definition abc does not exist"
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
        **({"requestId": True} if op == "O" else {}),
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
