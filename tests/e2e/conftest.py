"""One real server per backend for the e2e tests of a module; each test makes its own portal.

A module that sends email overrides `server` with `mailing_server`: a server that mails
through `smtp`, a real SMTP server (tests/support/smtp.py) whose `messages` the tests read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS
from tests.support.console import Operators, Staff
from tests.support.server import Portal, Server, started_server
from tests.support.smtp import SmtpServer, smtp_server


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with started_server(request.param, tmp_path_factory.mktemp("server")) as srv:
        yield srv


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as s:
        yield s


@pytest.fixture(scope="module", params=BACKENDS)
def mailing_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[Server]:
    """A module's server that mails through `smtp`; its mail job polls every 50 ms, so an
    email arrives while the test waits for it."""
    env = {"COMMPREF_SMTP_URL": smtp.url(), "COMMPREF_JOB_POLL_MS": "50"}
    with started_server(request.param, tmp_path_factory.mktemp("server"), env) as srv:
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
