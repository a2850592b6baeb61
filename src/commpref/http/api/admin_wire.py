"""Wire shapes of `/commpref/v1`'s administration: subscription types and their
translations, business units, tokens and the portal's settings, with their render functions.

Kept next to the handlers that use them (`admin.py`), as `users.py` and `links.py` keep
theirs; conventions as in `wire.py`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

import msgspec

from commpref.domain.formats import INT64_MAX
from commpref.domain.model import BusinessUnit, Definition, Portal
from commpref.domain.scopes import ALL_SCOPES
from commpref.http.values import DateTime, Int64, iso
from commpref.services import admin, validation


class _Wire(msgspec.Struct, kw_only=True, gc=False):
    """The settings of every shape here, as `wire.py`'s."""


class _Body(_Wire, kw_only=True, forbid_unknown_fields=True):
    """A request body: an unknown field is refused (400), never silently ignored."""


Name = Annotated[str, msgspec.Meta(min_length=1, max_length=validation.MAX_NAME)]
Text = Annotated[str, msgspec.Meta(max_length=validation.MAX_TEXT)]
Label = Annotated[str, msgspec.Meta(max_length=validation.MAX_LABEL)]
LanguageCode = Annotated[
    str,
    msgspec.Meta(
        min_length=2,
        max_length=validation.MAX_LANGUAGE,
        description="A language tag (BCP 47), such as `de` or `pt-br`; kept in lower case.",
    ),
]
UnitId = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
ScopeName = Annotated[str, msgspec.Meta(extra_json_schema={"enum": sorted(ALL_SCOPES)})]
Tier = Literal["starter", "professional", "enterprise"]
Unset = msgspec.UnsetType
UNSET = msgspec.UNSET


class TranslationView(_Wire, kw_only=True):
    languageCode: str
    name: str
    description: str
    createdAt: DateTime
    updatedAt: DateTime


class SubscriptionType(_Wire, kw_only=True):
    """A subscription type (HubSpot's `SubscriptionDefinition`), as commpref's API shows it."""

    id: Int64
    name: str
    description: str
    purpose: str
    communicationMethod: str
    businessUnitId: Int64
    isActive: bool  # false: archived
    isDefault: bool  # one of the three every portal starts with
    isInternal: bool  # not editable (translations aside)
    createdAt: DateTime
    updatedAt: DateTime
    translations: list[TranslationView]  # by language code


class SubscriptionTypeList(_Wire, kw_only=True):
    results: list[SubscriptionType]  # by id, archived ones included


class SubscriptionTypeCreate(_Body, kw_only=True):
    name: Name  # unique within its business unit (archived types included, any case)
    description: Text = ""
    purpose: Label = ""  # e.g. Marketing, Sales, Service
    communicationMethod: Label = ""  # e.g. Email
    businessUnitId: UnitId = 0


class SubscriptionTypeUpdate(_Body, kw_only=True):
    """Only the fields given change. The business unit never does; archive and restore
    have operations of their own."""

    name: Name | Unset = UNSET
    description: Text | Unset = UNSET
    purpose: Label | Unset = UNSET
    communicationMethod: Label | Unset = UNSET


class TranslationSet(_Body, kw_only=True):
    languageCode: LanguageCode
    name: Name
    description: Text = ""


class BusinessUnitView(_Wire, kw_only=True):
    id: Int64
    name: str
    doubleOptIn: bool | None  # sign-ups confirm by email first; null: the portal's setting


class BusinessUnitList(_Wire, kw_only=True):
    results: list[BusinessUnitView]  # by id; 0 is the default brand and always exists


class BusinessUnitCreate(_Body, kw_only=True):
    id: UnitId
    name: Name


class BusinessUnitUpdate(_Body, kw_only=True):
    """Only the fields given change; `doubleOptIn: null` follows the portal's setting."""

    name: Name | Unset = UNSET
    doubleOptIn: bool | Unset | None = UNSET


class TokenView(_Wire, kw_only=True):
    id: Int64
    name: str
    scopes: list[str]
    appId: Int64 | None  # named in the `source` of its changes
    createdAt: DateTime
    expiresAt: DateTime | None
    revokedAt: DateTime | None
    lastUsedAt: DateTime | None  # recorded by each server process within half a minute
    secret: str | Unset = UNSET  # only in the answer that made it: store it now


