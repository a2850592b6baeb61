"""Query parameters of the /commpref/v1 operations (`http.params`: `?name=` is absent)."""

from __future__ import annotations

import pytest

from commpref.domain.formats import parse_time
from commpref.errors import ValidationError
from commpref.http.api.declare import param
from commpref.http.params import parse_query as parse_params

DECLARED = (
    param("limit", "int", "", default=100, minimum=1, maximum=1000),
    param("since", "str", ""),
    param("history", "bool", "", default=False),
    param("format", "choice", "", default="csv", choices=("csv", "jsonl")),
    param("startTime", "time", ""),
)


def test_defaults_fill_in_and_undeclared_parameters_are_ignored() -> None:
    assert parse_params(DECLARED, {"other": "x", "since": ""}) == {
        "limit": 100,
        "since": None,
        "history": False,
        "format": "csv",
        "startTime": None,
    }


def test_values_are_parsed() -> None:
    raw = {
        "limit": "5",
        "since": "abc",
        "history": "TRUE",
        "format": "jsonl",
        "startTime": "2026-05-01T10:00:00Z",
    }
    assert parse_params(DECLARED, raw) == {
        "limit": 5,
        "since": "abc",
        "history": True,
        "format": "jsonl",
        "startTime": 1_777_629_600_000,
    }


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("limit", "0", "Expected an integer from 1 to 1000"),
        ("limit", "1001", "Expected an integer from 1 to 1000"),
        ("limit", "ten", "Expected an integer"),
        ("history", "yes", "Expected true or false"),
        ("format", "xml", "Allowed values: csv, jsonl"),
        ("startTime", "soon", "Expected epoch milliseconds or an ISO 8601 time"),
    ],
)
def test_bad_values_are_400s_naming_the_parameter(name: str, value: str, expected: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_params(DECLARED, {name: value})
    message = f"Invalid value for query parameter {name}: {value}. {expected}"
    assert raised.value.message == message
    assert raised.value.errors == [{"message": message, "in": name}]


def test_required_parameters_and_times() -> None:
    with pytest.raises(ValidationError, match="Missing required query parameter: q"):
        parse_params((param("q", "str", "", required=True),), {})
    assert parse_time("1700000000000") == 1_700_000_000_000
    assert parse_time("2026-05-01T12:00:00+02:00") == 1_777_629_600_000
    assert parse_time("tomorrow") is None


def test_nul_characters_and_out_of_range_times_are_refused() -> None:
    with pytest.raises(ValidationError, match="NUL characters are not allowed"):
        parse_params(DECLARED, {"since": "a\x00b"})
    with pytest.raises(ValidationError, match="Expected epoch milliseconds"):
        parse_params(DECLARED, {"startTime": "9" * 19})  # beyond int64
