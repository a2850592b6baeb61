"""Pure parsing helpers of the HTTP layer: positions in bodies, body validation, path
segment decoding, query parameters, content types and credentials."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commpref.domain.formats import parse_int64
from commpref.errors import (
    UnsupportedMediaType,
    ValidationError,
)
from commpref.http import body
from commpref.http.hubspot import wire
from commpref.http.params import (
    Param,
    check_content_type,
    credential,
    is_json,
    parse_bool,
    parse_query,
    query_dict,
)
from commpref.http.routing import decode_segment

# --- line and column ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "index", "expected"),
    [
        ("{}", 0, (1, 1)),
        ("{}", 1, (1, 2)),
        ("{\n}", 2, (2, 1)),
        ('{\n  "a": x\n}', 9, (2, 8)),
        ("\n\n\n", 3, (4, 1)),
        ("é{}", 2, (1, 3)),  # columns count characters, not bytes
    ],
)
def test_line_col(text: str, index: int, expected: tuple[int, int]) -> None:
    assert body.line_col(text, index) == expected


@given(st.text(alphabet="ab\n{}", max_size=40), st.data())
def test_line_col_matches_a_naive_count(text: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(text)))
    lines = text[:index].split("\n")
    assert body.line_col(text, index) == (len(lines), len(lines[-1]) + 1)


# --- locating values in JSON text --------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='a"\\{}[],: é\n'),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet='ab"\\{', max_size=3), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*path, i))
    return out


@given(_json_values, st.sampled_from([None, 2]), st.data())
def test_locate_finds_every_value(value: Any, indent: int | None, data: st.DataObject) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    path = data.draw(st.sampled_from(_paths(value)))
    start, end = body.locate(text, path)
    expected = value
    for part in path:
        expected = expected[part]
    assert json.loads(text[start:end]) == expected


def test_locate_takes_the_last_duplicate_key_like_the_decoder() -> None:
    text = '{"a": 1, "a": {"b": "}"}}'
    assert text[slice(*body.locate(text, ("a",)))] == '{"b": "}"}'


# --- body validation ---------------------------------------------------------------------


def message_of(raw: bytes, schema: type[msgspec.Struct] | None) -> str:
    with pytest.raises(ValidationError) as caught:
        body.parse(raw, schema)
    return caught.value.message


def test_body_messages_and_positions() -> None:
    c = wire.PartialPublicStatusRequest
    prefix = "Invalid input JSON on line"
    assert message_of(b"", c) == f"{prefix} 1, column 1: empty body"
    assert message_of(b"xyz", c) == f"{prefix} 1, column 1: JSON is malformed: invalid character"
    assert message_of(b'{"a": 1', c) == f"{prefix} 1, column 8: Input data was truncated"
    assert message_of(b"[]", c) == f"{prefix} 1, column 1: expected a JSON object"
    assert message_of(b"{}", None) == f"{prefix} 1, column 1: expected a JSON array"
    assert message_of(b'{\n "subscriptionId": null\n }', c) == (
        f"{prefix} 3, column 2: Cannot build PartialPublicStatusRequest, some of required "
        "attributes are not set [channel, statusState, subscriptionId]"
    )
    assert message_of(b'{"channel": "EMAIL", "statusState": "X", "subscriptionId": 1}', c) == (
        f'{prefix} 1, column 37: invalid value "X" for statusState; '
        "allowed values: NOT_SPECIFIED, SUBSCRIBED, UNSUBSCRIBED"
    )
    assert message_of(b'{"channel": "SMS"}', c).endswith("not set [statusState, subscriptionId]")
    g = wire.BatchInputPublicStatusRequest
    raw = (
        b'{"inputs": [{"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": 1,\n'
        b' "subscriberIdString": "a", "legalBasis": 5}]}'
    )
    assert message_of(raw, g) == (
        f"{prefix} 2, column 43: invalid value 5 for inputs[0].legalBasis; allowed values: "
        "CONSENT_WITH_NOTICE, LEGITIMATE_INTEREST_CLIENT, LEGITIMATE_INTEREST_OTHER, "
        "LEGITIMATE_INTEREST_PQL, NON_GDPR, PERFORMANCE_OF_CONTRACT, PROCESS_AND_STORE"
    )


def test_channel_has_its_own_message() -> None:
    with pytest.raises(ValidationError) as caught:
        body.parse(
            b'{"channel": "SMS", "statusState": "SUBSCRIBED", "subscriptionId": 1}',
            wire.PartialPublicStatusRequest,
        )
    message = "Invalid value for channel: SMS. Allowed values: EMAIL"
    assert caught.value.message == message
    assert caught.value.errors == [{"message": message, "in": "channel"}]


def test_body_coercions() -> None:
    parsed = body.parse(
        b'{"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": "-12", "x": [1],'
        b' "legalBasis": null}',
        wire.PartialPublicStatusRequest,
    )
    assert parsed == {
        "channel": "EMAIL",
        "statusState": "SUBSCRIBED",
        "subscriptionId": -12,
        "legalBasis": None,
        "legalBasisExplanation": None,
    }
    v3 = body.parse(
        b'{"emailAddress": "a", "subscriptionId": 42}', wire.PublicUpdateSubscriptionStatusRequest
    )
    assert v3["subscriptionId"] == "42"
    for bad in [b'"1.5"', b"1.5", b"true", b'" 1"', b"9223372036854775808", b'"1e3"']:
        raw = b'{"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": ' + bad + b"}"
        assert "expected integer" in message_of(raw, wire.PartialPublicStatusRequest), bad
    assert body.parse(b'["a", "b"]', None) == ["a", "b"]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ((), ""),
        (("inputs",), "inputs"),
        (("inputs", 3, "channel"), "inputs[3].channel"),
        ((0,), "[0]"),
    ],
)
def test_field_name(path: tuple[str | int, ...], name: str) -> None:
    assert body.field_name(path) == name


# --- path decoding -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("a+b@x.com", "a+b@x.com"),
        ("a%2Bb%40x.com", "a+b@x.com"),
        ("a+b%40x.com", "a+b@x.com"),
        ("a%2Fb%40x.com", "a/b@x.com"),
        ("a%252F@x.com", "a%2F@x.com"),  # exactly once
        ("J%C3%B6rg@x.de", "Jörg@x.de"),
        ("a%20b@x.com", "a b@x.com"),
        ("bad%ZZ@x.com", "bad%ZZ@x.com"),
    ],
)
def test_decode_segment(raw: str, decoded: str) -> None:
    assert decode_segment(raw) == decoded


# --- query parameters, content types, credentials ----------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("tRuE", True),
        ("false", False),
        ("False", False),
        ("1", None),
        ("", None),
        ("yes", None),
    ],
)
def test_parse_bool(value: str, expected: bool | None) -> None:
    assert parse_bool(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0),
        ("41857", 41857),
        ("-3", -3),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("1.0", None),
        (" 1", None),
        ("1_000", None),
        ("٣", None),
        ("", None),
    ],
)
def test_parse_int64(value: str, expected: int | None) -> None:
    assert parse_int64(value) == expected


def test_query_dict_keeps_first_and_blanks() -> None:
    assert query_dict(b"channel=EMAIL&channel=SMS&verbose=&a=%2B+b") == {
        "channel": "EMAIL",
        "verbose": "",
        "a": "+ b",
    }
    assert query_dict(b"") == {}


def test_parse_query() -> None:
    declared = (
        Param("channel", "channel", required=True),
        Param("businessUnitId", "int", default=0),
        Param("verbose", "bool", default=False),
    )
    assert parse_query(declared, {"channel": "EMAIL", "other": "x"}) == {
        "channel": "EMAIL",
        "businessUnitId": 0,
        "verbose": False,
    }
    assert parse_query(
        declared, {"channel": "EMAIL", "businessUnitId": "7", "verbose": "TRUE"}
    ) == {
        "channel": "EMAIL",
        "businessUnitId": 7,
        "verbose": True,
    }
    cases = [
        ({}, "Missing required query parameter: channel", "channel"),
        (
            {"channel": "Email"},
            "Invalid value for channel: Email. Allowed values: EMAIL",
            "channel",
        ),
        (
            {"channel": "EMAIL", "businessUnitId": "x"},
            "Invalid value for query parameter businessUnitId: x. Expected an integer",
            "businessUnitId",
        ),
        (
            {"channel": "EMAIL", "verbose": "0"},
            "Invalid value for query parameter verbose: 0. Expected true or false",
            "verbose",
        ),
    ]
    for raw, message, name in cases:
        with pytest.raises(ValidationError) as caught:
            parse_query(declared, raw)
        assert caught.value.message == message
        assert caught.value.errors == [{"message": message, "in": name}]


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        (None, True),
        ("application/json", True),
        ("Application/JSON; charset=UTF-8", True),
        ("application/merge-patch+json", True),
        ("application/problem+json;x=y", True),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("application/jsonx", False),
        ("+json", False),
        ("application/+json", False),
        ("", False),
    ],
)
def test_is_json(content_type: str | None, ok: bool) -> None:
    assert is_json(content_type) is ok


def test_unsupported_content_type_message() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        check_content_type("text/csv")
    assert caught.value.message == "Unsupported Content-Type: text/csv. Send application/json"
    assert caught.value.http_status == 415


@pytest.mark.parametrize(
    ("args", "secret"),
    [
        (("Bearer abc", None, None, None), "abc"),
        (("bearer  abc ", "legacy", None, None), "abc"),
        (("Bearer", "legacy", None, None), None),
        (("Basic abc", "legacy", None, None), "legacy"),
        ((None, "legacy", "pa", "key"), "legacy"),
        ((None, None, "pa", "key"), "pa"),
        ((None, None, None, "key"), "key"),
        ((None, None, None, None), None),
        ((None, "", "pa", None), None),
    ],
)
def test_credential_precedence(args: tuple[str | None, ...], secret: str | None) -> None:
    assert credential(*args) == secret


SCHEMAS: list[type[msgspec.Struct] | None] = [
    wire.PartialPublicStatusRequest,
    wire.BatchInputPublicStatusRequest,
    wire.BatchInputString,
    wire.LinkGenerationRequest,
    wire.PublicUpdateSubscriptionStatusRequest,
    None,
]


def _parses_or_400(raw: bytes) -> None:
    for schema in SCHEMAS:
        try:
            body.parse(raw, schema)
        except ValidationError as exc:
            assert exc.message
            assert exc.http_status == 400


@given(st.binary(max_size=300))
def test_any_bytes_give_a_value_or_a_400(raw: bytes) -> None:
    _parses_or_400(raw)


@given(
    st.dictionaries(
        st.sampled_from(
            ["inputs", "channel", "statusState", "subscriptionId", "emailAddress", "x"]
        ),
        _json_values,
        max_size=4,
    )
    | st.lists(_json_values, max_size=3)
)
def test_any_json_gives_a_value_or_a_400(value: Any) -> None:
    _parses_or_400(json.dumps(value).encode())
    _parses_or_400(json.dumps({"inputs": [value]}).encode())


def test_too_deep_nesting_is_a_400() -> None:
    raw = b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert message_of(raw, wire.BatchInputString) == (
        "Invalid input JSON on line 1, column 267: nesting too deep"
    )


def test_very_long_digit_strings_are_invalid_not_errors() -> None:
    digits = "9" * 5000
    assert parse_int64(digits) is None
    prefix = '{"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": '
    as_string = f'{prefix}"{digits}"}}'.encode()
    as_number = f"{prefix}{digits}}}".encode()
    assert "expected integer" in message_of(as_string, wire.PartialPublicStatusRequest)
    assert "Integer value out of range" in message_of(as_number, wire.PartialPublicStatusRequest)
