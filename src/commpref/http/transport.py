"""Reading a request from the ASGI channel: bodies with a cap and a deadline, raw bodies
piece by piece, and the limits every HTTP surface shares. The lowest module of `http/`:
it imports nothing of the surfaces, so every one of them can use it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.types import Receive

from commpref.errors import RequestTimeout

MAX_URI_BYTES = 16 * 1024
# Past the limit the rest of a body is read and dropped (up to this much) so the client sees
# the 413 instead of a connection reset.
DRAIN_BYTES = 64 * 1024 * 1024


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


async def read_chunks(receive: Receive, idle_s: float | None = None) -> AsyncIterator[bytes]:
    """The raw request body, piece by piece as it arrives (constant memory). A client that
    sends nothing for `idle_s` seconds gets a 408."""
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
