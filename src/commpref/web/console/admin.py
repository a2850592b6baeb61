"""The console's administration pages: subscription types (their translations, archiving,
a preview of the preference page in each language), business units and tokens. The
portal's settings are `settings`, the console's users `users`.

Every page reads for every role; every change needs the admin role and goes through the
same services as `/commpref/v1` and the CLI (`services.admin`), so the rules are theirs. A
change the rules refuse re-renders its form with the message and what was typed (400, or
409), never a 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from commpref.domain import scopes
from commpref.domain.console import Role
from commpref.domain.model import Definition
from commpref.errors import NotFound, ValidationError
from commpref.http.operation import Reply
from commpref.services import admin, links, signups
from commpref.web.console.visit import REFUSED, Visit, view

# The preference page a preview opens is the real one, for an address no one can have
# (`.invalid` is reserved, RFC 2606): opening it changes nothing; saving its form would.
PREVIEW_ADDRESS = "preview@example.invalid"
TYPE_FIELDS = ("name", "description", "purpose", "communication_method")
# HubSpot's scopes first (communication_preferences.*, then the legacy names), then ours.
HUBSPOT_SCOPES = sorted(
    scopes.ALL_SCOPES - scopes.EXTENSION_SCOPES, key=lambda s: ("." not in s, s)
)
EXTENSION_SCOPES = sorted(scopes.EXTENSION_SCOPES)


def _number(raw: str, what: str, error: type[Exception] = NotFound) -> int:
    """A non-negative integer typed or in the path; `error` (NotFound in a path, else a
    ValidationError) for anything else."""
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise error(f"No such {what}" if error is NotFound else f"{what} is a number")
    return int(raw)


def _sent(v: Visit, names: Sequence[str]) -> dict[str, str]:
    """Those of the fields `names` the form has (one page holds several forms)."""
    present = {k for k, _ in v.form}
    return {name: v.value(name) for name in names if name in present}


# --- subscription types ----------------------------------------------------------------------


async def _types_page(
    v: Visit, status: int = 200, problem: str = "", typed: dict[str, str] | None = None
) -> Reply:
    store, portal_id = v.rq.runtime.store, v.portal.portal.id
    units = await admin.list_business_units(store=store, portal_id=portal_id)
    return v.render(
        "types.html",
        status,
        types=await admin.list_definitions(store=store, portal_id=portal_id),
        units=units,
        unit_names={u.id: u.name for u in units},
        problem=problem,
        typed=typed or {},
        section="/types",
    )


@view(Role.VIEWER)
async def type_list(v: Visit) -> Reply:
    return await _types_page(v)


@view(Role.ADMIN, form=True)
async def type_create(v: Visit) -> Reply:
    typed = v.typed((*TYPE_FIELDS, "business_unit"))
    try:
        made = await admin.create_definition(
            store=v.rq.runtime.store,
            portal_id=v.portal.portal.id,
            name=typed["name"],
            description=typed["description"],
            business_unit_id=_number(typed["business_unit"] or "0", "The business unit",
                                     ValidationError),
            purpose=typed["purpose"],
            communication_method=typed["communication_method"],
        )  # fmt: skip
    except REFUSED as exc:
        return await _types_page(v, exc.http_status, exc.message, typed)
    return v.redirect(v.url(f"/types/{made.id}", done="created"))


@dataclass(frozen=True, slots=True)
class Preview:
    asked: str  # the language the link asks for
    shown: str  # the language the page speaks (services.links.page_language)
    url: str


def _previews(v: Visit, d: Definition) -> list[Preview]:
    """The manage page as a recipient of the type's brand sees it: in the portal's default
    language (the type's own wording) and in each language it is translated into."""
    rt, ctx = v.rq.runtime, v.portal
    if not rt.link_keys:
        return []
    unit = d.business_unit_id if ctx.portal.brands else 0
    asked = [ctx.portal.default_language]
    asked += [t.language_code for t in d.translations if t.language_code not in asked]
    found = []
    for language in asked:
        made = links.generate_links(
            call=v.call(), email=PREVIEW_ADDRESS, business_unit_id=unit, language=language,
            subscription_id=None, base_url=rt.base_url, key=rt.link_keys[0],
        )  # fmt: skip
        shown = links.page_language(ctx, language, unit)
        found.append(Preview(language, shown, made.manage_preferences_url))
    return found


async def _type_page(
    v: Visit,
    status: int = 200,
    problem: str = "",
    typed: dict[str, str] | None = None,
    definition_id: int | None = None,
) -> Reply:
    store, portal_id = v.rq.runtime.store, v.portal.portal.id
    found = await admin.get_definition(
        store=store,
        portal_id=portal_id,
        definition_id=definition_id if definition_id is not None else v.path_id("type"),
    )
    units = {u.id: u for u in await admin.list_business_units(store=store, portal_id=portal_id)}
    return v.render(
        "type.html",
        status,
        d=found,
        unit=units.get(found.business_unit_id),
        previews=_previews(v, found),
        preview_address=PREVIEW_ADDRESS,
        problem=problem,
        typed=typed or {},
        done=v.query("done") if status == 200 else "",
        section="/types",
    )


@view(Role.VIEWER)
async def type_page(v: Visit) -> Reply:
    return await _type_page(v)


@view(Role.ADMIN, form=True)
async def type_change(v: Visit) -> Reply:
    store, portal_id = v.rq.runtime.store, v.portal.portal.id
    definition_id = v.path_id("type")
    action = v.value("action")
    typed = _sent(v, (*TYPE_FIELDS, "language_code", "translation_name",
                      "translation_description"))  # fmt: skip
    try:
        if action == "save":
            await admin.update_definition(
                store=store, portal_id=portal_id, definition_id=definition_id,
                **{k: val for k, val in typed.items() if k in TYPE_FIELDS},
            )  # fmt: skip
        elif action in ("archive", "restore"):
            await admin.set_definition_active(
                store=store, portal_id=portal_id, definition_id=definition_id,
                active=action == "restore",
            )  # fmt: skip
        elif action == "translate":
            await admin.set_translation(
                store=store, portal_id=portal_id, definition_id=definition_id,
                language_code=typed.get("language_code", ""),
                name=typed.get("translation_name", ""),
                description=typed.get("translation_description", ""),
            )  # fmt: skip
        elif action == "untranslate":
            await admin.delete_translation(
                store=store, portal_id=portal_id, definition_id=definition_id,
                language_code=typed.get("language_code", ""),
            )  # fmt: skip
        else:
            raise ValidationError("Unknown action")
    except REFUSED as exc:
        return await _type_page(v, exc.http_status, exc.message, typed, definition_id)
    done = {"save": "saved", "archive": "archived", "restore": "restored",
            "translate": "translated", "untranslate": "untranslated"}[action]  # fmt: skip
    return v.redirect(v.url(f"/types/{definition_id}", done=done))


# --- business units ----------------------------------------------------------------------------

# A unit's own double opt-in as the form names it (None: the portal's setting applies).
UNIT_DOUBLE_OPT_IN: dict[str, bool | None] = {"portal": None, "on": True, "off": False}


async def _units_page(
    v: Visit, status: int = 200, problem: str = "", typed: dict[str, str] | None = None
) -> Reply:
    store, portal_id = v.rq.runtime.store, v.portal.portal.id
    definitions = await admin.list_definitions(store=store, portal_id=portal_id)
    counts: dict[int, int] = {}
    for d in definitions:
        counts[d.business_unit_id] = counts.get(d.business_unit_id, 0) + 1
    return v.render(
        "units.html",
        status,
        units=await admin.list_business_units(store=store, portal_id=portal_id),
        counts=counts,
        problem=problem,
        typed=typed or {},
        done=v.query("done") if status == 200 else "",
        section="/types",  # the nav lists business units under the types
    )


@view(Role.VIEWER)
async def unit_list(v: Visit) -> Reply:
    return await _units_page(v)


@view(Role.ADMIN, form=True)
async def unit_change(v: Visit) -> Reply:
    store, portal_id = v.rq.runtime.store, v.portal.portal.id
    action = v.value("action")
    typed = v.typed(("id", "name"))
    try:
        unit_id = _number(typed["id"], "A business unit's id", ValidationError)
        if action == "create":
            await admin.create_business_unit(
                store=store, portal_id=portal_id, business_unit_id=unit_id, name=typed["name"]
            )
        elif action == "rename":
            await admin.rename_business_unit(
                store=store, portal_id=portal_id, business_unit_id=unit_id, name=typed["name"]
            )
        elif action == "double_opt_in":
            choice = v.value("double_opt_in")
            if choice not in UNIT_DOUBLE_OPT_IN:
                raise ValidationError("Choose the portal's setting, on or off")
            await signups.set_unit_double_opt_in(
                store=store, portal_id=portal_id, business_unit_id=unit_id,
                value=UNIT_DOUBLE_OPT_IN[choice],
            )  # fmt: skip
        else:
            raise ValidationError("Unknown action")
    except REFUSED as exc:  # what was typed fills the form to add one again
        return await _units_page(
            v, exc.http_status, exc.message, typed if action == "create" else {}
        )
    done = {"create": "created", "rename": "renamed"}.get(action, action)
    return v.redirect(v.url("/business-units", done=done))


# --- tokens ------------------------------------------------------------------------------------


async def _tokens_page(
    v: Visit, status: int = 200, problem: str = "", typed: dict[str, Any] | None = None
) -> Reply:
    found = await admin.list_tokens(store=v.rq.runtime.store, portal_id=v.portal.portal.id)
    return v.render(
        "tokens.html",
        status,
        tokens=list(reversed(found)),  # newest first
        now=v.rq.now,
        hubspot_scopes=HUBSPOT_SCOPES,
        extension_scopes=EXTENSION_SCOPES,
        problem=problem,
        typed=typed or {"scopes": []},
        done=v.query("done") if status == 200 else "",
        section="/tokens",
    )


@view(Role.VIEWER)
async def token_list(v: Visit) -> Reply:
    return await _tokens_page(v)


def _expiry(raw: str, now: int) -> int | None:
    """A date typed (YYYY-MM-DD): the token works until that day begins (UTC). As in the
    API, a token must not be born expired."""
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise ValidationError("The expiry is a date such as 2030-01-31, or empty for never")
    at = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    if at <= now:
        raise ValidationError("The expiry must be in the future")
    return at


@view(Role.ADMIN, form=True)
async def token_create(v: Visit) -> Reply:
    """The secret is in this answer only (never in a URL, never shown again). A console
    admin is no token: `granted_by` None, any scope may be given."""
    typed: dict[str, Any] = {**v.typed(("name", "expires")), "scopes": v.values("scope")}
    try:
        made, secret = await admin.create_token(
            store=v.rq.runtime.store,
            portal_id=v.portal.portal.id,
            scopes=frozenset(typed["scopes"]),
            name=typed["name"],
            expires_at=_expiry(typed["expires"], v.rq.now),
        )
    except REFUSED as exc:
        return await _tokens_page(v, exc.http_status, exc.message, typed)
    return v.render("token_created.html", 201, token=made, secret=secret, section="/tokens")


@view(Role.ADMIN, form=True)
async def token_change(v: Visit) -> Reply:
    token_id = v.path_id("token")
    if v.value("action") != "revoke":
        raise ValidationError("Unknown action")
    revoked = await admin.revoke_token(
        store=v.rq.runtime.store, portal_id=v.portal.portal.id, token_id=token_id
    )
    if not revoked:
        raise NotFound("No such token")
    return v.redirect(v.url("/tokens", done="revoked"))
