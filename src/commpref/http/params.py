"""Query parameters, content types and credentials (docs/wire-contract.md §2.2, §6.4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from commpref.domain.formats import parse_int64, parse_time
from commpref.errors import UnsupportedMediaType, ValidationError


@dataclass(frozen=True, slots=True)
class Param:
    """One query parameter.

    Kinds: `channel` (only `EMAIL`); `int` (int64, within `minimum`..`maximum` when set);
    `bool` (`true`/`false`, any case); `str` (no NUL); `time` (epoch milliseconds or ISO
    8601, parsed to epoch milliseconds); `choice` (one of `choices`). With `blank_is_missing`
    `?name=` counts as absent (commpref's API); HubSpot's paths judge the empty value.
    """

    name: str
    kind: str
    description: str = ""
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    blank_is_missing: bool = False


def query_dict(query_string: bytes) -> dict[str, str]:
    """The query parameters; the first of repeated names wins, blanks are kept."""
    out: dict[str, str] = {}
    if query_string:
        for name, value in parse_qsl(query_string.decode("utf-8", "replace"), True):
            out.setdefault(name, value)
    return out


def _error(message: str, name: str) -> ValidationError:
    return ValidationError(message, errors=[{"message": message, "in": name}])


def parse_bool(value: str) -> bool | None:
    """`true`/`false` in any letter case (§5.8); None for anything else."""
    lowered = value.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return None


def _invalid(p: Param, value: str, expected: str) -> ValidationError:
    return _error(f"Invalid value for query parameter {p.name}: {value}. {expected}", p.name)


def parse_query(declared: tuple[Param, ...], raw: dict[str, str]) -> dict[str, Any]:
    """Validate the declared parameters in declaration order; undeclared ones are ignored."""
    out: dict[str, Any] = {}
    for p in declared:
        value = raw.get(p.name)
        if value is None or (value == "" and p.blank_is_missing):
            if p.required:
                raise _error(f"Missing required query parameter: {p.name}", p.name)
            out[p.name] = p.default
            continue
        out[p.name] = _parse(p, value)
    return out


def _parse(p: Param, value: str) -> Any:
    if p.kind == "channel":
        if value != "EMAIL":
            raise _error(f"Invalid value for channel: {value}. Allowed values: EMAIL", p.name)
        return value
    if p.kind == "int":
        number = parse_int64(value)
        if number is None:
            raise _invalid(p, value, "Expected an integer")
        if (p.minimum is not None and number < p.minimum) or (
            p.maximum is not None and number > p.maximum
        ):
            raise _invalid(p, value, f"Expected an integer from {p.minimum} to {p.maximum}")
        return number
    if p.kind == "bool":
        flag = parse_bool(value)
        if flag is None:
            raise _invalid(p, value, "Expected true or false")
        return flag
    if p.kind == "str":
        if "\x00" in value:
            raise _invalid(p, value.replace("\x00", "\\0"), "NUL characters are not allowed")
        return value
    if p.kind == "time":
        ms = parse_time(value)
        if ms is None:
            raise _invalid(p, value, "Expected epoch milliseconds or an ISO 8601 time")
        return ms
    if p.kind == "choice":
        if value not in p.choices:
            raise _invalid(p, value, f"Allowed values: {', '.join(p.choices)}")
        return value
    raise TypeError(f"unknown parameter kind {p.kind!r}")  # a programming error in a table


def is_json(content_type: str | None) -> bool:
    """`application/json` or any `*/*+json`, parameters ignored; absent counts as JSON."""
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json":
        return True
    kind, _, sub = media.partition("/")
    return bool(kind) and "/" not in sub and sub.endswith("+json") and len(sub) > 5


def check_content_type(content_type: str | None) -> None:
    if not is_json(content_type):
        raise UnsupportedMediaType(
            f"Unsupported Content-Type: {content_type}. Send application/json"
        )


def credential(
    authorization: str | None,
    private_app_legacy: str | None,
    private_app: str | None,
    hapikey: str | None,
) -> str | None:
    """The secret a request presents: Bearer, then the private-app headers, then `hapikey`
    (already None unless `hapikey_enabled`). The first source present decides."""
    if authorization is not None:
        scheme, _, secret = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            return secret.strip() or None
    for value in (private_app_legacy, private_app, hapikey):
        if value is not None:
            return value.strip() or None
    return None
