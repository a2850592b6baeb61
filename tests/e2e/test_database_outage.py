"""PostgreSQL going away under a running server: requests get a HubSpot-style 503,
`/readyz` fails, and the server recovers by itself when the database returns."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import POSTGRES_URL
from tests.support.proxy import TcpProxy
from tests.support.server import Server

pytestmark = pytest.mark.skipif(
    POSTGRES_URL is None, reason="PostgreSQL only: set COMMPREF_TEST_POSTGRES_URL"
)

READ = "/communication-preferences/v4/statuses/a@example.com?channel=EMAIL"


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[Server, TcpProxy, str]]:
    from tests.support.postgres import fresh_database

    assert POSTGRES_URL is not None
    with fresh_database(POSTGRES_URL) as url:
        parts = urlsplit(url)
        proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
        proxy.start()
        netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else None
        via_proxy = urlunsplit(parts._replace(netloc=netloc or f"127.0.0.1:{proxy.port}"))
        server = Server(via_proxy, tmp_path / "server.log")
        server.start()
        try:
            yield server, proxy, url
        finally:
            proxy.cut()
            server.stop(kill=True)


def _until(predicate: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached")


def test_outage_answers_503_and_recovers(proxied: tuple[Server, TcpProxy, str]) -> None:
    server, proxy, _ = proxied
    portal = server.new_portal()
    with server.client(portal.token) as client:
        assert client.get(READ).status_code == 200

        proxy.cut()
        outage = client.get(READ)
        assert outage.status_code == 503
        body = outage.json()
        assert body["status"] == "error"
        assert body["category"] == "SERVICE_UNAVAILABLE"
        assert body["correlationId"] == outage.headers["x-hubspot-correlation-id"]
        write = client.post(
            "/communication-preferences/v4/statuses/batch/unsubscribe-all",
            params={"channel": "EMAIL"},
            json={"inputs": ["b@example.com"]},
        )
        assert write.status_code == 503
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200  # the process itself is fine

        proxy.start()  # the database returns on the same address
        _until(lambda: client.get("/readyz").status_code == 200)
        assert client.get(READ).status_code == 200
        # The write refused during the outage was not half-applied.
        wide = client.get(
            "/communication-preferences/v4/statuses/b@example.com/unsubscribe-all",
            params={"channel": "EMAIL"},
        )
        assert wide.json()["results"] == []


def test_serve_exits_with_one_line_when_postgres_is_down(tmp_path: Path) -> None:
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.start()
    port = proxy.port
    proxy.cut()  # nothing listens on this port now
    server = Server(f"postgresql://postgres@127.0.0.1:{port}/test", tmp_path / "server.log")
    with pytest.raises(RuntimeError):
        server.start()
    log = (tmp_path / "server.log").read_text().strip().splitlines()
    assert len(log) == 1, log
    assert "Traceback" not in log[0]
    assert str(port) in log[0] or "unavailable" in log[0].lower()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url + "/healthz", timeout=1)
