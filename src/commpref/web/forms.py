"""Form bodies and form tokens.

Bodies: `application/x-www-form-urlencoded` and `multipart/form-data` (RFC 8058 §3.1
recommends the latter for one-click POSTs; docs/wire-contract.md §11 accepts both).
Files are refused.

Form tokens (CSRF): the pages set no cookie and hold no session — the link token in the URL
is the only credential. Every form carries a hidden `csrf` field,
`base64url(nonce ‖ HMAC-SHA256(k, purpose ‖ link token ‖ nonce)[:16])`, with `k` derived
from the signing key: a POST is accepted only with a token minted by this server for the
same link and the same form (`purpose` names the form, and the type for a single-type
form). A forged, altered, missing or cross-form token changes nothing. RFC 8058 one-click
POSTs are exempt by design: they carry no cookie, no session and no form token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import AsyncGenerator
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException, MultiPartParser

from commpref.errors import ValidationError
from commpref.services.links import derive_key

MAX_FIELDS = 200  # the manage form has one field per type; no real page comes close
_CSRF_INFO = b"commpref form token v1"
_NONCE = 12
_MAC = 16

Form = list[tuple[str, str]]


class BadForm(ValidationError):
    """A body that cannot be read as a form."""

    def __init__(self) -> None:
        super().__init__("Unreadable form")


async def parse(body: bytes, content_type: str | None) -> Form:
    """The fields of a form body, in order (duplicates kept: checkbox groups)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "multipart/form-data":

        async def stream() -> AsyncGenerator[bytes, None]:
            yield body

        headers = Headers({"content-type": content_type or ""})
        parser = MultiPartParser(headers, stream(), max_files=0, max_fields=MAX_FIELDS)
        try:
            form = await parser.parse()
        except MultiPartException as exc:
            raise BadForm() from exc
        return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    # Anything else is read as URL-encoded: RFC 8058's body is `List-Unsubscribe=One-Click`
    # and some senders forget the content type.
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadForm() from exc


def _mac(key: bytes, purpose: str, link_token: str, nonce: bytes) -> bytes:
    message = b"\x00".join([purpose.encode(), link_token.encode(), nonce])
    return hmac.new(derive_key(key, _CSRF_INFO), message, hashlib.sha256).digest()[:_MAC]


def form_token(key: bytes, purpose: str, link_token: str) -> str:
    """A fresh form token for one form of one link."""
    nonce = secrets.token_bytes(_NONCE)
    raw = nonce + _mac(key, purpose, link_token, nonce)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def form_token_ok(
    value: str | None, keys: tuple[bytes, ...], purpose: str, link_token: str
) -> bool:
    """True when `value` was minted by `form_token` under one of `keys` for this form."""
    if not value or len(value) > 64:
        return False
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return False
    if len(raw) != _NONCE + _MAC:
        return False
    nonce, mac = raw[:_NONCE], raw[_NONCE:]
    return any(hmac.compare_digest(mac, _mac(k, purpose, link_token, nonce)) for k in keys)
