"""One real server per backend for the e2e tests of a module; each test makes its own portal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, POSTGRES_URL
from tests.support.server import Portal, Server


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("server")
    if request.param == "sqlite":
        srv = Server(f"sqlite:///{tmp}/commpref.db", tmp / "server.log")
        srv.start()
        yield srv
        srv.stop()
        return
    from tests.support.postgres import fresh_database

    assert POSTGRES_URL is not None
    with fresh_database(POSTGRES_URL) as url:
        srv = Server(url, tmp / "server.log")
        srv.start()
        yield srv
        srv.stop()


@pytest.fixture
def portal(server: Server) -> Portal:
    """A fresh portal (no gdpr, no brands) with an all-scopes token."""
    return server.new_portal()
