"""What every `commpref` command shares: the `--database-url` option, building `Settings`,
running a coroutine against an opened store, and failing with one line.

Every command takes `--database-url` (or COMMPREF_DATABASE_URL) and prints only its value on
stdout. Domain errors and unreachable databases print one line on stderr and exit 1.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import click

from commpref.errors import CommprefError
from commpref.settings import Settings
from commpref.storage import open_store
from commpref.storage.sqlite.connection import database_path
from commpref.storage.store import Store

T = TypeVar("T")

database_url_option = click.option(
    "--database-url",
    default=None,
    metavar="URL",
    help="sqlite:///PATH or postgresql://… (default: COMMPREF_DATABASE_URL, else "
    "sqlite:///data/commpref.db, relative to the working directory).",
)


def fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def redact(url: str) -> str:
    return re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:***@", url)


def run(settings: Settings, fn: Callable[[Store], Awaitable[T]], *, create: bool = False) -> T:
    """Open the store (applying migrations), run `fn`, close; one-line errors, exit 1. Only
    `create` (migrate, serve, demo) may create an SQLite file: elsewhere a missing one is a
    mistyped path or the wrong directory, never a new empty database."""
    if not create and settings.database_url.startswith("sqlite:"):
        try:
            path = database_path(settings.database_url)
        except ValueError as exc:
            fail(str(exc))
        if not path.exists():
            fail(
                f"no database at {path}: create it with `commpref migrate`, or point "
                "--database-url (COMMPREF_DATABASE_URL) at the one you mean"
            )

    async def go() -> T:
        store = open_store(settings)
        try:
            await store.open()
        except CommprefError:
            raise
        except Exception as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            fail(f"cannot open database {redact(settings.database_url)}: {detail}")
        try:
            return await fn(store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except CommprefError as exc:
        fail(exc.message)
    except ValueError as exc:  # an unsupported database URL
        fail(str(exc))


def build_settings(database_url: str | None, **overrides: Any) -> Settings:
    try:
        return Settings.from_env(database_url=database_url, **overrides)
    except ValueError as exc:
        fail(f"invalid setting: {exc}")
