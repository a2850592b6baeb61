"""Handlers of `/commpref/v1`'s administration: subscription types and their translations,
business units, tokens and the portal's settings. Always the token's own portal: an id of
another portal's type or token answers 404. The rules are `services.admin`'s, the CLI's;
the shapes are `admin_wire`'s.
"""

from __future__ import annotations

import re
from typing import Any, cast

import msgspec

from commpref.domain.formats import parse_time
from commpref.errors import NotFound, ValidationError
from commpref.http.api import admin_wire
from commpref.http.api.handlers import path_id
from commpref.http.operation import Reply, Request
from commpref.services import admin, signups

# RFC 3339, the `date-time` of OpenAPI: a date, a time and an offset, nothing less.
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})", re.I | re.A
)


def _portal_id(rq: Request) -> int:
    return rq.call.ctx.portal.id


def _given(body: msgspec.Struct, names: dict[str, str]) -> dict[str, Any]:
    """The fields of a PATCH body that were sent, by their service names."""
    values = {service: getattr(body, field) for field, service in names.items()}
    return {k: v for k, v in values.items() if v is not msgspec.UNSET}


# --- subscription types --------------------------------------------------------------------


def _type_id(rq: Request) -> int:
    return path_id(rq, "Subscription type")


async def list_types(rq: Request) -> Reply:
    found = await admin.list_definitions(store=rq.runtime.store, portal_id=_portal_id(rq))
    return 200, admin_wire.SubscriptionTypeList(
        results=[admin_wire.subscription_type(d) for d in found]
    )


async def get_type(rq: Request) -> Reply:
    found = await admin.get_definition(
        store=rq.runtime.store, portal_id=_portal_id(rq), definition_id=_type_id(rq)
    )
    return 200, admin_wire.subscription_type(found)


async def create_type(rq: Request) -> Reply:
    body: admin_wire.SubscriptionTypeCreate = rq.body
    made = await admin.create_definition(
        store=rq.runtime.store,
        portal_id=_portal_id(rq),
        name=body.name,
        description=body.description,
        business_unit_id=body.businessUnitId,
        purpose=body.purpose,
        communication_method=body.communicationMethod,
    )
    return 201, admin_wire.subscription_type(made)


TYPE_FIELDS = {"name": "name", "description": "description", "purpose": "purpose",
               "communicationMethod": "communication_method"}  # fmt: skip


async def update_type(rq: Request) -> Reply:
    """Change the name, description, purpose or communication method: only those given."""
    changed = await admin.update_definition(
        store=rq.runtime.store,
        portal_id=_portal_id(rq),
        definition_id=_type_id(rq),
        **_given(rq.body, TYPE_FIELDS),
    )
    return 200, admin_wire.subscription_type(changed)


async def _set_active(rq: Request, active: bool) -> Reply:
    changed = await admin.set_definition_active(
        store=rq.runtime.store, portal_id=_portal_id(rq), definition_id=_type_id(rq), active=active
    )
    return 200, admin_wire.subscription_type(changed)


async def archive_type(rq: Request) -> Reply:
    """Archive: reads and the preference pages leave it out; its stored statuses stay."""
    return await _set_active(rq, False)


async def restore_type(rq: Request) -> Reply:
    return await _set_active(rq, True)


async def set_translation(rq: Request) -> Reply:
    """Add or replace the type's name and description in one language."""
    body: admin_wire.TranslationSet = rq.body
    changed = await admin.set_translation(
        store=rq.runtime.store,
        portal_id=_portal_id(rq),
        definition_id=_type_id(rq),
        language_code=body.languageCode,
        name=body.name,
        description=body.description,
    )
    return 200, admin_wire.subscription_type(changed)


async def delete_translation(rq: Request) -> Reply:
    changed = await admin.delete_translation(
        store=rq.runtime.store,
        portal_id=_portal_id(rq),
        definition_id=_type_id(rq),
        language_code=rq.query["languageCode"],
    )
    return 200, admin_wire.subscription_type(changed)


# --- business units ------------------------------------------------------------------------


async def list_business_units(rq: Request) -> Reply:
    units = await admin.list_business_units(store=rq.runtime.store, portal_id=_portal_id(rq))
    return 200, admin_wire.BusinessUnitList(results=[admin_wire.business_unit(u) for u in units])


