"""A real `commpref serve` process for end-to-end tests, plus helpers to set up portals.

Portals and tokens are created through the same admin services the CLI uses, on the same
database, so tests stay fast; `cli()` runs the real console script where a test needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from commpref.domain.scopes import ALL_SCOPES
from commpref.services import admin
from commpref.settings import Settings
from commpref.storage import open_store

# One TLS context for every client: httpx loads the CA bundle for each client it makes
# otherwise (tens of milliseconds), thousands of times a run, for servers spoken to over HTTP.
TLS = ssl.create_default_context()

COMMPREF = str(Path(sys.executable).with_name("commpref"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _admin(database_url: str, fn: Any, **kwargs: Any) -> Any:
    store = open_store(Settings(database_url=database_url))
    await store.open()
    try:
        return await fn(store=store, **kwargs)
    finally:
        await store.close()


@dataclass
class Portal:
    id: int
    token: str
    definitions: list[int] = field(default_factory=list)


@dataclass
class Server:
    database_url: str
    log_path: Path
    port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, **self.env}
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                COMMPREF,
                "serve",
                "--port",
                str(self.port),
                "--database-url",
                self.database_url,
                *self.extra_args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                self.proc = None
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1, verify=TLS).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become ready")

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.proc = None
        self.log.close()

    def restart(self, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real `commpref` console script against this server's database."""
        return subprocess.run(
            [COMMPREF, *args, "--database-url", self.database_url],
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def admin(self, fn: Any, **kwargs: Any) -> Any:
        """Call an admin service function on this server's database."""
        return asyncio.run(_admin(self.database_url, fn, **kwargs))

    def new_portal(
        self,
        *,
        scopes: frozenset[str] = ALL_SCOPES,
        gdpr: bool = False,
        brands: bool = False,
        name: str = "Test portal",
        **flags: Any,
    ) -> Portal:
        portal = self.admin(admin.create_portal, name=name, gdpr=gdpr, brands=brands)
        if flags:
            self.admin(admin.update_portal, portal_id=portal.id, **flags)
        _, secret = self.admin(admin.create_token, portal_id=portal.id, scopes=scopes)
        ctx = self.admin(lambda store: store.portal_context(portal.id))
        return Portal(portal.id, secret, [d.id for d in ctx.definitions])

    def token(self, portal_id: int, scopes: frozenset[str], **kwargs: Any) -> str:
        _, secret = self.admin(admin.create_token, portal_id=portal_id, scopes=scopes, **kwargs)
        return str(secret)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, verify=TLS)


@contextlib.contextmanager
def started_server(
    backend: str, directory: Path, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """A server on a database of its own (a SQLite file in `directory`, or a fresh
    PostgreSQL database), stopped at the end."""
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{directory}/commpref.db"
        else:
            from tests.conftest import POSTGRES_URL
            from tests.support.postgres import fresh_database

            assert POSTGRES_URL is not None
            url = stack.enter_context(fresh_database(POSTGRES_URL))
        srv = Server(url, directory / "server.log", env=env or {})
        srv.start()
        stack.callback(srv.stop)  # before the database goes
        yield srv


def until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    """Wait for a condition (synchronisation; the tests assert no durations)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
