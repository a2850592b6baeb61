"""Preference-page links (API.md §5.14): validation, URLs and their signed tokens.

A token is base64url(payload ‖ mac): the payload is a compact JSON array naming the portal,
the normalised email, the business unit, the page language and the issue time; the mac is
the first 16 bytes of HMAC-SHA256 under the first signing key. Every configured key
verifies, so keys can be rotated by putting a new key first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote

import msgspec

from commpref.domain import rules
from commpref.domain.model import PortalContext
from commpref.errors import ValidationError
from commpref.services.context import Call
from commpref.services.statuses import require_definition, require_email
from commpref.storage.base import Store

LINK_KEY_SECRET = "link_key"  # name of the generated key in the store's server secrets
_VERSION = 1
_MAC_BYTES = 16
_DOMAIN = b"commpref-link\x00"  # keeps these macs distinct from any other use of the key


@dataclass(frozen=True, slots=True)
class LinkClaims:
    portal_id: int
    email: str
    business_unit_id: int
    language: str
    issued_at: int  # epoch seconds


@dataclass(frozen=True, slots=True)
class Links:
    email: str
    manage_preferences_url: str
    unsubscribe_all_url: str
    unsubscribe_single_url: str | None


async def signing_keys(*, store: Store, configured: str | None) -> tuple[bytes, ...]:
    """Configured keys (first signs, all verify) or one generated once and kept in the store."""
    keys = [k.strip() for k in (configured or "").split(",") if k.strip()]
    if not keys:
        keys = [await store.set_secret_if_absent(LINK_KEY_SECRET, secrets.token_urlsafe(32))]
    return tuple(k.encode() for k in keys)


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _DOMAIN + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def sign(claims: LinkClaims, key: bytes) -> str:
    payload = msgspec.json.encode(
        [
            _VERSION,
            claims.portal_id,
            claims.email,
            claims.business_unit_id,
            claims.language,
            claims.issued_at,
        ]
    )
    return base64.urlsafe_b64encode(payload + _mac(key, payload)).rstrip(b"=").decode()


def verify(token: str, keys: tuple[bytes, ...]) -> LinkClaims | None:
    """The claims of a token signed by any of `keys`, or None when it is not genuine."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if len(raw) <= _MAC_BYTES or not any(hmac.compare_digest(mac, _mac(k, payload)) for k in keys):
        return None
    try:
        version, portal_id, email, unit, language, issued_at = msgspec.json.decode(payload)
    except (msgspec.DecodeError, ValueError, TypeError):
        return None
    if version != _VERSION:
        return None
    return LinkClaims(portal_id, email, unit, language, issued_at)


def page_language(ctx: PortalContext, requested: str | None, business_unit_id: int) -> str:
    """The requested language when the brand's types have translations in it, else the
    portal's default language (§5.14)."""
    if requested:
        wanted = requested.strip().lower()
        for d in ctx.definitions:
            if d.business_unit_id != business_unit_id:
                continue
            for t in d.translations:
                if t.language_code.lower() == wanted:
                    return t.language_code
    return ctx.portal.default_language


def generate_links(
    *,
    call: Call,
    email: str,
    business_unit_id: int,
    language: str | None,
    subscription_id: int | None,
    base_url: str,
    key: bytes,
) -> Links:
    """J: validate and build the three URLs; unknown addresses are fine and not created."""
    address = require_email(email)
    unit = rules.opt_out_unit(call.ctx, business_unit_id)
    if subscription_id is not None:
        definition = require_definition(call, subscription_id)
        if definition.business_unit_id != unit:
            message = (
                f"Subscription definition {subscription_id} does not belong to business unit {unit}"
            )
            raise ValidationError(message, errors=[{"message": message, "in": "subscriptionId"}])
    lang = page_language(call.ctx, language, unit)
    claims = LinkClaims(call.ctx.portal.id, address, unit, lang, call.now // 1000)
    query = f"languagePreference={quote(lang, safe='')}&d={sign(claims, key)}&v=3"
    pages = base_url.rstrip("/") + "/hs/manage-preferences/"
    return Links(
        email=address,
        manage_preferences_url=f"{pages}unsubscribe?{query}",
        unsubscribe_all_url=f"{pages}unsubscribe-all?{query}",
        unsubscribe_single_url=(
            None
            if subscription_id is None
            else f"{pages}unsubscribe-single?{query}&subscriptionId={subscription_id}"
        ),
    )
