"""The `commpref` command: serve, migrate, and manage portals, definitions and tokens.

Every command takes `--database-url` (or COMMPREF_DATABASE_URL) and prints only its value on
stdout. Domain errors and unreachable databases print one line on stderr and exit 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, NoReturn, TypeVar

import click

from commpref.domain.model import RATE_LIMIT_TIERS
from commpref.domain.scopes import ALL_SCOPES
from commpref.errors import CommprefError
from commpref.services import admin
from commpref.settings import Settings
from commpref.storage import open_store
from commpref.storage.base import Store

T = TypeVar("T")
GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython: 700)
DEMO_PORTAL = "Demo"


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:***@", url)


def _run(settings: Settings, fn: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store (applying migrations), run `fn`, close; one-line errors, exit 1."""

    async def go() -> T:
        store = open_store(settings)
        try:
            await store.open()
        except CommprefError:
            raise
        except Exception as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            _fail(f"cannot open database {_redact(settings.database_url)}: {detail}")
        try:
            return await fn(store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except CommprefError as exc:
        _fail(exc.message)
    except ValueError as exc:  # an unsupported database URL
        _fail(str(exc))


def _settings(database_url: str | None, **overrides: Any) -> Settings:
    try:
        return Settings.from_env(database_url=database_url, **overrides)
    except ValueError as exc:
        _fail(f"invalid setting: {exc}")


database_url_option = click.option(
    "--database-url",
    default=None,
    metavar="URL",
    help="sqlite:///PATH or postgresql://… (default: COMMPREF_DATABASE_URL).",
)


@click.group()
@click.version_option(package_name="commpref")
def main() -> None:
    """commpref: HubSpot's Communication Preferences API, self-hosted."""


@main.command()
@click.option("--host", default=None, help="Listen address (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Listen port (default 8080).")
@database_url_option
@click.option("--workers", type=int, default=None, help="Server processes (default 1).")
@click.option("--reuse-port", is_flag=True, hidden=True, help="Worker of `--workers N`.")
def serve(
    host: str | None,
    port: int | None,
    database_url: str | None,
    workers: int | None,
    reuse_port: bool,
) -> None:
    """Apply migrations, then serve the API until SIGTERM/SIGINT."""
    import uvicorn

    from commpref import workers as supervisor
    from commpref.app import create_app
    from commpref.http import logs, server

    settings = _settings(database_url, host=host, port=port, workers=workers)

    async def migrate_only(store: Store) -> None:
        return None

    if not reuse_port:  # workers skip it: the supervisor has just migrated
        _run(settings, migrate_only)
    if settings.workers > 1:
        # Each worker is this command again with its own SO_REUSEPORT socket (workers.py).
        argv = [sys.executable, "-m", "commpref", "serve", "--workers", "1", "--reuse-port",
                "--host", settings.host, "--port", str(settings.port),
                "--database-url", settings.database_url]  # fmt: skip
        with _metrics_dir():
            raise SystemExit(supervisor.supervise(settings.workers, argv))
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        # httptools, plus deadlines and a size cap for request heads (slowloris)
        http="commpref.http.server:GuardedProtocol",
        timeout_keep_alive=settings.keep_alive_timeout_s,
        lifespan="on",
        access_log=False,  # commpref writes its own JSON access log
        log_level=settings.log_level,
        log_config=logs.logging_config(settings.log_level),  # JSON lines, like ours
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    server.configure(settings)
    _tune_gc()
    sockets = [supervisor.reuse_port_socket(settings.host, settings.port)] if reuse_port else None
    srv = uvicorn.Server(config)
    srv.run(sockets=sockets)
    if not srv.started:  # the app could not start (as `uvicorn.run` reports it)
        raise SystemExit(supervisor.STARTUP_FAILURE)


def _tune_gc() -> None:
    """What is loaded by now lives as long as the process: freeze it out of the collector's
    passes. Requests allocate thousands of small tuples that reference counting frees, so
    young collections can be rarer: with the defaults the collector kept rescanning objects
    that never become garbage."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


@contextlib.contextmanager
def _metrics_dir() -> Iterator[None]:
    """Workers share their /metrics through files in PROMETHEUS_MULTIPROC_DIR: an operator's
    directory if set, else a fresh one removed at exit."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="commpref-metrics-") as path:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        yield


@main.command()
@database_url_option
def migrate(database_url: str | None) -> None:
    """Apply pending schema migrations; prints the schema version."""

    async def version(store: Store) -> int:
        applied, _ = await store.schema_version()
        return applied

    click.echo(_run(_settings(database_url), version))


# --- portals -----------------------------------------------------------------------------


@main.group()
def portal() -> None:
    """Create and configure portals."""


@portal.command("create")
@click.option("--name", required=True)
@click.option("--gdpr", is_flag=True, help="Opt-ins need a legal basis.")
@click.option("--brands", is_flag=True, help="Enable business units (brands).")
@click.option("--default-language", default="en", show_default=True)
@click.option(
    "--erasure-key",
    default=None,
    help="Another portal's erasure key (`portal erasure-key`), to restore that portal's "
    "export here with its erasures still suppressed. Default: a new random key.",
)
@database_url_option
def portal_create(
    name: str,
    gdpr: bool,
    brands: bool,
    default_language: str,
    erasure_key: str | None,
    database_url: str | None,
) -> None:
    """Create a portal (with HubSpot's three default definitions); prints its id."""

    async def create(store: Store) -> int:
        p = await admin.create_portal(
            store=store,
            name=name,
            gdpr=gdpr,
            brands=brands,
            default_language=default_language,
            erasure_key=erasure_key,
        )
        return p.id

    click.echo(_run(_settings(database_url), create))


@portal.command("erasure-key")
@click.option("--portal", "portal_id", type=int, required=True)
@database_url_option
def portal_erasure_key(portal_id: int, database_url: str | None) -> None:
    """Print the portal's erasure key: the secret its erasure hashes are made with. Keep it
    as secret as the database; give it to `portal create --erasure-key` to restore an export."""

    async def key(store: Store) -> str:
        return await store.erasure_key(portal_id)

    click.echo(_run(_settings(database_url), key))


@portal.command("set")
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--gdpr/--no-gdpr", default=None)
@click.option("--brands/--no-brands", default=None)
@click.option("--default-language", default=None)
@click.option("--strict-v3-unknown-404/--no-strict-v3-unknown-404", default=None)
@click.option("--batch-scopes/--no-batch-scopes", default=None)
@click.option("--rate-limit-tier", type=click.Choice([*RATE_LIMIT_TIERS, "none"]), default=None)
@database_url_option
def portal_set(
    portal_id: int,
    gdpr: bool | None,
    brands: bool | None,
    default_language: str | None,
    strict_v3_unknown_404: bool | None,
    batch_scopes: bool | None,
    rate_limit_tier: str | None,
    database_url: str | None,
) -> None:
    """Change portal settings; prints the portal id."""
    flags: dict[str, object] = {
        k: v
        for k, v in {
            "gdpr": gdpr,
            "brands": brands,
            "default_language": default_language,
            "strict_v3_unknown_404": strict_v3_unknown_404,
            "batch_scopes_enabled": batch_scopes,
        }.items()
        if v is not None
    }
    if rate_limit_tier is not None:
        flags["rate_limit_tier"] = None if rate_limit_tier == "none" else rate_limit_tier
    if not flags:
        raise click.UsageError("nothing to change: give at least one setting")

    async def update(store: Store) -> int:
        p = await admin.update_portal(store=store, portal_id=portal_id, **flags)
        return p.id

    click.echo(_run(_settings(database_url), update))


@main.group("business-unit")
def business_unit() -> None:
    """Manage business units (brands)."""


@business_unit.command("create")
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--id", "unit_id", type=int, required=True)
@click.option("--name", required=True)
@database_url_option
def business_unit_create(portal_id: int, unit_id: int, name: str, database_url: str | None) -> None:
    """Add a business unit to a portal; prints its id."""

    async def create(store: Store) -> int:
        unit = await admin.create_business_unit(
            store=store, portal_id=portal_id, business_unit_id=unit_id, name=name
        )
        return unit.id

    click.echo(_run(_settings(database_url), create))


@main.group()
def definition() -> None:
    """Manage subscription definitions."""


@definition.command("create")
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--name", required=True)
@click.option("--description", required=True)
@click.option("--business-unit", type=int, default=0, show_default=True)
@click.option("--purpose", default="")
@click.option("--communication-method", default="")
@click.option("--inactive", is_flag=True, help="Create it archived.")
@database_url_option
def definition_create(
    portal_id: int,
    name: str,
    description: str,
    business_unit: int,
    purpose: str,
    communication_method: str,
    inactive: bool,
    database_url: str | None,
) -> None:
    """Create a subscription definition; prints its id."""

    async def create(store: Store) -> int:
        d = await admin.create_definition(
            store=store,
            portal_id=portal_id,
            name=name,
            description=description,
            business_unit_id=business_unit,
            purpose=purpose,
            communication_method=communication_method,
            is_active=not inactive,
        )
        return d.id

    click.echo(_run(_settings(database_url), create))


# --- tokens ------------------------------------------------------------------------------


@main.group()
def token() -> None:
    """Issue and revoke API tokens."""


@token.command("create")
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--scope", "scopes", multiple=True, help="A scope name; repeat for several.")
@click.option("--all-scopes", is_flag=True, help="Every scope commpref knows.")
@click.option("--name", default="token", show_default=True)
@click.option("--app-id", type=int, default=None, help="App id shown in `source` texts.")
@database_url_option
def token_create(
    portal_id: int,
    scopes: tuple[str, ...],
    all_scopes: bool,
    name: str,
    app_id: int | None,
    database_url: str | None,
) -> None:
    """Create a token; prints its secret (shown only this once)."""
    if bool(scopes) == all_scopes:
        raise click.UsageError("give either --scope (one or more) or --all-scopes")
    wanted = ALL_SCOPES if all_scopes else frozenset(scopes)

    async def create(store: Store) -> str:
        _, secret = await admin.create_token(
            store=store, portal_id=portal_id, scopes=wanted, name=name, app_id=app_id
        )
        return secret

    click.echo(_run(_settings(database_url), create))


@token.command("revoke")
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--id", "token_id", type=int, required=True)
@database_url_option
def token_revoke(portal_id: int, token_id: int, database_url: str | None) -> None:
    """Revoke a token; prints its id."""

    async def revoke(store: Store) -> bool:
        return await admin.revoke_token(store=store, portal_id=portal_id, token_id=token_id)

    if not _run(_settings(database_url), revoke):
        _fail(f"token {token_id} of portal {portal_id} does not exist")
    click.echo(token_id)


# --- demo --------------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="Host the curl line points at.")
@click.option("--port", type=int, default=None, help="Port the curl line points at.")
@database_url_option
def demo(host: str | None, port: int | None, database_url: str | None) -> None:
    """Make a "Demo" portal (once) and a fresh all-scopes token; print it and a curl line."""
    settings = _settings(database_url, host=host, port=port)

    async def setup(store: Store) -> str:
        portals = [p for p in await store.list_portals() if p.name == DEMO_PORTAL]
        portal_id = (
            portals[0].id
            if portals
            else (await admin.create_portal(store=store, name=DEMO_PORTAL)).id
        )
        _, secret = await admin.create_token(
            store=store, portal_id=portal_id, scopes=ALL_SCOPES, name="demo"
        )
        return secret

    secret = _run(settings, setup)
    from commpref.app import base_url

    path = "/communication-preferences/v4/statuses/batch/unsubscribe-all?channel=EMAIL"
    url = base_url(settings) + path
    curl = [
        "curl",
        "-sS",
        "-X",
        "POST",
        url,
        "-H",
        f"Authorization: Bearer {secret}",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"inputs":["a@example.com"]}',
    ]
    click.echo(secret)
    click.echo(shlex.join(curl))


