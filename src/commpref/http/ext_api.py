"""The dispatcher of `/commpref/v1/...` (docs/wire-contract.md §11): commpref's own operations.

Same order of checks as HubSpot's paths (§2.5): route (on the raw path, `http.routing`) →
authentication → rate-limit hook → scope (the operation's own, or `commpref.admin`) →
validation → the handler. Same error envelope (`http.errors`), same correlation id in
`X-HubSpot-Correlation-Id` / `x-request-id` and in the ledger. `http.asgi.Api` hands every
path under `/commpref/` to `ExtApi`; the operations themselves are listed in `http.ext_ops`.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from starlette.types import Receive, Scope, Send

from commpref.domain import scopes
from commpref.domain.model import Actor
from commpref.errors import CommprefError, MissingScopes, PayloadTooLarge, UriTooLong
from commpref.http import logs
from commpref.http.errors import internal_error, render_error
from commpref.http.ext import PREFIX, VERSION, ExtOperation, ExtRequest, Stream, decode_body
from commpref.http.ext import parse_params as parse_ext_params
from commpref.http.ext_ops import EXT_OPERATIONS
from commpref.http.overload import Gate
from commpref.http.params import check_content_type, credential, query_dict
from commpref.http.request import Runtime
from commpref.http.routing import Router
from commpref.services import auth
from commpref.services.context import Call

EXT_PATHS = "/commpref/"  # every path under it is answered here
EXT_SOURCE = "commpref API"  # `source` of changes made through /commpref/v1 (erasures)
_WANTED = frozenset({b"authorization", b"private-app-legacy", b"private-app", b"content-type"})
_encode = msgspec.json.Encoder().encode
_JSON = b"application/json"


class ExtApi:
    """Routes, checks and answers `/commpref/v1/...`; called by `http.asgi.Api`."""

    def __init__(
        self,
        runtime: Runtime,
        operations: tuple[ExtOperation, ...] = EXT_OPERATIONS,
        *,
        gate: Gate | None = None,
    ) -> None:
        self.runtime = runtime
        self.operations = operations
        self.router = Router(((o.method, o.path, (VERSION,), o) for o in operations), prefix=PREFIX)
        self.gate = gate  # the API's concurrency gate (`http.overload.Gate`), if any

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, *, path: str, cid: str, started: int
    ) -> int:
        """Answer one request; returns the HTTP status sent (for metrics)."""
        from commpref.http.asgi import MAX_URI_BYTES, ClientDisconnected

        t0 = time.perf_counter()
        method: str = scope["method"]
        extra: list[tuple[bytes, bytes]] = []
        held = False
        payload: Any = None
        label = "commpref_unmatched"
        try:
            if len(path) + len(scope.get("query_string", b"")) > MAX_URI_BYTES:
                raise UriTooLong("Request URI too long")
            operation, _, param = self.router.resolve(method, path)
            label = f"commpref_{operation.name}"
            if self.gate is not None and not operation.upload:
                await self.gate.acquire()
                held = True
            status, payload = await self._operation(
                scope, receive, operation, param, cid, started, extra
            )
            body = b"" if isinstance(payload, Stream) else _encode(payload)
        except ClientDisconnected:
            if held and self.gate is not None:
                self.gate.release()
            return 499
        except CommprefError as exc:
            status, body, headers = render_error(exc, cid)
            extra.extend(headers)
        except Exception as exc:
            logs.error("unhandled error", cid, exc)
            status, body = internal_error(cid)
        if held and self.gate is not None:  # a download is not held against the limit
            self.gate.release()
        cid_bytes = cid.encode()
        common = [(b"x-hubspot-correlation-id", cid_bytes), (b"x-request-id", cid_bytes), *extra]
        if isinstance(payload, Stream) and status < 300:
            await self._stream(send, status, payload, common, cid)
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", _JSON),
                        (b"content-length", str(len(body)).encode()),
                        *common,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        metrics = self.runtime.metrics
        if metrics is not None:
            metrics.observe(label, status, time.perf_counter() - t0)
        if self.runtime.settings.access_log:
            logs.access(method, path, status, (time.perf_counter() - t0) * 1000, cid)
        return status

    async def _stream(
        self,
        send: Send,
        status: int,
        stream: Stream,
        headers: list[tuple[bytes, bytes]],
        cid: str,
    ) -> None:
        head = [(b"content-type", stream.media_type.encode()), *headers]
        if stream.filename:
            disposition = f'attachment; filename="{stream.filename}"'
            head.append((b"content-disposition", disposition.encode()))
        await send({"type": "http.response.start", "status": status, "headers": head})
        try:
            async for chunk in stream.chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except Exception as exc:
            # Too late for an error status: leave the response unfinished, so the client
            # sees a truncated transfer rather than a short file that looks complete.
            logs.error("stream failed", cid, exc)
            return
        await send({"type": "http.response.body", "body": b""})

    async def _operation(
        self,
        scope: Scope,
        receive: Receive,
        operation: ExtOperation,
        param: str | None,
        cid: str,
        started: int,
        extra: list[tuple[bytes, bytes]],
    ) -> tuple[int, Any]:
        from commpref.http.asgi import read_body

        rt = self.runtime
        settings = rt.settings
        headers = {k: v.decode("latin-1") for k, v in scope["headers"] if k in _WANTED}
        raw_query = query_dict(scope.get("query_string", b""))
        secret = credential(
            headers.get(b"authorization"),
            headers.get(b"private-app-legacy"),
            headers.get(b"private-app"),
            raw_query.get("hapikey") if settings.hapikey_enabled else None,
        )
        token, ctx = await auth.authenticate(store=rt.store, secret=secret, now=started)
        if rt.rate_limiter is not None:
            extra.extend(await rt.rate_limiter.check(token=token, ctx=ctx, now=started))
        if not scopes.allows_extension(operation.scope, token.scopes):
            raise MissingScopes(sorted({operation.scope, scopes.ADMIN}))

        body: Any = None
        content_type = headers.get(b"content-type")
        if operation.body is not None:
            raw, too_large = await read_body(
                receive, settings.max_body_bytes, settings.body_timeout_s
            )
            if raw or too_large:
                check_content_type(content_type)
            if too_large:
                limit = settings.max_body_bytes
                raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
        query = parse_ext_params(operation.query, raw_query)
        if operation.body is not None:
            body = decode_body(raw, operation.body)
        call = Call(ctx, Actor("token", str(token.id)), EXT_SOURCE, cid, started)
        request = ExtRequest(rt, operation, call, token, param, query, body, receive, content_type)
        return await operation.handler(request)
