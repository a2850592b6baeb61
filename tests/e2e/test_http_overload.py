"""Overload and slow clients, on every backend.

One server with a concurrency limit of 1 and a queue of 1. A write is held inside the
database by a lock the test owns, so which request holds the slot, which one waits and which
one is refused is decided by the test, not by timing. Slow clients are raw sockets.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import BACKENDS
from tests.e2e.http_helpers import is_uuid4, url
from tests.support.server import Portal, Server, started_server

ENV = {
    "COMMPREF_MAX_CONCURRENT_REQUESTS": "1",
    "COMMPREF_MAX_QUEUED_REQUESTS": "1",
    "COMMPREF_QUEUE_WAIT_MS": "60000",
    "COMMPREF_BODY_TIMEOUT_S": "2",
    "COMMPREF_HEADER_TIMEOUT_S": "2",
    "COMMPREF_MAX_HEADER_BYTES": "8192",
}
A = url("v4", "definitions")

# It measures what a server does when saturated: other tests running beside it would
# saturate it too (`make test` runs it after the parallel workers).
pytestmark = pytest.mark.alone


@pytest.fixture(scope="module", params=BACKENDS)
def tight(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("overload")
    with started_server(request.param, tmp, env=ENV) as srv:
        yield srv


@contextmanager
def writes_blocked(server: Server) -> Iterator[None]:
    """Hold the database so that any status write waits (reads of tokens still work)."""
    if server.database_url.startswith("sqlite"):
        con = sqlite3.connect(server.database_url.removeprefix("sqlite:///"), isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            con.execute("ROLLBACK")
            con.close()
        return
    release = threading.Event()
    locked = threading.Event()

    async def hold() -> None:
        con = await asyncpg.connect(server.database_url)
        try:
            async with con.transaction():
                await con.execute("LOCK TABLE subscribers IN ACCESS EXCLUSIVE MODE")
                locked.set()
                await asyncio.to_thread(release.wait, 60)
        finally:
            await con.close()

    thread = threading.Thread(target=asyncio.run, args=(hold(),))
    thread.start()
    assert locked.wait(30)
    try:
        yield
    finally:
        release.set()
        thread.join(30)


def gauge(server: Server, state: str) -> float:
    text = httpx.get(server.base_url + "/metrics", timeout=10).text
    found = re.search(rf'commpref_http_requests_in_progress{{state="{state}"}} ([0-9.]+)', text)
    assert found, text[:500]
    return float(found.group(1))


def wait_for(check: Callable[[], bool]) -> None:
    """Poll a condition the server will reach (bounded: fails after 30 s)."""
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, "condition never reached"
        time.sleep(0.02)


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", fn()))
    thread.start()
    return thread, box


def assert_busy(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/json"
    cid = r.headers["x-hubspot-correlation-id"]
    assert is_uuid4(cid)
    assert r.json() == {
        "status": "error",
        "message": "The server is busy. Retry after a short wait.",
        "correlationId": cid,
        "category": "SERVICE_UNAVAILABLE",
    }


def test_beyond_the_limit_and_the_queue_a_fast_503(tight: Server) -> None:
    portal = tight.new_portal()
    write = url("v4", "statuses/held@example.com")
    body = {
        "channel": "EMAIL",
        "statusState": "SUBSCRIBED",
        "subscriptionId": portal.definitions[0],
    }
    with tight.client(portal.token) as c1, tight.client(portal.token) as c2:
        with writes_blocked(tight):
            held, first = in_thread(lambda: c1.post(write, json=body))
            wait_for(lambda: gauge(tight, "active") == 1)
            queued, second = in_thread(lambda: c2.get(A))
            wait_for(lambda: gauge(tight, "queued") == 1)
            with tight.client(portal.token) as c3:
                assert_busy(c3.get(A))  # slot taken, queue full: refused at once
                assert httpx.get(tight.base_url + "/readyz").status_code == 200
        held.join(60)
        queued.join(60)
    assert first["r"].status_code == 200, first["r"].text
    assert second["r"].status_code == 200, second["r"].text
    metrics = httpx.get(tight.base_url + "/metrics").text
    assert re.search(r"commpref_overload_refused_total [1-9]", metrics)


def raw(server: Server) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    return s


def read_response(s: socket.socket) -> tuple[int, dict[str, str], bytes, bool]:
    """Status, headers, body, and whether the server then closed the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, f"closed without an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        chunk = s.recv(65536)
        assert chunk
        body += chunk
    closed = s.recv(1) == b""
    return status, headers, body, closed


def assert_envelope(status: int, headers: dict[str, str], body: bytes, message: str) -> None:
    assert headers["content-type"] == "application/json"
    payload = json.loads(body)
    assert payload == {
        "status": "error",
        "message": message,
        "correlationId": headers["x-hubspot-correlation-id"],
        "category": "VALIDATION_ERROR",
    }, status


def slow_body(server: Server, portal: Portal) -> socket.socket:
    s = raw(server)
    s.sendall(
        (
            f"POST {url('v4', 'statuses/batch/read')}?channel=EMAIL HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAuthorization: Bearer {portal.token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            '{"inputs": ['
        ).encode()
    )
    return s


def test_slow_bodies_time_out_without_holding_slots(tight: Server) -> None:
    portal = tight.new_portal()
    sockets = []
    for _ in range(3):  # more than the limit plus the queue
        sockets.append(slow_body(tight, portal))
        wait_for(lambda: gauge(tight, "active") == 0 and gauge(tight, "queued") == 0)
    with tight.client(portal.token) as http:
        assert http.get(A).status_code == 200  # served while three bodies trickle
    for s in sockets:
        with s:
            status, headers, body, closed = read_response(s)
        assert status == 408
        assert_envelope(status, headers, body, "The request body was not received within 2 seconds")
        assert closed


def test_slow_or_endless_headers_are_cut_off(tight: Server) -> None:
    with raw(tight) as idle:  # connects and says nothing
        status, headers, body, closed = read_response(idle)
    assert (status, closed) == (408, True)
    assert_envelope(status, headers, body, "Request headers were not received in time")

    with raw(tight) as trickle:
        trickle.sendall(b"GET /communication-preferences/v4/definitions HTTP/1.1\r\nHost: x\r\n")
        status, headers, body, closed = read_response(trickle)
    assert (status, closed) == (408, True)

    with raw(tight) as bloated:
        bloated.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        bloated.sendall(b"".join(b"X-Filler-%d: %s\r\n" % (i, b"a" * 100) for i in range(100)))
        status, headers, body, closed = read_response(bloated)
    assert (status, closed) == (431, True)
    assert_envelope(
        status, headers, body, "Request headers are larger than the limit of 8192 bytes"
    )
    assert httpx.get(tight.base_url + "/healthz").status_code == 200