async def create_business_unit(rq: Request) -> Reply:
    body: admin_wire.BusinessUnitCreate = rq.body
    unit = await admin.create_business_unit(
        store=rq.runtime.store, portal_id=_portal_id(rq), business_unit_id=body.id, name=body.name
    )
    return 201, admin_wire.business_unit(unit)


async def rename_business_unit(rq: Request) -> Reply:
    """Rename a business unit and/or set its own double opt-in (null: the portal's)."""
    body: admin_wire.BusinessUnitUpdate = rq.body
    store, portal_id, unit_id = rq.runtime.store, _portal_id(rq), path_id(rq, "Business unit")
    if not isinstance(body.name, msgspec.UnsetType):
        await admin.rename_business_unit(
            store=store, portal_id=portal_id, business_unit_id=unit_id, name=body.name
        )
    if not isinstance(body.doubleOptIn, msgspec.UnsetType):
        await signups.set_unit_double_opt_in(
            store=store, portal_id=portal_id, business_unit_id=unit_id, value=body.doubleOptIn
        )
    units = await admin.list_business_units(store=store, portal_id=portal_id)
    found = next((u for u in units if u.id == unit_id), None)
    if found is None:
        raise NotFound(f"Business unit {unit_id} does not exist")
    return 200, admin_wire.business_unit(found)


# --- tokens --------------------------------------------------------------------------------


def _expiry(text: str | None, now: int) -> int | None:
    if text is None:
        return None
    at = parse_time(text.upper()) if _DATE_TIME.fullmatch(text) else None
    if at is not None and at > now:
        return at
    message = "expiresAt must be in the future"
    if at is None:
        message = "expiresAt is a date-time such as 2030-01-31T12:00:00Z"
    raise ValidationError(message, errors=[{"message": message, "in": "expiresAt"}])


async def list_tokens(rq: Request) -> Reply:
    found = await admin.list_tokens(store=rq.runtime.store, portal_id=_portal_id(rq))
    return 200, admin_wire.TokenList(results=[admin_wire.token(t) for t in found])


async def create_token(rq: Request) -> Reply:
    """A new token of this portal; its secret is in this answer only. A token gives only
    scopes it holds itself, unless it holds commpref.admin."""
    body: admin_wire.TokenCreate = rq.body
    store = rq.runtime.store
    made, secret = await admin.create_token(
        store=store,
        portal_id=_portal_id(rq),
        scopes=frozenset(body.scopes),
        name=body.name,
        app_id=body.appId,
        expires_at=_expiry(body.expiresAt, rq.call.now),
        granted_by=await admin.calling_token(store=store, call=rq.call),
    )
    return 201, admin_wire.token(admin.TokenInfo(made, None), secret)


async def revoke_token(rq: Request) -> Reply:
    """Revoke at once (in every server process), itself included; again keeps the first time."""
    store, portal_id = rq.runtime.store, _portal_id(rq)
    token_id = path_id(rq, "Token")
    if not await admin.revoke_token(store=store, portal_id=portal_id, token_id=token_id):
        raise NotFound(f"Token {token_id} does not exist")
    return 200, admin_wire.token(
        await admin.get_token(store=store, portal_id=portal_id, token_id=token_id)
    )


# --- the portal ----------------------------------------------------------------------------


async def get_portal(rq: Request) -> Reply:
    found = await admin.get_portal(store=rq.runtime.store, portal_id=_portal_id(rq))
    return 200, admin_wire.portal(found)


PORTAL_FIELDS = {
    "name": "name",
    "gdpr": "gdpr",
    "brands": "brands",
    "defaultLanguage": "default_language",
    "rateLimitTier": "rate_limit_tier",
    "strictV3Unknown404": "strict_v3_unknown_404",
    "batchScopesEnabled": "batch_scopes_enabled",
    "brandName": "brand_name",
    "brandLogoUrl": "brand_logo_url",
    "brandColour": "brand_colour",
    "doubleOptIn": "double_opt_in",
    "mailFrom": "mail_from",
}


async def update_portal(rq: Request) -> Reply:
    """Change the settings given; `null` or "" removes a branding value."""
    changed = await admin.update_portal(
        store=rq.runtime.store,
        portal_id=_portal_id(rq),
        **_given(cast(msgspec.Struct, rq.body), PORTAL_FIELDS),
    )
    return 200, admin_wire.portal(changed)
