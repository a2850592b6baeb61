"""Managing portals, business units, definitions (subscription types) and their
translations, and tokens: the one place their rules live, for the CLI and /commpref/v1.
What text each may hold (names, descriptions, language tags, branding) is `validation`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from commpref.domain import erasure
from commpref.domain.formats import INT64_MAX
from commpref.domain.model import RATE_LIMIT_TIERS, BusinessUnit, Definition, Portal, Token
from commpref.domain.scopes import ADMIN, ALL_SCOPES, may_grant
from commpref.errors import AuthenticationError, MissingScopes, NotFound, ValidationError
from commpref.services import auth
from commpref.services.context import Call, now_ms
from commpref.services.validation import (
    MAX_LABEL,
    MAX_TEXT,
    clean_brand_name,
    clean_colour,
    clean_language,
    clean_logo_url,
    clean_mail_from,
    clean_name,
    clean_text,
    invalid,
    shown,
)
from commpref.storage.store import Store

DEFINITION_FIELDS = ("name", "description", "purpose", "communication_method")


# --- portals -----------------------------------------------------------------------------


async def create_portal(
    *,
    store: Store,
    name: str,
    gdpr: bool = False,
    brands: bool = False,
    default_language: str = "en",
    erasure_key: str | None = None,
) -> Portal:
    """A new portal; `erasure_key` is another portal's, when this one restores its export
    (docs/import-export.md): the erasure hashes of that export then suppress here too."""
    if not name.strip():
        raise ValidationError("A portal needs a name")
    if erasure_key is not None and not erasure.valid_key(erasure_key):
        raise ValidationError("An erasure key is 32 to 128 characters of A-Z, a-z, 0-9, _ and -")
    return await store.create_portal(
        name=clean_name(name),
        gdpr=gdpr,
        brands=brands,
        default_language=clean_language(default_language, "defaultLanguage"),
        erasure_key=erasure_key,
        now=now_ms(),
    )


async def get_portal(*, store: Store, portal_id: int) -> Portal:
    found = await store.get_portal(portal_id)
    if found is None:
        raise NotFound(f"Portal {portal_id} does not exist")
    return found


async def update_portal(*, store: Store, portal_id: int, **flags: object) -> Portal:
    """Change flags (`Portal`'s fields); brand_name, brand_logo_url, brand_colour: "" or
    None removes them."""
    checks: dict[str, Callable[[object], object]] = {
        "name": lambda v: clean_name(str(v)),
        "default_language": lambda v: clean_language(str(v), "defaultLanguage"),
        "brand_name": clean_brand_name,
        "brand_logo_url": clean_logo_url,
        "brand_colour": clean_colour,
        "mail_from": clean_mail_from,
    }
    for key, check in checks.items():
        if key in flags:
            flags[key] = check(flags[key])
    tier = flags.get("rate_limit_tier")
    if tier is not None and tier not in RATE_LIMIT_TIERS:
        raise ValidationError(
            f"Unknown rate_limit_tier {tier}; use one of {', '.join(RATE_LIMIT_TIERS)}"
        )
    return await store.update_portal(portal_id, **flags)


# --- business units ----------------------------------------------------------------------


async def list_business_units(*, store: Store, portal_id: int) -> list[BusinessUnit]:
    return await store.list_business_units(portal_id)


async def create_business_unit(
    *, store: Store, portal_id: int, business_unit_id: int, name: str
) -> BusinessUnit:
    if not 0 <= business_unit_id <= INT64_MAX:
        raise invalid("id", "Business unit ids are non-negative 64-bit integers")
    return await store.create_business_unit(
        portal_id=portal_id, business_unit_id=business_unit_id, name=clean_name(name)
    )


async def rename_business_unit(
    *, store: Store, portal_id: int, business_unit_id: int, name: str
) -> BusinessUnit:
    return await store.rename_business_unit(
        portal_id=portal_id, business_unit_id=business_unit_id, name=clean_name(name)
    )


# --- definitions (subscription types) ----------------------------------------------------


async def list_definitions(*, store: Store, portal_id: int) -> tuple[Definition, ...]:
    """Every definition of the portal, archived ones and translations included, by id."""
    return (await store.portal_context(portal_id)).definitions


async def get_definition(*, store: Store, portal_id: int, definition_id: int) -> Definition:
    """One of the portal's definitions; another portal's is as unknown as a missing one."""
    found = (await store.portal_context(portal_id)).definition(definition_id)
    if found is None:
        raise NotFound(f"Subscription type {definition_id} does not exist")
    return found


def _unique(definitions: tuple[Definition, ...], new_name: str, unit: int, own: int) -> None:
    """Names are unique within a business unit, archived types included, in any case."""
    wanted = new_name.casefold()
    for d in definitions:
        if d.id != own and d.business_unit_id == unit and d.name.casefold() == wanted:
            message = f"A subscription type named {shown(d.name)} already exists (id {d.id})"
            raise invalid("name", message)


def _definition_texts(fields: dict[str, str]) -> dict[str, str]:
    checks: dict[str, Callable[[str], str]] = {
        "name": clean_name,
        "description": lambda v: clean_text(v, "description", limit=MAX_TEXT, multiline=True),
        "purpose": lambda v: clean_text(v, "purpose", limit=MAX_LABEL),
        "communication_method": lambda v: clean_text(v, "communicationMethod", limit=MAX_LABEL),
    }
    return {k: checks[k](v) for k, v in fields.items()}


async def create_definition(
    *,
    store: Store,
    portal_id: int,
    name: str,
    description: str,
    business_unit_id: int = 0,
    purpose: str = "",
    communication_method: str = "",
    is_active: bool = True,
) -> Definition:
    texts = _definition_texts(
        {"name": name, "description": description, "purpose": purpose,
         "communication_method": communication_method}
    )  # fmt: skip
    if not 0 <= business_unit_id <= INT64_MAX:
        raise invalid("businessUnitId", f"Business unit {business_unit_id} does not exist")
    ctx = await store.portal_context(portal_id)
    _unique(ctx.definitions, texts["name"], business_unit_id, own=0)
    return await store.create_definition(
        portal_id=portal_id,
        name=texts["name"],
        description=texts["description"],
        business_unit_id=business_unit_id,
        purpose=texts["purpose"],
        communication_method=texts["communication_method"],
        is_active=is_active,
        now=now_ms(),
    )


async def _editable(store: Store, portal_id: int, definition_id: int) -> Definition:
    found = await get_definition(store=store, portal_id=portal_id, definition_id=definition_id)
    if found.is_internal:  # docs/wire-contract.md §4.3: internal types are not editable
        raise ValidationError(
            f"Subscription type {definition_id} is internal (isInternal) and cannot be changed"
        )
    return found


async def update_definition(
    *, store: Store, portal_id: int, definition_id: int, **fields: str
) -> Definition:
    """Change `DEFINITION_FIELDS`; a type's business unit never changes (the opt-outs of
    all that cover it would change with it), and archiving is `set_definition_active`."""
    unknown = sorted(set(fields) - set(DEFINITION_FIELDS))
    if unknown:
        raise ValidationError(f"Cannot change {', '.join(unknown)} of a subscription type")
    current = await _editable(store, portal_id, definition_id)
    checked = _definition_texts(dict(fields))
    if "name" in checked:
        ctx = await store.portal_context(portal_id)
        _unique(ctx.definitions, checked["name"], current.business_unit_id, definition_id)
    if not checked:
        return current
    return await store.update_definition(definition_id, now=now_ms(), **checked)


async def set_definition_active(
    *, store: Store, portal_id: int, definition_id: int, active: bool
) -> Definition:
    """Archive (False) or restore (True); statuses stored for the type are kept."""
    current = await _editable(store, portal_id, definition_id)
    if current.is_active == active:
        return current
    return await store.update_definition(definition_id, now=now_ms(), is_active=active)


async def set_translation(
    *,
    store: Store,
    portal_id: int,
    definition_id: int,
    language_code: str,
    name: str,
    description: str,
) -> Definition:
    """Add or replace a type's name and description in one language (internal types too:
    the text is only shown)."""
    await get_definition(store=store, portal_id=portal_id, definition_id=definition_id)
    await store.set_translation(
        definition_id=definition_id,
        language_code=clean_language(language_code),
        name=clean_name(name),
        description=clean_text(description, "description", limit=MAX_TEXT, multiline=True),
        now=now_ms(),
    )
    return await get_definition(store=store, portal_id=portal_id, definition_id=definition_id)


async def delete_translation(
    *, store: Store, portal_id: int, definition_id: int, language_code: str
) -> Definition:
    await get_definition(store=store, portal_id=portal_id, definition_id=definition_id)
    code = clean_language(language_code)
    if not await store.delete_translation(definition_id=definition_id, language_code=code):
        raise NotFound(f"Subscription type {definition_id} has no translation in {code}")
    return await get_definition(store=store, portal_id=portal_id, definition_id=definition_id)


# --- tokens ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token: Token
    last_used_at: int | None  # as recorded by the server processes (`auth.TokenUses`)


class BeyondOwnScopes(MissingScopes):
    """403: a token asked to make a token with scopes it does not hold itself
    (`scopes.may_grant`); one holding `commpref.admin` may."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(missing, all_required=True)
        self.message = (
            f"A token can only make tokens with scopes it holds itself (or hold {ADMIN}); "
            f"this one lacks {', '.join(missing)}"
        )


