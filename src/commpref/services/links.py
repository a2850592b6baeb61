"""Preference-page links (docs/wire-contract.md §5.14):
validation, URLs, their tokens, List-Unsubscribe.

A link token is `base64url(version ‖ AES-SIV(claims))`, no padding. The claims — portal,
normalised email, business unit, page language, issue time — are packed with msgpack and
sealed with AES-SIV (RFC 5297, `cryptography`): one primitive both encrypts them, so the
address is not readable from the URL (links end up in proxy logs, screenshots, forwarded
mails), and authenticates them with a 16-byte synthetic IV, so any change to a single bit
is refused. AES-SIV needs no nonce: nothing can go wrong however many billion links one key
seals. Its 64-byte key is derived from each configured signing key with HKDF-SHA256, so
keys keep their meaning: the first signs, every one verifies (rotation).

Links never expire unless `link_max_age_days` is set; `check` then refuses older tokens
with `ExpiredLink`. Both errors are `ValidationError`s (400); the pages render them.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from commpref.domain import rules
from commpref.domain.model import PortalContext
from commpref.errors import ValidationError
from commpref.services.context import Call
from commpref.services.statuses import require_definition, require_email
from commpref.settings import Settings
from commpref.storage.store import Store

LINK_KEY_SECRET = "link_key"  # name of the generated key in the store's server secrets
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058: the body of the POST and its header
MAX_TOKEN_CHARS = 1024  # far above any real token (an address has at most 254 characters)
DAY_SECONDS = 86_400

_VERSION = b"\x02"  # 1 was readable JSON with a truncated HMAC
_TOKEN_INFO = b"commpref link token v2 (AES-SIV)"
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_Payload = tuple[int, str, int, str, int]


class InvalidLink(ValidationError):
    """A link token that is malformed, truncated, altered or sealed under an unknown key."""

    def __init__(self) -> None:
        super().__init__("Invalid preference link")


class ExpiredLink(InvalidLink):
    """A genuine token older than `link_max_age_days`."""


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


@dataclass(frozen=True, slots=True)
class ListUnsubscribe:
    """The two header lines RFC 8058 asks a sender to add (and DKIM-sign) per message."""

    email: str  # normalised
    url: str  # the one-click unsubscribe-all URL
    mailto: str | None = None  # an optional `mailto:` fallback

    @property
    def list_unsubscribe(self) -> str:
        return ", ".join(f"<{uri}>" for uri in (self.url, self.mailto) if uri)

    @property
    def list_unsubscribe_post(self) -> str:
        return ONE_CLICK

    def lines(self) -> list[str]:
        return [
            f"List-Unsubscribe: {self.list_unsubscribe}",
            f"List-Unsubscribe-Post: {self.list_unsubscribe_post}",
        ]


async def signing_keys(*, store: Store, configured: str | None) -> tuple[bytes, ...]:
    """Configured keys (first signs, all verify) or one generated once and kept in the store."""
    keys = [k.strip() for k in (configured or "").split(",") if k.strip()]
    if not keys:
        keys = [await store.set_secret_if_absent(LINK_KEY_SECRET, secrets.token_urlsafe(32))]
    return tuple(k.encode() for k in keys)


@lru_cache(maxsize=256)
def derive_key(key: bytes, purpose: bytes, length: int = 32) -> bytes:
    """A key for one purpose (link tokens, form tokens) derived from a signing key (HKDF)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose).derive(key)


def _siv(key: bytes) -> AESSIV:
    return AESSIV(derive_key(key, _TOKEN_INFO, 64))


def sign(claims: LinkClaims, key: bytes) -> str:
    """The opaque, URL-safe token of `claims`, sealed under `key`."""
    payload = msgspec.msgpack.encode(
        (
            claims.portal_id,
            claims.email,
            claims.business_unit_id,
            claims.language,
            claims.issued_at,
        )
    )
    sealed = _siv(key).encrypt(payload, [_VERSION])
    return base64.urlsafe_b64encode(_VERSION + sealed).rstrip(b"=").decode()


def verify(token: str, keys: tuple[bytes, ...]) -> LinkClaims | None:
    """The claims of a token sealed under any of `keys`, or None when it is not genuine.

    Age is not checked here; `check` does that.
    """
    if not 0 < len(token) <= MAX_TOKEN_CHARS or not _TOKEN_CHARS.fullmatch(token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if raw[:1] != _VERSION:
        return None
    for key in keys:
        try:
            payload = _siv(key).decrypt(raw[1:], [_VERSION])
        except (InvalidTag, ValueError):
            continue
        try:
            portal_id, email, unit, language, issued_at = msgspec.msgpack.decode(
                payload, type=_Payload
            )
        except msgspec.DecodeError:
            return None
        return LinkClaims(portal_id, email, unit, language, issued_at)
    return None


def check(token: str, keys: tuple[bytes, ...], *, now: int, max_age_days: int) -> LinkClaims:
    """The claims of a genuine token; `InvalidLink`, or `ExpiredLink` when older than
    `max_age_days` (0: links never expire). `now` is epoch milliseconds."""
    claims = verify(token, keys)
    if claims is None:
        raise InvalidLink()
    if expired(claims, now=now, max_age_days=max_age_days):
        raise ExpiredLink()
    return claims


def expired(claims: LinkClaims, *, now: int, max_age_days: int) -> bool:
    """True when a link is older than `max_age_days` (0: never). `now`: epoch milliseconds."""
    return bool(max_age_days) and now // 1000 - claims.issued_at > max_age_days * DAY_SECONDS


def base_url(settings: Settings) -> str:
    """Base of preference links: `public_base_url`, else where `serve` listens (§5.14)."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}"


# The languages of the pages' own text (`web/translations`; a test keeps the two alike).
PAGE_LANGUAGES = frozenset({"en", "de", "fr"})


def page_language(ctx: PortalContext, requested: str | None, business_unit_id: int) -> str:
    """The language a link's pages speak (§5.14): the requested one when some type of the
    brand has a translation in it, or when it is a language of the pages' own text (a
    regional tag such as `de-DE` by its base language); else the portal's default."""
    if not requested or not requested.strip():
        return ctx.portal.default_language
    wanted = requested.strip().lower().replace("_", "-")
    base = wanted.split("-")[0]
    by_base = None
    for d in ctx.definitions:
        if d.business_unit_id != business_unit_id:
            continue
        for t in d.translations:
            code = t.language_code.lower()
            if code == wanted:
                return t.language_code
            if code == base:
                by_base = t.language_code
    if by_base is not None:
        return by_base
    return base if base in PAGE_LANGUAGES else ctx.portal.default_language


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


def list_unsubscribe(
    *,
    call: Call,
    email: str,
    business_unit_id: int,
    language: str | None,
    base_url: str,
    key: bytes,
    mailto: str | None = None,
) -> ListUnsubscribe:
    """The RFC 8058 headers for one address: its one-click unsubscribe-all URL, plus
    `mailto:` when an address is configured. Validates like J; creates nothing."""
    generated = generate_links(
        call=call,
        email=email,
        business_unit_id=business_unit_id,
        language=language,
        subscription_id=None,
        base_url=base_url,
        key=key,
    )
    fallback = f"mailto:{quote(mailto, safe='@')}?subject=unsubscribe" if mailto else None
    return ListUnsubscribe(generated.email, generated.unsubscribe_all_url, fallback)
