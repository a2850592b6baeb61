"""Preference-page links (docs/wire-contract.md §5.14):
validation, URLs, their tokens, List-Unsubscribe.

A link token is `base64url(header ‖ AES-SIV(claims))`, no padding. The claims — portal,
normalised email, business unit, page language, issue time — are packed with msgpack and
sealed with AES-SIV (RFC 5297, `cryptography`): one primitive both encrypts them, so the
address is not readable from the URL (links end up in proxy logs, screenshots, forwarded
mails), and authenticates them with a 16-byte synthetic IV, so any change to a single bit
is refused. AES-SIV needs no nonce: nothing can go wrong however many billion links one key
seals. Its 64-byte key is derived from each configured signing key with HKDF-SHA256, so
keys keep their meaning: the first signs, every one verifies (rotation).

Keys are the server's (`link_signing_keys`, header: version 2) until a portal rotates its
own (`rotate_keys`, header: version 3 and the key's id, 4 bytes): from then on its newest
key seals its links, and a token names the key that opens it, so verifying reads one row
and every process sees a rotation or a retirement at once. The header is authenticated as
associated data, so a token cannot be moved to another key.

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
from commpref.domain.model import LinkKey, PortalContext
from commpref.errors import Conflict, ValidationError
from commpref.services.context import Call
from commpref.services.statuses import require_definition, require_email
from commpref.settings import Settings
from commpref.storage.store import Store

LINK_KEY_SECRET = "link_key"  # name of the generated key in the store's server secrets
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058: the body of the POST and its header
MAX_TOKEN_CHARS = 1024  # far above any real token (an address has at most 254 characters)
DAY_SECONDS = 86_400

_VERSION = b"\x02"  # sealed by a server key; 1 was readable JSON with a truncated HMAC
_PORTAL_VERSION = b"\x03"  # sealed by a portal's own key, whose id follows
_KEY_ID_BYTES = 4
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


def sign(claims: LinkClaims, key: bytes, key_id: int | None = None) -> str:
    """The opaque, URL-safe token of `claims`, sealed under `key`: a server key (None) or
    the portal's key `key_id`."""
    payload = msgspec.msgpack.encode(
        (
            claims.portal_id,
            claims.email,
            claims.business_unit_id,
            claims.language,
            claims.issued_at,
        )
    )
    header = _VERSION if key_id is None else _PORTAL_VERSION + key_id.to_bytes(_KEY_ID_BYTES)
    sealed = _siv(key).encrypt(payload, [header])
    return base64.urlsafe_b64encode(header + sealed).rstrip(b"=").decode()


def _split(token: str) -> tuple[bytes, bytes] | None:
    """A token's header and sealed claims, or None when it cannot be a token."""
    if not 0 < len(token) <= MAX_TOKEN_CHARS or not _TOKEN_CHARS.fullmatch(token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if raw[:1] == _VERSION:
        return raw[:1], raw[1:]
    if raw[:1] == _PORTAL_VERSION and len(raw) > 1 + _KEY_ID_BYTES:
        return raw[: 1 + _KEY_ID_BYTES], raw[1 + _KEY_ID_BYTES :]
    return None


def sealing_key_id(token: str) -> int | None:
    """The id of the portal key a token names; None for a server key's token or a token
    that is not one (which `verify` then refuses)."""
    parts = _split(token)
    if parts is None or len(parts[0]) == 1:
        return None
    return int.from_bytes(parts[0][1:])


def verify(token: str, keys: tuple[bytes, ...]) -> LinkClaims | None:
    """The claims of a token sealed under any of `keys`, or None when it is not genuine.

    Age is not checked here; `check` does that.
    """
    parts = _split(token)
    if parts is None:
        return None
    header, sealed = parts
    for key in keys:
        try:
            payload = _siv(key).decrypt(sealed, [header])
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


async def rotate_keys(*, store: Store, portal_id: int, now: int) -> LinkKey:
    """A new key that seals the portal's links from now on; older links keep working."""
    return await store.add_link_key(portal_id=portal_id, secret=secrets.token_urlsafe(32), now=now)


async def list_keys(*, store: Store, portal_id: int) -> list[LinkKey]:
    """The portal's own keys, newest first (the first seals, unless retired ones only)."""
    return await store.list_link_keys(portal_id)


async def retire_keys(*, store: Store, ctx: PortalContext, now: int) -> int:
    """Make every link of the portal not sealed by its newest key stop working (after a
    leak, say); the number of its own keys retired."""
    if ctx.portal.link_key is None:
        raise Conflict(
            "This portal's links are sealed with the server's keys: rotate its link keys "
            "before retiring the old ones"
        )
    return await store.retire_link_keys(portal_id=ctx.portal.id, now=now)


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
    """J: validate and build the three URLs; unknown addresses are fine and not created.
    The portal's own key seals them once it has one, else `key` (the server's)."""
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
    own = call.ctx.portal.link_key
    token = sign(claims, key) if own is None else sign(claims, own.secret.encode(), own.id)
    query = f"languagePreference={quote(lang, safe='')}&d={token}&v=3"
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