class TokenList(_Wire, kw_only=True):
    results: list[TokenView]  # oldest first; never a secret


class TokenCreate(_Body, kw_only=True):
    name: Name
    scopes: Annotated[list[ScopeName], msgspec.Meta(min_length=1, max_length=100)]
    expiresAt: DateTime | None = None  # ISO 8601; absent: never (or with the calling token)
    appId: UnitId | None = None


BrandName = Annotated[str, msgspec.Meta(max_length=validation.MAX_NAME)]
LogoUrl = Annotated[str, msgspec.Meta(max_length=validation.MAX_URL, description="An https URL.")]
Colour = Annotated[str, msgspec.Meta(pattern="^(#[0-9a-fA-F]{6})?$", description="#rrggbb")]


class PortalView(_Wire, kw_only=True):
    id: Int64
    name: str
    gdpr: bool  # opt-ins need a legal basis
    brands: bool  # business units (brands) enabled
    defaultLanguage: str
    rateLimitTier: Tier | None  # null: no rate limit
    strictV3Unknown404: bool
    batchScopesEnabled: bool
    brandName: str | None  # the preference pages' branding
    brandLogoUrl: str | None
    brandColour: str | None
    doubleOptIn: bool  # sign-ups confirm by email first (docs/signups.md)
    mailFrom: str | None  # From of confirmation emails (null: COMMPREF_MAIL_FROM)
    createdAt: DateTime


class PortalUpdate(_Body, kw_only=True):
    """Only the fields given change; `null` or "" removes a branding value."""

    name: Name | Unset = UNSET
    gdpr: bool | Unset = UNSET
    brands: bool | Unset = UNSET
    defaultLanguage: LanguageCode | Unset = UNSET
    rateLimitTier: Tier | Unset | None = UNSET
    strictV3Unknown404: bool | Unset = UNSET
    batchScopesEnabled: bool | Unset = UNSET
    brandName: BrandName | Unset | None = UNSET
    brandLogoUrl: LogoUrl | Unset | None = UNSET
    brandColour: Colour | Unset | None = UNSET
    doubleOptIn: bool | Unset = UNSET
    mailFrom: Annotated[str, msgspec.Meta(max_length=validation.MAX_URL)] | Unset | None = UNSET


def _time(ms: int | None) -> str | None:
    return None if ms is None else iso(ms)


def subscription_type(d: Definition) -> SubscriptionType:
    return SubscriptionType(
        id=d.id,
        name=d.name,
        description=d.description,
        purpose=d.purpose,
        communicationMethod=d.communication_method,
        businessUnitId=d.business_unit_id,
        isActive=d.is_active,
        isDefault=d.is_default,
        isInternal=d.is_internal,
        createdAt=iso(d.created_at),
        updatedAt=iso(d.updated_at),
        translations=[
            TranslationView(
                languageCode=t.language_code,
                name=t.name,
                description=t.description,
                createdAt=iso(t.created_at),
                updatedAt=iso(t.updated_at),
            )
            for t in d.translations
        ],
    )


def business_unit(u: BusinessUnit) -> BusinessUnitView:
    return BusinessUnitView(id=u.id, name=u.name, doubleOptIn=u.double_opt_in)


def token(info: admin.TokenInfo, secret: str | None = None) -> TokenView:
    t = info.token
    return TokenView(
        id=t.id,
        name=t.name,
        scopes=sorted(t.scopes),
        appId=t.app_id,
        createdAt=iso(t.created_at),
        expiresAt=_time(t.expires_at),
        revokedAt=_time(t.revoked_at),
        lastUsedAt=_time(info.last_used_at),
        secret=UNSET if secret is None else secret,
    )


def portal(p: Portal) -> PortalView:
    return PortalView(
        id=p.id,
        name=p.name,
        gdpr=p.gdpr,
        brands=p.brands,
        defaultLanguage=p.default_language,
        rateLimitTier=cast(Any, p.rate_limit_tier),
        strictV3Unknown404=p.strict_v3_unknown_404,
        batchScopesEnabled=p.batch_scopes_enabled,
        brandName=p.brand_name,
        brandLogoUrl=p.brand_logo_url,
        brandColour=p.brand_colour,
        doubleOptIn=p.double_opt_in,
        mailFrom=p.mail_from,
        createdAt=iso(p.created_at),
    )
