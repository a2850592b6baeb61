"""The mail providers a portal takes feedback from, and their keys (docs/feedback.md):
set, listed and removed the same way from `/commpref/v1/feedback-providers`, the console
and `commpref feedback`."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from commpref.domain import feedback_providers as fp
from commpref.domain.feedback_providers import ProviderConfig
from commpref.errors import NotFound
from commpref.storage.store import Store

FEEDBACK_PATH = "/commpref/v1/feedback/"


def endpoint(base_url: str, provider: str, portal_id: int) -> str:
    """The URL to paste into the provider's webhook settings."""
    return f"{base_url.rstrip('/')}{FEEDBACK_PATH}{provider}?portal={portal_id}"


def _check_sendgrid_key(text: str) -> None:
    """SendGrid's verification key: base64 DER (or PEM) of an ECDSA P-256 public key; a
    key that would never verify is refused now rather than at the first delivery."""
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_public_key(text.encode())
        else:
            der = base64.b64decode(text.encode("ascii"), validate=True)
            key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise fp.invalid("publicKey is not a base64 public key", "publicKey") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise fp.invalid("publicKey is not an ECDSA P-256 key", "publicKey")


async def set_provider(
    *, store: Store, portal_id: int, provider: str, config: Mapping[str, object], now: int
) -> ProviderConfig:
    """Create or replace a provider's configuration; a 400 naming the field at fault."""
    p = fp.provider(provider)
    cleaned = fp.clean(p, config)
    if "publicKey" in cleaned:
        _check_sendgrid_key(cleaned["publicKey"])
    return await store.put_feedback_provider(
        portal_id=portal_id, provider=p, config=cleaned, now=now
    )


async def list_providers(*, store: Store, portal_id: int) -> list[ProviderConfig]:
    return await store.list_feedback_providers(portal_id)


async def remove_provider(*, store: Store, portal_id: int, provider: str) -> None:
    """Stop taking the provider's feedback; NotFound when it was not configured."""
    p = fp.provider(provider)
    if not await store.delete_feedback_provider(portal_id, p):
        raise NotFound(f"No {p.value} configuration in portal {portal_id}")
