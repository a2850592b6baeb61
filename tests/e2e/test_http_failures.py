"""Failures under a running server: unexpected errors answer 500 `internal error` and are
logged with the correlation id; readiness turns 503 when the schema is not current.

The database is damaged through SQLite directly, so these run on SQLite only; the mapping
they check is the same for every backend.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.http_helpers import assert_error, url
from tests.support.server import Server


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(f"sqlite:///{tmp_path}/failures.db", tmp_path / "server.log")
    srv.start()
    yield srv
    srv.stop()


def sql(server: Server, statement: str) -> None:
    path = server.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute(statement)


def test_unexpected_errors_are_500_and_logged(own_server: Server) -> None:
    portal = own_server.new_portal()
    sql(own_server, "ALTER TABLE subscribers RENAME TO subscribers_moved")
    with own_server.client(portal.token) as c:
        r = c.get(url("v4", "statuses/x@example.com"), params={"channel": "EMAIL"})
        assert_error(r, 500, "internal error", "INTERNAL_ERROR")
        r = c.post(
            url("v3", "subscribe"),
            json={"emailAddress": "x@example.com", "subscriptionId": str(portal.definitions[0])},
        )
        assert_error(r, 500, "internal error", "INTERNAL_ERROR", request_id=True)
    cid = r.headers["x-request-id"]
    lines = [json.loads(x) for x in own_server.log_path.read_text().splitlines() if cid in x]
    assert [x["level"] for x in lines] == ["error", "info"]
    assert "subscribers" in lines[0]["error"] and "Traceback" in lines[0]["traceback"]
    assert lines[1]["status"] == 500

    sql(own_server, "ALTER TABLE subscribers_moved RENAME TO subscribers")
    with own_server.client(portal.token) as c:
        assert (
            c.get(url("v4", "statuses/x@example.com"), params={"channel": "EMAIL"}).status_code
            == 200
        )


def test_readiness_needs_the_latest_schema(own_server: Server) -> None:
    with own_server.client() as anonymous:
        assert anonymous.get("/readyz").status_code == 200
        sql(own_server, "DELETE FROM schema_migrations")
        r = anonymous.get("/readyz")
        assert r.status_code == 503
        assert r.json()["category"] == "SERVICE_UNAVAILABLE"
        assert r.json()["message"].startswith("database schema is at version 0")
        assert anonymous.get("/healthz").status_code == 200
