"""One real server per backend for the e2e tests of a module; each test makes its own portal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS
from tests.support.console import Operators, Staff
from tests.support.server import Portal, Server, started_server


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with started_server(request.param, tmp_path_factory.mktemp("server")) as srv:
        yield srv


@pytest.fixture(params=BACKENDS)
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server of its own, for tests that kill or restart it."""
    with started_server(request.param, tmp_path) as srv:
        yield srv


@pytest.fixture
def portal(server: Server) -> Portal:
    """A fresh portal (no gdpr, no brands) with an all-scopes token."""
    return server.new_portal()


@pytest.fixture(scope="module")
def staff(server: Server) -> Iterator[Staff]:
    """Signed-in console users of every portal, one per role, shared by a module's tests."""
    shared = Staff(server)
    yield shared
    shared.close()


@pytest.fixture
def signed_in(server: Server) -> Iterator[Operators]:
    """Signs console users of the test's own in; their clients are closed after it."""
    made = Operators(server)
    yield made
    made.close()
