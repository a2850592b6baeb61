"""`commpref serve`, `migrate` and `demo`: run the server, bring the schema up to date, and
get a first token to try the API with."""

from __future__ import annotations

import contextlib
import gc
import os
import secrets
import shlex
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click

from commpref.cli import supervisor
from commpref.cli.options import build_settings, database_url_option, fail, redact, run
from commpref.domain.scopes import ALL_SCOPES
from commpref.errors import CommprefError
from commpref.mail.relay import Relay
from commpref.services import admin, auth, console, links
from commpref.services.context import now_ms
from commpref.storage.sqlite.connection import database_path
from commpref.storage.store import Store

GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython: 700)
DEMO_PORTAL = "Demo"
DEMO_USER = "owner@example.com"


@click.command("serve")
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
    # Imported here, not at the top: the web stack (uvicorn, Starlette, every route and
    # template) is heavy and only `serve` needs it, so the other commands start without it.
    import uvicorn

    from commpref.app import create_app
    from commpref.http import logs, server

    settings = build_settings(database_url, host=host, port=port, workers=workers)
    if settings.smtp_url:  # a bad relay URL stops the server now, not the first email
        try:
            Relay.from_url(settings.smtp_url)
        except ValueError as exc:
            fail(f"invalid setting: {exc}")

    async def migrate_only(store: Store) -> None:
        return None

    if not reuse_port:  # workers skip it: the supervisor has just migrated
        run(settings, migrate_only, create=True)
    if settings.workers > 1:
        # Each worker is this command again with its own SO_REUSEPORT socket (supervisor.py).
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


@click.command("migrate")
@database_url_option
def migrate(database_url: str | None) -> None:
    """Apply pending schema migrations; prints the schema version."""

    async def version(store: Store) -> int:
        applied, _ = await store.schema_version()
        return applied

    click.echo(run(build_settings(database_url), version, create=True))


@click.command("demo")
@click.option("--host", default=None, help="Host the curl line points at.")
@click.option("--port", type=int, default=None, help="Port the curl line points at.")
@database_url_option
def demo(host: str | None, port: int | None, database_url: str | None) -> None:
    """Make a "Demo" portal, an all-scopes token and a console owner, once: later runs reuse
    them (the token and the owner's password are kept in files only their owner can read,
    beside the SQLite database). Prints labelled lines: the database, the portal id, the
    token, a curl line, where the API is described, how to sign in to the console."""
    settings = build_settings(database_url, host=host, port=port)
    kept = _token_file(settings.database_url)

    async def setup(store: Store) -> tuple[int, str, bool, tuple[str, bool]]:
        user = await _demo_user(store, kept)
        portals = [p for p in await store.list_portals() if p.name == DEMO_PORTAL]
        portal_id = (
            portals[0].id
            if portals
            else (await admin.create_portal(store=store, name=DEMO_PORTAL)).id
        )
        if kept.exists():
            secret = kept.read_text().strip()
            try:
                token, ctx = await auth.authenticate(store=store, secret=secret, now=now_ms())
            except CommprefError:  # revoked, expired, or another database's
                pass
            else:
                if ctx.portal.id == portal_id and token.scopes >= ALL_SCOPES:
                    return portal_id, secret, True, user
        _, secret = await admin.create_token(
            store=store, portal_id=portal_id, scopes=ALL_SCOPES, name="demo"
        )
        return portal_id, secret, False, user

    portal_id, secret, reused, (password, password_reused) = run(settings, setup, create=True)
    if not reused:
        _keep(kept, secret)
    if not password_reused:
        _keep(kept.with_name("demo-console"), f"{DEMO_USER}\n{password}")
    base = links.base_url(settings)
    path = "/communication-preferences/v4/statuses/batch/unsubscribe-all?channel=EMAIL"
    curl = ["curl", "-sS", "-X", "POST", base + path, "-H", f"Authorization: Bearer {secret}",
            "-H", "Content-Type: application/json",
            "-d", '{"inputs":["a@example.com"]}']  # fmt: skip
    how = "reused" if reused else "new"
    for label, value in (
        ("database", redact(settings.database_url)),
        ("portal", f"{portal_id} (pass --portal {portal_id} to the commpref commands)"),
        ("token", f"{secret} ({how}; kept in {kept}, readable by you only; another: "
                  f"commpref token create --portal {portal_id} --all-scopes)"),
        ("try", shlex.join(curl)),
        ("api", f"{base}/docs (the reference; as OpenAPI 3.1: {base}/openapi.json)"),
        ("console", f"{base}/console/ (sign in as {DEMO_USER}, password {password}; "
                    f"kept in {kept.with_name('demo-console')})"),
    ):  # fmt: skip
        click.echo(f"{label + ':':<10}{value}")


def _keep(path: Path, secret: str) -> None:
    """Write a secret to a file only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT


async def _demo_user(store: Store, kept: Path) -> tuple[str, bool]:
    """The demo console owner's password: the kept one while it still signs in, else a new
    one (the user is created, or given the new password)."""
    kept_user = kept.with_name("demo-console")
    if kept_user.exists():
        lines = kept_user.read_text().split()
        if len(lines) == 2 and await console.check_credentials(
            store=store, email=lines[0], password=lines[1]
        ):
            return lines[1], True
    password = secrets.token_urlsafe(15)
    user = await store.find_user(DEMO_USER)
    if user is None:
        await console.create_user(
            store=store, email=DEMO_USER, password=password, role="owner", portals=None,
            now=now_ms(),
        )  # fmt: skip
    else:
        await console.set_password(store=store, user_id=user.id, password=password, now=now_ms())
        await store.update_user(user.id, now=now_ms(), disabled=False)
    return password, False


def _token_file(database_url: str) -> Path:
    """Where the demo token is kept: beside the SQLite file, else in ./data."""
    if database_url.startswith("sqlite:"):
        return database_path(database_url).with_name("demo-token")
    return Path("data", "demo-token").absolute()


COMMANDS: tuple[click.Command, ...] = (serve, migrate, demo)
