"""uvicorn's httptools protocol with the two guards it lacks against slow or bloated headers.

uvicorn arms no timer while a request's head is arriving (only between requests, for
keep-alive), and with httptools it bounds neither the number nor the size of header lines.
A client trickling its headers (slowloris) would hold its connection, and the memory of
everything it sent, forever. This protocol closes a connection whose request head is not
complete `header_timeout_s` after its first byte (or after the connection opened), and one
whose head grows past `max_header_bytes`; either way with a HubSpot-style JSON error and
`Connection: close`. Slow bodies are the dispatcher's business (`asgi.read_body`, 408).

`configure(settings)` sets the limits for the process (`commpref serve`, or each worker).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, cast

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from commpref.settings import Settings

_encode = msgspec.json.Encoder().encode
_CATEGORY = "VALIDATION_ERROR"
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def error_response(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 response carrying HubSpot's error envelope; the connection closes."""
    cid = str(uuid.uuid4())
    body = _encode(
        {"status": "error", "message": message, "correlationId": cid, "category": _CATEGORY}
    )
    head = [
        b"HTTP/1.1 %d %s" % (status, _REASONS[status]),
        b"content-type: application/json",
        b"content-length: %d" % len(body),
        b"x-hubspot-correlation-id: " + cid.encode(),
        b"x-request-id: " + cid.encode(),
        b"connection: close",
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class GuardedProtocol(HttpToolsProtocol):
    header_timeout_s: float = 10.0
    max_header_bytes: int = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(cast(asyncio.Transport, TurnWrites(transport, self.loop)))
        self._arm()  # a connection that never sends a byte is a slow head too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        if self._grow(len(url)):
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._grow(len(name) + len(value) + 4):
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        if not self._refused:
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    # --- the guards ----------------------------------------------------------------------

    def _grow(self, n: int) -> bool:
        if self._refused:
            return False
        self._head_bytes += n
        if self._head_bytes > self.max_header_bytes:
            limit = self.max_header_bytes
            self._refuse(431, f"Request headers are larger than the limit of {limit} bytes")
            return False
        return True

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm()  # a pipelined head behind a running request: judge it later
            return
        self._refuse(408, "Request headers were not received in time")

    def _refuse(self, status: int, message: str) -> None:
        self._refused = True
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(error_response(status, message))
            self.transport.close()


class TurnWrites:
    """A transport whose writes within one event-loop turn go out as one `send()`.

    uvicorn writes a response's head and body separately: two sends, each a system call
    that over loopback also runs the receiving side's TCP work in the sender's context, a
    large share of a small GET's CPU. Joining them halves that work. Writes are flushed at
    the end of the turn (`call_soon`), so a streamed body still flows chunk by chunk.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def configure(settings: Settings) -> None:
    """Set this process's limits from the settings."""
    GuardedProtocol.header_timeout_s = settings.header_timeout_s
    GuardedProtocol.max_header_bytes = settings.max_header_bytes
