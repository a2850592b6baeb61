"""Building blocks of commpref's own API (`/commpref/v1/...`, docs/wire-contract.md §11).

An extension operation is one `ExtOperation` (the table lives in `http/ext_ops.py`); its
handler gets an `ExtRequest` — already routed, authenticated, authorised and validated — and
returns `(status, payload)`: a wire Struct (or plain JSON value) sent as JSON, or a `Stream`
sent chunk by chunk (downloads).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.types import Receive

from commpref.domain.formats import parse_int64, parse_time
from commpref.domain.model import Token
from commpref.errors import RequestTimeout, ValidationError
from commpref.http.params import parse_bool
from commpref.http.request import Runtime
from commpref.services.context import Call

PREFIX = "commpref"  # first path segment of every extension path
VERSION = "v1"


@dataclass(frozen=True, slots=True)
class ExtParam:
    """One query parameter of an extension operation.

    Kinds: `str`; `int` (int64); `bool` (`true`/`false`, any case); `time` (epoch
    milliseconds or ISO 8601, parsed to epoch milliseconds); `choice` (one of `choices`).
    """

    name: str
    kind: str
    description: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True, slots=True)
class Stream:
    """A streamed answer: the status line and headers go first, then `chunks` as they come."""

    media_type: str
    chunks: AsyncIterator[bytes]
    filename: str | None = None


@dataclass(slots=True)
class ExtRequest:
    """One extension request after routing, authentication, scopes and validation."""

    runtime: Runtime
    operation: ExtOperation
    call: Call
    token: Token
    param: str | None  # the decoded path parameter, if the path has one
    query: dict[str, Any]
    body: Any  # the decoded JSON body (a Struct), or None
    receive: Receive  # the raw body, for `upload` operations (read it with `read_chunks`)
    content_type: str | None


ExtReply = tuple[int, Any]
ExtHandler = Callable[[ExtRequest], Awaitable[ExtReply]]


@dataclass(frozen=True, slots=True)
class ExtOperation:
    """One operation of `/commpref/v1/`: everything routing, validation, authorisation and
    `/openapi.json` need to know about it."""

    name: str  # operationId
    method: str
    path: str  # under /commpref/v1/, with at most one `{parameter}` segment
    scope: str  # the scope it needs (`commpref.admin` grants every one)
    handler: ExtHandler
    summary: str
    responses: dict[int, type[msgspec.Struct] | str]  # a str is a streamed media type
    query: tuple[ExtParam, ...] = ()
    body: type[msgspec.Struct] | None = None  # a JSON request body of this schema
    upload: tuple[str, ...] = ()  # media types of a streamed (raw) request body
    param_description: str = ""

    @property
    def path_param(self) -> str | None:
        for part in self.path.split("/"):
            if part.startswith("{"):
                return part[1:-1]
        return None


# --- query parameters ----------------------------------------------------------------------


def _bad(p: ExtParam, value: str, expected: str) -> ValidationError:
    message = f"Invalid value for query parameter {p.name}: {value}. {expected}"
    return ValidationError(message, errors=[{"message": message, "in": p.name}])


def parse_params(declared: tuple[ExtParam, ...], raw: dict[str, str]) -> dict[str, Any]:
    """Validate the declared parameters; undeclared ones are ignored (as on HubSpot's paths)."""
    out: dict[str, Any] = {}
    for p in declared:
        value = raw.get(p.name)
        if value is None or value == "":
            if p.required:
                message = f"Missing required query parameter: {p.name}"
                raise ValidationError(message, errors=[{"message": message, "in": p.name}])
            out[p.name] = p.default
            continue
        parsed: Any
        if p.kind == "str":
            if "\x00" in value:
                raise _bad(p, value.replace("\x00", "\\0"), "NUL characters are not allowed")
            parsed = value
        elif p.kind == "int":
            parsed = parse_int64(value)
            if parsed is None:
                raise _bad(p, value, "Expected an integer")
            if (p.minimum is not None and parsed < p.minimum) or (
                p.maximum is not None and parsed > p.maximum
            ):
                raise _bad(p, value, f"Expected an integer from {p.minimum} to {p.maximum}")
        elif p.kind == "bool":
            parsed = parse_bool(value)
            if parsed is None:
                raise _bad(p, value, "Expected true or false")
        elif p.kind == "time":
            parsed = parse_time(value)
            if parsed is None:
                raise _bad(p, value, "Expected epoch milliseconds or an ISO 8601 time")
        elif p.kind == "choice":
            if value not in p.choices:
                raise _bad(p, value, f"Allowed values: {', '.join(p.choices)}")
            parsed = value
        else:  # a programming error in the table
            raise TypeError(f"unknown parameter kind {p.kind!r}")
        out[p.name] = parsed
    return out


# --- bodies ----------------------------------------------------------------------------------


def decode_body(raw: bytes, schema: type[msgspec.Struct]) -> Any:
    """A JSON body as `schema`; a 400 in the `Invalid input JSON` style otherwise."""
    if not raw.strip():
        raise ValidationError("Invalid input JSON on line 1, column 1: empty body")
    try:
        return msgspec.json.decode(raw, type=schema)
    except msgspec.ValidationError as exc:
        raise ValidationError(f"Invalid input JSON: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ValidationError(f"Invalid input JSON: {exc}") from exc


async def read_chunks(receive: Receive, idle_s: float | None = None) -> AsyncIterator[bytes]:
    """The raw request body, piece by piece as it arrives (constant memory). A client that
    sends nothing for `idle_s` seconds gets a 408."""
    from commpref.http.asgi import ClientDisconnected

    more = True
    while more:
        try:
            async with asyncio.timeout(idle_s):
                message = await receive()
        except TimeoutError:
            raise RequestTimeout(
                f"No part of the request body arrived within {idle_s:g} seconds",
                headers={"Connection": "close"},
            ) from None
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        if chunk:
            yield chunk
