"""A fresh PostgreSQL database per test, copied from a migrated template.

The template is built once (named after a hash of the migrations, so a changed migration gets
a new one) under an advisory lock on the maintenance database, so parallel test processes
never build it twice or copy it half-built. Each test database is dropped afterwards, its
leftover connections (a server process, a pool the test leaked) terminated first.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import threading
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from commpref.storage.migrations import MIGRATIONS
from commpref.storage.postgres.connection import apply_migrations

T = TypeVar("T")

_TEMPLATE_LOCK = (0x636F6D6D, 0x746D706C)  # "comm", "tmpl"
_counter = itertools.count()
_template_ready: set[str] = set()  # templates this process has seen complete


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def template_name() -> str:
    digest = hashlib.sha256()
    for m in MIGRATIONS:
        digest.update(f"{m.version}\0{m.name}\0".encode())
        digest.update("\0".join(m.render("postgresql")).encode())
    return f"commpref_tmpl_{digest.hexdigest()[:12]}"


async def _ensure_template(base_url: str, name: str) -> None:
    admin = await asyncpg.connect(base_url)
    try:
        await admin.execute("SELECT pg_advisory_lock($1, $2)", *_TEMPLATE_LOCK)
        try:
            ready = await admin.fetchval(
                "SELECT datistemplate FROM pg_database WHERE datname = $1", name
            )
            if ready:
                return
            if ready is not None:  # a build that died half-way
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
            con = await asyncpg.connect(with_database(base_url, name))
            try:
                await apply_migrations(con)
            finally:
                await con.close()
            # Marked only when complete: the flag is what "ready" means above.
            await admin.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true')
        finally:
            await admin.execute("SELECT pg_advisory_unlock($1, $2)", *_TEMPLATE_LOCK)
    finally:
        await admin.close()


async def _create(base_url: str, name: str, template: str | None) -> None:
    admin = await asyncpg.connect(base_url)
    try:
        source = f' TEMPLATE "{template}"' if template else " TEMPLATE template0"
        await admin.execute(f'CREATE DATABASE "{name}"{source}')
    finally:
        await admin.close()


async def _drop(base_url: str, name: str) -> None:
    admin = await asyncpg.connect(base_url)
    try:
        # FORCE terminates leftover connections first (PostgreSQL 13+).
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextmanager
def fresh_database(base_url: str, *, migrated: bool = True) -> Iterator[str]:
    """A URL to a new database, dropped on exit: migrated to the latest version, or (with
    `migrated=False`) empty, for tests of migrations themselves."""
    template = None
    if migrated:
        template = template_name()
        if template not in _template_ready:
            _run(_ensure_template(base_url, template))
            _template_ready.add(template)
    name = f"commpref_test_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:8]}"
    _run(_create(base_url, name, template))
    try:
        yield with_database(base_url, name)
    finally:
        _run(_drop(base_url, name))


async def wait_for(
    admin: Any, query: str, *args: object, attempts: int = 500, pause: float = 0.01
) -> None:
    """Poll until `query` returns a true value (synchronisation, not a timing assertion)."""
    for _ in range(attempts):
        if await admin.fetchval(query, *args):
            return
        await asyncio.sleep(pause)
    raise AssertionError(f"never true: {query}")


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")