async def list_tokens(*, store: Store, portal_id: int) -> list[TokenInfo]:
    """The portal's tokens, oldest first, with when each was last used."""
    await get_portal(store=store, portal_id=portal_id)  # an unknown portal is an error, not []
    used = await store.token_uses(portal_id)
    return [TokenInfo(t, used.get(t.id)) for t in await store.list_tokens(portal_id)]


async def get_token(*, store: Store, portal_id: int, token_id: int) -> TokenInfo:
    for info in await list_tokens(store=store, portal_id=portal_id):
        if info.token.id == token_id:
            return info
    raise NotFound(f"Token {token_id} does not exist")


async def calling_token(*, store: Store, call: Call) -> Token:
    """The token a request of /commpref/v1 authenticated with."""
    if call.actor.kind == "token" and call.actor.id is not None:
        for token in await store.list_tokens(call.ctx.portal.id):
            if str(token.id) == call.actor.id:
                return token
    raise AuthenticationError()


async def create_token(
    *,
    store: Store,
    portal_id: int,
    scopes: frozenset[str],
    name: str = "token",
    app_id: int | None = None,
    expires_at: int | None = None,
    granted_by: Token | None = None,
) -> tuple[Token, str]:
    """A new token and its secret; the secret is shown once and stored only as a hash.
    `granted_by` (a token making it through the API) may give only scopes it holds, nor a
    longer life than its own, unless it holds `commpref.admin`."""
    unknown = sorted(scopes - ALL_SCOPES)
    if unknown:
        valid = ", ".join(sorted(ALL_SCOPES))
        raise invalid("scopes", f"Unknown scope(s): {', '.join(unknown)}. Valid scopes: {valid}")
    if not scopes:
        raise invalid("scopes", "A token needs at least one scope")
    label = clean_name(name)
    if app_id is not None and not 0 <= app_id <= INT64_MAX:
        raise invalid("appId", "appId is a non-negative 64-bit integer")
    now = now_ms()
    if granted_by is not None:
        if not may_grant(granted_by.scopes, scopes):
            raise BeyondOwnScopes(sorted(scopes - granted_by.scopes))
        limit = None if ADMIN in granted_by.scopes else granted_by.expires_at
        if limit is not None and (expires_at is None or expires_at > limit):
            if expires_at is not None:
                raise invalid("expiresAt", "expiresAt is after this token's own expiry")
            expires_at = limit  # a token's tokens expire with it
    if await store.get_portal(portal_id) is None:
        raise ValidationError(f"Portal {portal_id} does not exist")
    secret = auth.new_secret()
    token = await store.create_token(
        portal_id=portal_id,
        name=label,
        secret_hash=auth.hash_secret(secret),
        scopes=scopes,
        app_id=app_id,
        expires_at=expires_at,
        now=now,
    )
    return token, secret


async def revoke_token(*, store: Store, portal_id: int, token_id: int) -> bool:
    """False for a token the portal does not have; revoking again keeps the first time."""
    return await store.revoke_token(portal_id=portal_id, token_id=token_id, now=now_ms())
