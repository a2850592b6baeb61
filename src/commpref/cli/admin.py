"""`commpref portal`, `business-unit`, `definition` and `token`: set up a portal, its
brands and subscription definitions, and the API tokens that reach it; `tallies`: repair
the standing counts the console shows."""

from __future__ import annotations

import click

from commpref.cli import lists
from commpref.cli.options import build_settings, database_url_option, fail, run
from commpref.domain import signups as rules
from commpref.domain.model import RATE_LIMIT_TIERS, BusinessUnit, Portal, PortalContext, Status
from commpref.domain.scopes import ALL_SCOPES
from commpref.domain.tallies import Tallies
from commpref.services import admin, signups
from commpref.storage.store import Store

# --- portals -----------------------------------------------------------------------------


@click.group("portal")
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

    click.echo(run(build_settings(database_url), create))


@portal.command("erasure-key")
@click.option("--portal", "portal_id", type=int, required=True)
@database_url_option
def portal_erasure_key(portal_id: int, database_url: str | None) -> None:
    """Print the portal's erasure key: the secret its erasure hashes are made with. Keep it
    as secret as the database; give it to `portal create --erasure-key` to restore an export."""

    async def key(store: Store) -> str:
        return await store.erasure_key(portal_id)

    click.echo(run(build_settings(database_url), key))


