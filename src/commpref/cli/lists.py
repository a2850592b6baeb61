"""`portal list`, `definition list` and `token list`: what a portal holds, as a table on
stdout, or as JSON with `--json` (for scripts). Token secrets are never shown: only their
hashes are stored."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click
import msgspec
from rich.console import Console
from rich.table import Table

from commpref.cli.options import build_settings, database_url_option, run
from commpref.domain.formats import format_ms
from commpref.services import admin
from commpref.storage.store import Store

json_option = click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")


def show(rows: Sequence[dict[str, Any]], columns: Sequence[str], as_json: bool) -> None:
    """The rows as JSON, or as a table (pipes get it unwrapped)."""
    if as_json:
        click.echo(msgspec.json.encode(list(rows)).decode())
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    Console(width=None if sys.stdout.isatty() else 320).print(table)


def _time(ms: int | None) -> str | None:
    return None if not ms else format_ms(ms)


@click.command("list")
@json_option
@database_url_option
def portal_list(as_json: bool, database_url: str | None) -> None:
    """List the portals: id, name and settings."""

    async def portals(store: Store) -> list[dict[str, Any]]:
        return [
            {"id": p.id, "name": p.name, "gdpr": p.gdpr, "brands": p.brands,
             "default_language": p.default_language, "rate_limit_tier": p.rate_limit_tier,
             "created": _time(p.created_at)}
            for p in await store.list_portals()
        ]  # fmt: skip

    rows = run(build_settings(database_url), portals)
    show(rows, ("id", "name", "gdpr", "brands", "default_language", "rate_limit_tier",
                "created"), as_json)  # fmt: skip


@click.command("list")
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--archived/--no-archived", default=True, help="Archived (inactive) ones too.")
@json_option
@database_url_option
def definition_list(
    portal_id: int, archived: bool, as_json: bool, database_url: str | None
) -> None:
    """List a portal's subscription definitions (types)."""

    async def definitions(store: Store) -> list[dict[str, Any]]:
        found = await admin.list_definitions(store=store, portal_id=portal_id)
        return [
            {"id": d.id, "name": d.name, "description": d.description,
             "business_unit_id": d.business_unit_id, "purpose": d.purpose,
             "communication_method": d.communication_method, "active": d.is_active,
             "translations": sorted(t.language_code for t in d.translations)}
            for d in found
            if archived or d.is_active
        ]  # fmt: skip

    rows = run(build_settings(database_url), definitions)
    show(rows, ("id", "name", "business_unit_id", "purpose", "communication_method", "active",
                "translations"), as_json)  # fmt: skip


@click.command("list")
@click.option("--portal", "portal_id", type=int, required=True)
@json_option
@database_url_option
def token_list(portal_id: int, as_json: bool, database_url: str | None) -> None:
    """List a portal's tokens: id, name, scopes, when created, last used (written by each
    server process within half a minute, and when it stops), expiring or revoked. The
    secrets cannot be shown: only their hashes are stored."""

    async def tokens(store: Store) -> list[dict[str, Any]]:
        return [
            {"id": t.id, "name": t.name, "scopes": sorted(t.scopes), "app_id": t.app_id,
             "created": _time(t.created_at), "last_used": _time(info.last_used_at),
             "expires": _time(t.expires_at), "revoked": _time(t.revoked_at)}
            for info in await admin.list_tokens(store=store, portal_id=portal_id)
            for t in (info.token,)
        ]  # fmt: skip

    rows = run(build_settings(database_url), tokens)
    if not as_json:
        rows = [{**r, "scopes": " ".join(r["scopes"])} for r in rows]
    show(rows, ("id", "name", "scopes", "created", "last_used", "expires", "revoked"), as_json)
