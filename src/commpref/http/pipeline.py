"""The one request pipeline: every surface's request passes the same steps, in the order of
docs/wire-contract.md §2.5.

route → credential → authenticate → rate limit → scopes → body limits → parse (content type,
query, body, batch cap) → handler → answer. Public operations (the service endpoints, the
preference pages) skip the credential steps. Around the steps: the URI limit, the
concurrency gate (`http.overload`), one fresh correlation id per request (UUID4, in the
surface's correlation headers and the `Call`'s, so the ledger's), the access log and the
metrics. An error is answered the surface's way (`Surface.render_error`): HubSpot's
envelope for the JSON surfaces (`http.errors`), an error page for the pages.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec
from starlette.types import Receive, Scope, Send

from commpref.domain.model import Actor
from commpref.errors import CommprefError, PayloadTooLarge, UriTooLong, ValidationError
from commpref.http import logs
from commpref.http.operation import Operation, Raw, Reply, Request, Stream, Surface
from commpref.http.overload import Gate
from commpref.http.params import check_content_type, credential, parse_query, query_dict
from commpref.http.runtime import Runtime
from commpref.http.transport import MAX_URI_BYTES, ClientDisconnected, read_body
from commpref.services import auth
from commpref.services.context import Call, now_ms

_WANTED_HEADERS = frozenset(
    {b"authorization", b"private-app-legacy", b"private-app", b"content-type"}
)
_encode = msgspec.json.Encoder().encode
_JSON = "application/json"
_EMPTY = {"type": "http.response.body", "body": b""}


class Pipeline:
    """Answers the requests of one surface; `gate` is shared by every surface of a process."""

    def __init__(self, runtime: Runtime, surface: Surface, gate: Gate) -> None:
        self.runtime = runtime
        self.surface = surface
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        t0 = time.perf_counter()
        started = now_ms()
        cid = str(uuid.uuid4())
        method: str = scope["method"]
        extra: list[tuple[bytes, bytes]] = []
        request_id = False
        label = self.surface.unmatched_label
        held = [False]  # a slot of the gate, given back while a body is read
        payload: Any = None
        try:
            if len(path) + len(scope.get("query_string", b"")) > MAX_URI_BYTES:
                raise UriTooLong("Request URI too long")
            operation, version, param = self.surface.router.resolve(method, path)
            request_id, label = operation.request_id, operation.label
            if operation.gated:
                await self.gate.acquire()
                held[0] = True
            status, payload = await self._run(
                scope, receive, operation, version, param, cid, started, extra, held
            )
            if isinstance(payload, Stream):
                media_type, body = payload.media_type, b""
            elif isinstance(payload, Raw):
                media_type, body = payload.media_type, payload.body
            else:
                media_type, body = _JSON, _encode(payload)
        except ClientDisconnected:
            if held[0]:
                self.gate.release()
            return
        except Exception as exc:
            if not isinstance(exc, CommprefError):
                logs.error("unhandled error", cid, exc)
            status, media_type, body, headers = self.surface.render_error(
                exc, cid, request_id, scope
            )
            extra.extend(headers)
        if held[0]:  # a download is not held against the limit while it streams
            self.gate.release()
        elapsed = time.perf_counter() - t0
        metrics = self.runtime.metrics
        if metrics is not None:
            metrics.observe(label, status, elapsed)
        if self.runtime.settings.access_log:
            # Logged before sending, so the line exists once the client has the answer.
            logs.access(method, path, status, elapsed * 1000, cid)
        cid_bytes = cid.encode()
        head = [
            (b"content-type", media_type.encode()),
            *[(name, cid_bytes) for name in self.surface.correlation_headers],
            *extra,
        ]
        if isinstance(payload, Stream) and status < 300:
            await _stream(send, status, payload, head, cid)
            return
        head.insert(1, (b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send(_EMPTY if method == "HEAD" else {"type": "http.response.body", "body": body})

    async def _run(
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
        headers = {k: v.decode("latin-1") for k, v in scope["headers"] if k in _WANTED_HEADERS}
        raw_query = query_dict(scope.get("query_string", b""))
        call = None
        if operation.authorize is not None:
            secret = credential(
                headers.get(b"authorization"),
                headers.get(b"private-app-legacy"),
                headers.get(b"private-app"),
                raw_query.get("hapikey") if settings.hapikey_enabled else None,
            )
            token, ctx = await auth.authenticate(store=rt.store, secret=secret, now=started)
            if rt.token_uses is not None:
                rt.token_uses.note(token.id, started)
            if rt.rate_limiter is not None:
                extra.extend(await rt.rate_limiter.check(token=token, ctx=ctx, now=started))
            operation.authorize(token, ctx)
            actor = Actor("token", str(token.id))
            assert self.surface.source is not None, "a surface with authenticated operations"
            call = Call(ctx, actor, self.surface.source(token), cid, started)

        raw_body = b""
        content_type = headers.get(b"content-type")
        if operation.has_body:
            # A slow body must not hold a slot: give it back while the body arrives.
            if held[0]:
                self.gate.release()
                held[0] = False
            raw_body, too_large = await read_body(
                receive, settings.max_body_bytes, settings.body_timeout_s
            )
            if operation.gated:
                await self.gate.acquire()
                held[0] = True
            if (raw_body or too_large) and not operation.raw_body:
                check_content_type(content_type)
            if too_large:
                limit = settings.max_body_bytes
                raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
        query = parse_query(operation.query, raw_query)
        body: Any = None
        if operation.raw_body:
            body = raw_body
        elif operation.has_body:
            assert self.surface.decode_body is not None, "a surface with JSON bodies"
            body = self.surface.decode_body(raw_body, operation)
            if operation.batch:
                inputs = body if operation.bare_array else body["inputs"]
                if len(inputs) > settings.batch_max_inputs:
                    message = (
                        f"Too many inputs: {len(inputs)}. "
                        f"The maximum is {settings.batch_max_inputs}"
                    )
                    raise ValidationError(message, errors=[{"message": message, "in": "inputs"}])
        request = Request(
            rt, scope, cid, started, operation, version, call, param, query, body, receive,
            content_type, extra,
        )  # fmt: skip
        return await operation.handler(request)


async def _stream(
    send: Send, status: int, stream: Stream, head: list[tuple[bytes, bytes]], cid: str
) -> None:
    if stream.filename:
        disposition = f'attachment; filename="{stream.filename}"'
        head.append((b"content-disposition", disposition.encode()))
    await send({"type": "http.response.start", "status": status, "headers": head})
    try:
        async for chunk in stream.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except Exception as exc:
        # Too late for an error status: leave the response unfinished, so the client sees a
        # truncated transfer rather than a short file that looks complete.
        logs.error("stream failed", cid, exc)
        return
    await send({"type": "http.response.body", "body": b""})
