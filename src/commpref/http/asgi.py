"""The ASGI dispatcher: each request passes the checks of docs/wire-contract.md §2.5 in order.

route → authentication → (rate limit hook) → scopes and batch gate → request validation
(content type, body size, query parameters, JSON, required fields, enums, batch cap) →
business rules (in the services) → success. Every response, errors included, is JSON and
carries `X-HubSpot-Correlation-Id` and `x-request-id` (one fresh UUID4 per request, the
same id as `Call.correlation_id` and the ledger's).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.types import Receive, Scope, Send

from commpref.domain.model import Actor
from commpref.errors import (
    CommprefError,
    PayloadTooLarge,
    RequestTimeout,
    Unavailable,
    UriTooLong,
    ValidationError,
)
from commpref.http import body as bodies
from commpref.http import logs, openapi, wire
from commpref.http.errors import internal_error, render_error
from commpref.http.ext_api import EXT_PATHS, ExtApi
from commpref.http.metrics import CONTENT_TYPE as METRICS_TYPE
from commpref.http.ops import OPERATIONS, Operation
from commpref.http.overload import Gate
from commpref.http.params import check_content_type, credential, parse_query, query_dict
from commpref.http.request import ApiRequest, Reply, Runtime
from commpref.http.routing import Router, method_not_allowed, not_found
from commpref.services import auth
from commpref.services.context import Call, api_source, now_ms

MAX_URI_BYTES = 16 * 1024
# Past the limit the rest of a body is read and dropped (up to this much) so the client sees
# the 413 instead of a connection reset.
DRAIN_BYTES = 64 * 1024 * 1024
_WANTED_HEADERS = frozenset(
    {b"authorization", b"private-app-legacy", b"private-app", b"content-type"}
)
_encode = msgspec.json.Encoder().encode
_JSON = (b"content-type", b"application/json")


class ClientDisconnected(Exception):
    """The client went away while its body was being read; nothing is answered."""


async def read_body(
    receive: Receive, limit: int, timeout_s: float | None = None
) -> tuple[bytes, bool]:
    """The body, read with a cap rather than trusting Content-Length; (b"", True) when over.
    A body not complete within `timeout_s` raises `RequestTimeout` (408; slow clients)."""
    if timeout_s is None:
        return await _read_body(receive, limit)
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_body(receive, limit)
    except TimeoutError:
        raise RequestTimeout(
            f"The request body was not received within {timeout_s:g} seconds",
            headers={"Connection": "close"},
        ) from None


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > DRAIN_BYTES:
            break
    if size > limit:
        return b"", True
    return b"".join(chunks), False


def _headers(scope: Scope) -> dict[bytes, str]:
    return {
        name: value.decode("latin-1") for name, value in scope["headers"] if name in _WANTED_HEADERS
    }


class Api:
    """The ASGI app behind every HubSpot path plus `/healthz`, `/readyz`, `/openapi.json`."""

    def __init__(self, runtime: Runtime, operations: tuple[Operation, ...] = OPERATIONS) -> None:
        self.runtime = runtime
        self.operations = operations
        self.router = Router((o.method, o.path, o.versions, o) for o in operations)
        self._openapi: bytes | None = None
        self._service: dict[str, Callable[[], Awaitable[tuple[int, bytes]]]] = {
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            "/openapi.json": self._openapi_json,
            "/metrics": self._metrics,
        }
        settings = runtime.settings
        self.gate = Gate(
            limit=settings.max_concurrent_requests,
            queue=settings.max_queued_requests,
            wait_s=settings.queue_wait_ms / 1000,
        )
        self.metrics = runtime.metrics
        self.ext = ExtApi(runtime, gate=self.gate)
        if self.metrics is not None:
            self.gate.on_refuse = self.metrics.refused.inc
            self.metrics.gate = self.gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        t0 = time.perf_counter()
        started = now_ms()
        cid = str(uuid.uuid4())
        method: str = scope["method"]
        raw_path: bytes | None = scope.get("raw_path")
        path = raw_path.decode("utf-8", "replace") if raw_path else scope["path"]
        if path.startswith(EXT_PATHS):  # commpref's own API: /commpref/v1 (http.ext_api)
            await self.ext(scope, receive, send, path=path, cid=cid, started=started)
            return
        extra: list[tuple[bytes, bytes]] = []
        v3_style = False
        label = "unmatched"
        content_type = _JSON
        held = [False]  # a slot of the gate, released while the body is read
        try:
            if len(path) + len(scope.get("query_string", b"")) > MAX_URI_BYTES:
                raise UriTooLong("Request URI too long")
            service = self._service.get(path)
            if service is not None:
                label = path.strip("/").removesuffix(".json")
                if method != "GET":
                    raise method_not_allowed(method, path, ["GET"])
                status, body = await service()
                if path == "/metrics" and status == 200:
                    content_type = (b"content-type", METRICS_TYPE.encode())
            else:
                operation, version, param = self.router.resolve(method, path)
                v3_style = operation.v3_style
                label = operation.op.name.lower()
                await self.gate.acquire()
                held[0] = True
                status, payload = await self._operation(
                    scope, receive, operation, version, param, cid, started, extra, held
                )
                body = _encode(payload)
        except ClientDisconnected:
            if held[0]:
                self.gate.release()
            return
        except CommprefError as exc:
            status, body, headers = render_error(exc, cid, request_id=v3_style)
            extra.extend(headers)
        except Exception as exc:
            logs.error("unhandled error", cid, exc)
            status, body = internal_error(cid, request_id=v3_style)
        if held[0]:
            self.gate.release()
        elapsed = time.perf_counter() - t0
        if self.metrics is not None:
            self.metrics.observe(label, status, elapsed)
        if self.runtime.settings.access_log:
            # Logged before sending, so the line exists once the client has the answer.
            logs.access(method, path, status, elapsed * 1000, cid)
        cid_bytes = cid.encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    content_type,
                    (b"content-length", str(len(body)).encode()),
                    (b"x-hubspot-correlation-id", cid_bytes),
                    (b"x-request-id", cid_bytes),
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _operation(
        self,
        scope: Scope,
        receive: Receive,
        operation: Operation,
        version: str,
        param: str | None,
        cid: str,
        started: int,
        extra: list[tuple[bytes, bytes]],
        held: list[bool],
    ) -> Reply:
        rt = self.runtime
        settings = rt.settings
        headers = _headers(scope)
        raw_query = query_dict(scope.get("query_string", b""))
        secret = credential(
            headers.get(b"authorization"),
            headers.get(b"private-app-legacy"),
            headers.get(b"private-app"),
            raw_query.get("hapikey") if settings.hapikey_enabled else None,
        )
        token, ctx = await auth.authenticate(store=rt.store, secret=secret, now=started)
        if rt.rate_limiter is not None:  # step 3 of §2.5 (`http.ratelimit`)
            extra.extend(await rt.rate_limiter.check(token=token, ctx=ctx, now=started))
        auth.authorize(operation.op, token, ctx)

        raw_body = b""
        if operation.has_body:
            # A slow body must not hold a slot: give it back while the body arrives.
            self.gate.release()
            held[0] = False
            raw_body, too_large = await read_body(
                receive, settings.max_body_bytes, settings.body_timeout_s
            )
            await self.gate.acquire()
            held[0] = True
            if raw_body or too_large:
                check_content_type(headers.get(b"content-type"))
            if too_large:
                limit = settings.max_body_bytes
                raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
        query = parse_query(operation.query, raw_query)
        body: Any = None
        if operation.has_body:
            body = bodies.parse(raw_body, operation.body)
            if operation.batch:
                inputs = body if operation.bare_array else body["inputs"]
                if len(inputs) > settings.batch_max_inputs:
                    message = (
                        f"Too many inputs: {len(inputs)}. "
                        f"The maximum is {settings.batch_max_inputs}"
                    )
                    raise ValidationError(message, errors=[{"message": message, "in": "inputs"}])

        call = Call(ctx, Actor("token", str(token.id)), api_source(token.app_id), cid, started)
        request = ApiRequest(rt, operation, version, call, token, param, query, body, extra)
        return await operation.handler(request)

    # --- service endpoints -------------------------------------------------------------

    async def _healthz(self) -> tuple[int, bytes]:
        """The process is up (no database check)."""
        return 200, _encode(wire.Health(status="ok"))

    async def _readyz(self) -> tuple[int, bytes]:
        """The store answers and its schema is the latest; 503 otherwise."""
        store = self.runtime.store
        try:
            await store.ping()
            applied, latest = await store.schema_version()
        except CommprefError:
            raise
        except Exception as exc:
            raise Unavailable(f"database unavailable: {exc}") from exc
        if applied != latest:
            raise Unavailable(f"database schema is at version {applied}, expected {latest}")
        return 200, _encode(wire.Health(status="ready"))

    async def _metrics(self) -> tuple[int, bytes]:
        """Prometheus text format (`http.metrics`); 404 when metrics are off."""
        if self.metrics is None:
            raise not_found("GET", "/metrics")
        return 200, self.metrics.render()

    async def _openapi_json(self) -> tuple[int, bytes]:
        if self._openapi is None:
            self._openapi = _encode(openapi.document(self.operations))
        return 200, self._openapi
