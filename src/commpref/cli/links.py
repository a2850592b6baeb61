"""`commpref list-unsubscribe`: the preference links a sender puts in its emails' headers."""

from __future__ import annotations

import click

from commpref.cli.options import build_settings, database_url_option, run
from commpref.domain.model import Actor
from commpref.services import links
from commpref.services.context import Call
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


COMMANDS: tuple[click.Command, ...] = (list_unsubscribe,)
