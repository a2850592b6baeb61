"""Managing portals, business units, definitions and tokens (CLI and /commpref/v1)."""

from __future__ import annotations

from commpref.domain import erasure
from commpref.domain.model import RATE_LIMIT_TIERS, BusinessUnit, Definition, Portal, Token
from commpref.domain.scopes import ALL_SCOPES
from commpref.errors import ValidationError
from commpref.services import auth
from commpref.services.context import now_ms
from commpref.storage.store import Store


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
        name=name.strip(),
        gdpr=gdpr,
        brands=brands,
        default_language=default_language,
        erasure_key=erasure_key,
        now=now_ms(),
    )


async def update_portal(*, store: Store, portal_id: int, **flags: object) -> Portal:
    tier = flags.get("rate_limit_tier")
    if tier is not None and tier not in RATE_LIMIT_TIERS:
        raise ValidationError(
            f"Unknown rate_limit_tier {tier}; use one of {', '.join(RATE_LIMIT_TIERS)}"
        )
    return await store.update_portal(portal_id, **flags)


async def create_business_unit(
    *, store: Store, portal_id: int, business_unit_id: int, name: str
) -> BusinessUnit:
    if business_unit_id < 0:
        raise ValidationError("Business unit ids are non-negative integers")
    return await store.create_business_unit(
        portal_id=portal_id, business_unit_id=business_unit_id, name=name
    )


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
    if not name.strip():
        raise ValidationError("A subscription definition needs a name")
    return await store.create_definition(
        portal_id=portal_id,
        name=name.strip(),
        description=description,
        business_unit_id=business_unit_id,
        purpose=purpose,
        communication_method=communication_method,
        is_active=is_active,
        now=now_ms(),
    )


async def create_token(
    *,
    store: Store,
    portal_id: int,
    scopes: frozenset[str],
    name: str = "token",
    app_id: int | None = None,
    expires_at: int | None = None,
) -> tuple[Token, str]:
    """A new token and its secret; the secret is shown once and stored only as a hash."""
    unknown = sorted(scopes - ALL_SCOPES)
    if unknown:
        raise ValidationError(
            f"Unknown scope(s): {', '.join(unknown)}. Valid scopes: {', '.join(sorted(ALL_SCOPES))}"
        )
    if not scopes:
        raise ValidationError("A token needs at least one scope")
    if await store.get_portal(portal_id) is None:
        raise ValidationError(f"Portal {portal_id} does not exist")
    secret = auth.new_secret()
    token = await store.create_token(
        portal_id=portal_id,
        name=name,
        secret_hash=auth.hash_secret(secret),
        scopes=scopes,
        app_id=app_id,
        expires_at=expires_at,
        now=now_ms(),
    )
    return token, secret


async def revoke_token(*, store: Store, portal_id: int, token_id: int) -> bool:
    return await store.revoke_token(portal_id=portal_id, token_id=token_id, now=now_ms())