@portal.command("set")
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--gdpr/--no-gdpr", default=None)
@click.option("--brands/--no-brands", default=None)
@click.option("--default-language", default=None)
@click.option("--strict-v3-unknown-404/--no-strict-v3-unknown-404", default=None)
@click.option("--batch-scopes/--no-batch-scopes", default=None)
@click.option("--rate-limit-tier", type=click.Choice([*RATE_LIMIT_TIERS, "none"]), default=None)
@click.option("--brand-name", default=None, help='The preference pages\' brand name ("": none).')
@click.option("--brand-logo-url", default=None, help='An https URL of the pages\' logo ("": none).')
@click.option("--brand-colour", default=None, help='The pages\' colour, #rrggbb ("": none).')
@click.option("--double-opt-in/--no-double-opt-in", default=None, help="Sign-ups confirm by email.")
@click.option("--mail-from", default=None, help='From of confirmation emails ("": the default).')
@database_url_option
def portal_set(
    portal_id: int,
    gdpr: bool | None,
    brands: bool | None,
    default_language: str | None,
    strict_v3_unknown_404: bool | None,
    batch_scopes: bool | None,
    rate_limit_tier: str | None,
    brand_name: str | None,
    brand_logo_url: str | None,
    brand_colour: str | None,
    double_opt_in: bool | None,
    mail_from: str | None,
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
            "brand_name": brand_name,
            "brand_logo_url": brand_logo_url,
            "brand_colour": brand_colour,
            "double_opt_in": double_opt_in,
            "mail_from": mail_from,
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

    click.echo(run(build_settings(database_url), update))


@click.group("business-unit")
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

    click.echo(run(build_settings(database_url), create))


@business_unit.command("set")
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--id", "unit_id", type=int, required=True)
@click.option(
    "--double-opt-in/--no-double-opt-in",
    default=None,
    help="The unit's own setting: its sign-ups confirm by email, or not, whatever the portal's.",
)
@click.option(
    "--portal-double-opt-in",
    is_flag=True,
    help="Drop the unit's own setting: the portal's applies.",
)
@database_url_option
def business_unit_set(
    portal_id: int,
    unit_id: int,
    double_opt_in: bool | None,
    portal_double_opt_in: bool,
    database_url: str | None,
) -> None:
    """Set a business unit's own double opt-in; prints the setting that now applies to it."""
    if (double_opt_in is not None) == portal_double_opt_in:
        raise click.UsageError(
            "give one of --double-opt-in, --no-double-opt-in, --portal-double-opt-in"
        )

    async def update(store: Store) -> tuple[Portal, BusinessUnit]:
        p = await admin.get_portal(store=store, portal_id=portal_id)
        await signups.set_unit_double_opt_in(
            store=store, portal_id=portal_id, business_unit_id=unit_id, value=double_opt_in
        )
        units = await admin.list_business_units(store=store, portal_id=portal_id)
        (unit,) = [u for u in units if u.id == unit_id]
        return p, unit

    p, unit = run(build_settings(database_url), update)
    state = "on" if rules.double_opt_in(p, unit) else "off"
    whose = "the portal's" if unit.double_opt_in is None else "its own"
    click.echo(f"business unit {unit.id} of portal {p.id}: double opt-in {state} ({whose} setting)")


@click.group("definition")
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

    click.echo(run(build_settings(database_url), create))


# --- tokens ------------------------------------------------------------------------------


@click.group("token")
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
    """Create a token; prints its secret (shown only this once) on stdout, its id on
    stderr (`token list` shows it again; `token revoke --id` takes it)."""
    if bool(scopes) == all_scopes:
        raise click.UsageError("give either --scope (one or more) or --all-scopes")
    wanted = ALL_SCOPES if all_scopes else frozenset(scopes)

    async def create(store: Store) -> tuple[int, str]:
        made, secret = await admin.create_token(
            store=store, portal_id=portal_id, scopes=wanted, name=name, app_id=app_id
        )
        return made.id, secret

    token_id, secret = run(build_settings(database_url), create)
    # The id on stderr, so that `TOKEN=$(commpref token create …)` still reads the secret alone.
    click.echo(f"token {token_id} of portal {portal_id}: the secret below is shown only once",
               err=True)  # fmt: skip
    click.echo(secret)


@token.command("revoke")
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--id", "token_id", type=int, required=True)
@database_url_option
def token_revoke(portal_id: int, token_id: int, database_url: str | None) -> None:
    """Revoke a token; prints its id."""

    async def revoke(store: Store) -> bool:
        return await admin.revoke_token(store=store, portal_id=portal_id, token_id=token_id)

    if not run(build_settings(database_url), revoke):
        fail(f"token {token_id} of portal {portal_id} does not exist")
    click.echo(token_id)


# --- tallies -----------------------------------------------------------------------------


@click.group("tallies")
def tallies() -> None:
    """The standing counts and daily totals the console shows."""


@tallies.command("recount")
@click.option("--portal", "portal_id", type=int, default=None, help="Default: every portal.")
@database_url_option
def tallies_recount(portal_id: int | None, database_url: str | None) -> None:
    """Count again from the stored statuses and the ledger, replacing the tallies kept as
    changes commit (a repair: writes to the portal wait meanwhile); prints the counts."""

    async def recount(store: Store) -> list[tuple[PortalContext, Tallies]]:
        ids = [portal_id] if portal_id is not None else [p.id for p in await store.list_portals()]
        done = []
        for pid in ids:
            ctx = await store.portal_context(pid)  # an unknown portal fails here
            done.append((ctx, await store.recount_tallies(pid)))
        return done

    for ctx, counted in run(build_settings(database_url), recount):
        p = ctx.portal
        click.echo(f"portal {p.id} ({p.name}): {counted.subscribers:,} subscribers, "
                   f"{counted.opted_out():,} opted out of all")  # fmt: skip
        for unit in sorted(ctx.business_units - {0}):
            click.echo(f"  business unit {unit}: {counted.opted_out(unit):,} opted out of all")
        for d in ctx.definitions:
            figures = ", ".join(
                f"{counted.count(d.id, status):,} {label}"
                for status, label in (
                    (Status.SUBSCRIBED, "subscribed"),
                    (Status.UNSUBSCRIBED, "unsubscribed"),
                    (Status.NOT_SPECIFIED, "not specified"),
                )
            )
            archived = "" if d.is_active else " (archived)"
            click.echo(f"  type {d.id} {d.name}{archived}: {figures}")


portal.add_command(lists.portal_list)
definition.add_command(lists.definition_list)
token.add_command(lists.token_list)
COMMANDS: tuple[click.Command, ...] = (portal, business_unit, definition, token, tallies)