# --- preference links --------------------------------------------------------------------


@main.command("list-unsubscribe")
@click.option("--portal", "portal_id", type=int, required=True)
@click.argument("email")
@click.option("--business-unit", type=int, default=0, show_default=True)
@click.option("--language", default=None, help="Page language (default: the portal's).")
@database_url_option
def list_unsubscribe(
    portal_id: int,
    email: str,
    business_unit: int,
    language: str | None,
    database_url: str | None,
) -> None:
    """Print the two RFC 8058 header lines (List-Unsubscribe, List-Unsubscribe-Post) a
    sender adds to every email to EMAIL; links start with COMMPREF_PUBLIC_BASE_URL."""
    from commpref.app import base_url
    from commpref.domain.model import Actor
    from commpref.services import links
    from commpref.services.context import Call

    settings = _settings(database_url)

    async def headers(store: Store) -> list[str]:
        ctx = await store.portal_context(portal_id)
        keys = await links.signing_keys(store=store, configured=settings.link_signing_keys)
        found = links.list_unsubscribe(
            call=Call.make(ctx, Actor("cli")),
            email=email,
            business_unit_id=business_unit,
            language=language,
            base_url=base_url(settings),
            key=keys[0],
            mailto=settings.list_unsubscribe_mailto,
        )
        return found.lines()

    for line in _run(settings, headers):
        click.echo(line)


# history, import, export, erase: in their own module (registered last: it imports this one)
from commpref.cli_bulk import register  # noqa: E402

register(main)
