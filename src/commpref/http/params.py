"""Query parameters, content types and credentials (docs/wire-contract.md §2.2, §6.4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from commpref.domain.formats import parse_int64
from commpref.errors import UnsupportedMediaType, ValidationError


@dataclass(frozen=True, slots=True)
class QueryParam:
    """One declared query parameter of an operation."""

    name: str
    kind: str  # "channel" | "int64" | "bool"
    required: bool = False
    default: Any = None
    description: str = ""


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


def parse_query(declared: tuple[QueryParam, ...], raw: dict[str, str]) -> dict[str, Any]:
    """Validate the declared parameters in declaration order; undeclared ones are ignored."""
    out: dict[str, Any] = {}
    for p in declared:
        value = raw.get(p.name)
        if value is None:
            if p.required:
                raise _error(f"Missing required query parameter: {p.name}", p.name)
            out[p.name] = p.default
        elif p.kind == "channel":
            if value != "EMAIL":
                raise _error(f"Invalid value for channel: {value}. Allowed values: EMAIL", p.name)
            out[p.name] = value
        elif p.kind == "int64":
            number = parse_int64(value)
            if number is None:
                message = (
                    f"Invalid value for query parameter {p.name}: {value}. Expected an integer"
                )
                raise _error(message, p.name)
            out[p.name] = number
        else:
            flag = parse_bool(value)
            if flag is None:
                message = (
                    f"Invalid value for query parameter {p.name}: {value}. Expected true or false"
                )
                raise _error(message, p.name)
            out[p.name] = flag
    return out


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
