"""`commpref list-unsubscribe`: the preference links a sender puts in its emails' headers;
`commpref link-keys`: a portal's own keys that seal them (list, rotate, retire)."""

from __future__ import annotations

import click

from commpref.cli.options import build_settings, database_url_option, run
from commpref.domain.formats import format_ms
from commpref.domain.model import Actor
from commpref.services import links
from commpref.services.context import Call, now_ms
from commpref.storage.store import Store


@click.command("list-unsubscribe")
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
    settings = build_settings(database_url)
    base = links.base_url(settings)

    async def headers(store: Store) -> list[str]:
        ctx = await store.portal_context(portal_id)
        keys = await links.signing_keys(store=store, configured=settings.link_signing_keys)
        found = links.list_unsubscribe(
            call=Call.make(ctx, Actor("cli")),
            email=email,
            business_unit_id=business_unit,
            language=language,
            base_url=base,
            key=keys[0],
            mailto=settings.list_unsubscribe_mailto,
        )
        return found.lines()

    for line in run(settings, headers):
        click.echo(line)
    if not base.startswith("https://"):  # after the headers: an error stays one line
        click.echo(
            f"warning: these links start with {base}; mailbox providers honour only https "
            "List-Unsubscribe URLs (RFC 8058): set COMMPREF_PUBLIC_BASE_URL to the public "
            "https origin of the preference pages",
            err=True,
        )


@click.group("link-keys")
def link_keys() -> None:
    """A portal's own keys for its preference links: rotate, retire the old ones."""


@link_keys.command("list")
@click.option("--portal", "portal_id", type=int, required=True)
@database_url_option
def link_keys_list(portal_id: int, database_url: str | None) -> None:
    """Print the portal's keys, newest first: id, created, state (never a secret)."""

    async def listed(store: Store) -> list[str]:
        portal = await store.portal_context(portal_id)
        sealing = portal.portal.link_key.id if portal.portal.link_key else None
        lines = []
        for k in await links.list_keys(store=store, portal_id=portal_id):
            state = (
                f"retired {format_ms(k.retired_at)}"
                if k.retired_at is not None
                else "seals new links"
                if k.id == sealing
                else "verifies older links"
            )
            lines.append(f"{k.id}\t{format_ms(k.created_at)}\t{state}")
        server = "verify older links" if portal.portal.server_link_keys else "retired"
        if sealing is None:
            server = "seal new links"
        return [*lines, f"server\t-\t{server}"]

    for line in run(build_settings(database_url), listed):
        click.echo(line)


@link_keys.command("rotate")
@click.option("--portal", "portal_id", type=int, required=True)
@database_url_option
def link_keys_rotate(portal_id: int, database_url: str | None) -> None:
    """Seal the portal's new links with a new key; links already sent keep working. Prints
    the new key's id."""

    async def rotate(store: Store) -> int:
        made = await links.rotate_keys(store=store, portal_id=portal_id, now=now_ms())
        return made.id

    click.echo(run(build_settings(database_url), rotate))


@link_keys.command("retire")
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@database_url_option
def link_keys_retire(portal_id: int, yes: bool, database_url: str | None) -> None:
    """Make every link of the portal not sealed by its newest key stop working (the older
    keys and the server's). Prints how many of its own keys were retired."""
    if not yes:
        click.confirm("Links sent before the newest key will stop working. Go on?", abort=True)

    async def retire(store: Store) -> int:
        ctx = await store.portal_context(portal_id)
        return await links.retire_keys(store=store, ctx=ctx, now=now_ms())

    click.echo(run(build_settings(database_url), retire))


COMMANDS: tuple[click.Command, ...] = (list_unsubscribe, link_keys)
