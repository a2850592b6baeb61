"""What an HTTP surface declares and what its handlers see.

A surface (HubSpot's API, commpref's own API, the service endpoints) is a table of
`Operation`s plus the few things that differ between surfaces (`Surface`): how a path is
spelled, how a JSON body is decoded, which `source` its changes record, how OpenAPI
describes it. `http.pipeline` runs every surface the same way; `http.openapi` describes
them all. A handler gets a `Request` that is already routed, authenticated, authorised and
validated, and returns `(status, payload)`: a wire Struct or plain JSON value, a `Stream`
(sent chunk by chunk) or a `Raw` body of another media type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
from starlette.types import Receive, Scope

from commpref.domain.model import PortalContext, Token
from commpref.domain.scopes import Op
from commpref.http.params import Param
from commpref.http.runtime import Runtime
from commpref.services.context import Call


@dataclass(frozen=True, slots=True)
class Stream:
    """A streamed answer: the status line and headers go first, then `chunks` as they come."""

    media_type: str
    chunks: AsyncIterator[bytes]
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class Raw:
    """An answer already encoded, of another media type than JSON (or JSON made once)."""

    media_type: str
    body: bytes


Reply = tuple[int, Any]
Handler = Callable[["Request"], Awaitable[Reply]]
Authorize = Callable[[Token, PortalContext], None]  # raises when the token may not


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation: everything routing, the checks, the handler and OpenAPI need."""

    name: str  # OpenAPI's operationId where the surface has one id per operation
    label: str  # the metrics label
    method: str
    path: str  # under the surface's prefix and version, at most one `{parameter}` segment
    versions: tuple[str, ...]
    handler: Handler
    summary: str
    responses: Mapping[int, type[msgspec.Struct] | str]  # a str: a streamed media type
    authorize: Authorize | None  # None: a public operation (no credential read)
    errors: frozenset[int]  # every error status it can answer (OpenAPI; the fuzzer checks)
    security: tuple[dict[str, list[str]], ...] = ()
    query: tuple[Param, ...] = ()
    body: type[msgspec.Struct] | None = None  # a JSON object of this schema
    bare_array: bool = False  # a JSON array of strings instead (HubSpot's O)
    batch: bool = False  # the inputs are capped at `batch_max_inputs`
    multi_status: bool = False  # 207 when an input failed
    upload: tuple[str, ...] = ()  # media types of a raw body the handler streams itself
    # The body as sent, in `Request.body` as bytes, of any media type: a provider's
    # signature covers its exact bytes (`http/api/feedback.py`). Read with the limits.
    raw_body: bool = False
    request_id: bool = False  # error bodies carry `requestId` (HubSpot's v3-style K–O)
    gated: bool = True  # counts against the concurrency limit (`http.overload.Gate`)
    op: Op | None = None  # HubSpot's operation letter (its scopes: `domain.scopes`)
    scope: str = ""  # the scope a commpref API operation needs
    description: str = ""
    param_description: str = ""
    doc: Mapping[str, Any] | None = None  # a hand-written OpenAPI entry (non-JSON answers)

    @property
    def has_body(self) -> bool:
        return self.body is not None or self.bare_array or self.raw_body

    @property
    def path_param(self) -> str | None:
        for part in self.path.split("/"):
            if part.startswith("{"):
                return part[1:-1]
        return None


@dataclass(slots=True)
class Request:
    """One request after routing, authentication, authorisation and validation."""

    runtime: Runtime
    scope: Scope
    correlation_id: str
    now: int  # when the request started (epoch ms): every change it makes carries it
    operation: Operation
    version: str
    call_: Call | None  # None only for public operations
    param: str | None  # the decoded path parameter, if the path has one
    query: dict[str, Any]
    body: Any  # the validated body, or None
    receive: Receive  # the raw body, for `upload` operations (`transport.read_chunks`)
    content_type: str | None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)  # extra response headers

    @property
    def call(self) -> Call:
        if self.call_ is None:
            raise TypeError(f"{self.operation.name} is public: it has no call")
        return self.call_


# How a surface answers an error: (status, media type, body, extra headers) for the error, the
# correlation id, whether the operation's errors carry `requestId`, and the request's scope.
ErrorAnswer = tuple[int, str, bytes, list[tuple[bytes, bytes]]]
RenderError = Callable[[Exception, str, bool, Scope], ErrorAnswer]


class Resolver(Protocol):
    def resolve(self, method: str, raw_path: str) -> tuple[Operation, str, str | None]:
        """(operation, version, decoded path parameter); raises NotFound or 405."""
        ...


@dataclass(frozen=True, slots=True)
class Surface:
    """One HTTP surface: its table and what sets it apart from the others."""

    name: str
    operations: tuple[Operation, ...]
    router: Resolver
    unmatched_label: str  # the metrics label of a path that names no operation
    render_error: RenderError  # an error as the surface answers it (JSON envelope, HTML page)
    correlation_headers: tuple[bytes, ...]  # the headers carrying the correlation id
    url: Callable[[str, Operation], str]  # the URL path of an operation in one version
    operation_id: Callable[[Operation, str], str]  # OpenAPI's operationId in one version
    tag: Callable[[str], str]  # OpenAPI tag of a version
    error_texts: Mapping[int, str]  # OpenAPI descriptions of its error answers
    components: tuple[type[msgspec.Struct], ...] = ()  # schemas OpenAPI lists besides
    security_schemes: Mapping[str, Any] = field(default_factory=dict)
    # Only surfaces with authenticated operations record changes, and only those with JSON
    # bodies decode them: the public ones (service endpoints, pages) leave these unset.
    decode_body: Callable[[bytes, Operation], Any] | None = None
    source: Callable[[Token], str] | None = None  # the `source` its changes record
