"""`commpref user`: the people who sign in to the console (docs/console.md)."""

from __future__ import annotations

import json
import secrets

import click

from commpref.cli.options import build_settings, database_url_option, fail, run
from commpref.domain.console import ROLES, ConsoleUser
from commpref.services import console
from commpref.services.context import now_ms
from commpref.storage.store import Store


@click.group("user")
def user() -> None:
    """Create and manage console users."""


def _password(password: str | None, generate: bool) -> tuple[str, bool]:
    if generate:
        return secrets.token_urlsafe(18), True
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password, False


@user.command("create")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option(
    "--portal",
    "portals",
    type=int,
    multiple=True,
    help="A portal the user may see (repeat for more). Default: every portal.",
)
@click.option(
    "--password",
    envvar="COMMPREF_USER_PASSWORD",
    default=None,
    help="Default: asked for (or COMMPREF_USER_PASSWORD). At least 12 characters.",
)
@click.option("--generate-password", is_flag=True, help="Make one up and print it.")
@database_url_option
def user_create(
    email: str,
    role: str,
    portals: tuple[int, ...],
    password: str | None,
    generate_password: bool,
    database_url: str | None,
) -> None:
    """Create a console user; prints its id (and the password when made up)."""
    secret, generated = _password(password, generate_password)

    async def create(store: Store) -> ConsoleUser:
        return await console.create_user(
            store=store,
            email=email,
            password=secret,
            role=role,
            portals=list(portals) or None,
            now=now_ms(),
        )

    created = run(build_settings(database_url), create)
    click.echo(created.id)
    if generated:
        click.echo(f"password: {secret}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@database_url_option
def user_list(as_json: bool, database_url: str | None) -> None:
    """Every console user: id, address, role, portals, disabled or not."""
    users = run(build_settings(database_url), lambda store: store.list_users())
    for u in users:
        portals = "all" if u.portals is None else ",".join(map(str, sorted(u.portals)))
        if as_json:
            row = {
                "id": u.id,
                "email": u.email,
                "role": u.role.label,
                "portals": None if u.portals is None else sorted(u.portals),
                "disabled": u.disabled_at is not None,
            }
            click.echo(json.dumps(row))
        else:
            state = " disabled" if u.disabled_at is not None else ""
            click.echo(f"{u.id}\t{u.email}\t{u.role.label}\tportals={portals}{state}")


@user.command("set-password")
@click.option("--email", required=True)
@click.option("--password", envvar="COMMPREF_USER_PASSWORD", default=None)
@click.option("--generate-password", is_flag=True, help="Make one up and print it.")
@database_url_option
def user_set_password(
    email: str, password: str | None, generate_password: bool, database_url: str | None
) -> None:
    """Give a user a new password; their sessions end."""
    secret, generated = _password(password, generate_password)

    async def change(store: Store) -> None:
        found = await store.find_user(console.parse_address(email))
        if found is None:
            fail(f"no console user with the address {email}")
        await console.set_password(store=store, user_id=found.id, password=secret, now=now_ms())

    run(build_settings(database_url), change)
    if generated:
        click.echo(f"password: {secret}")


@user.command("disable")
@click.option("--email", required=True)
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
@database_url_option
def user_disable(email: str, enable: bool, database_url: str | None) -> None:
    """Disable a user (their sessions end at once), or enable one again."""

    async def change(store: Store) -> None:
        found = await store.find_user(console.parse_address(email))
        if found is None:
            fail(f"no console user with the address {email}")
        await store.update_user(found.id, now=now_ms(), disabled=not enable)

    run(build_settings(database_url), change)


COMMANDS = (user,)
