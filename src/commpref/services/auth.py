"""Tokens: issuing secrets, authenticating them, and checking scopes (docs/wire-contract.md §2)."""

from __future__ import annotations

import hashlib
import secrets

from commpref.domain import scopes
from commpref.domain.model import PortalContext, Token
from commpref.domain.scopes import Op
from commpref.errors import AuthenticationError, ExpiredAuthentication, MissingScopes
from commpref.storage.store import Store

SECRET_PREFIX = "pat-cp-"


def new_secret() -> str:
    """A fresh token secret; only its hash is ever stored."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    # A fast hash suffices: secrets are 256-bit random, so there is nothing to brute-force,
    # and lookups by hash reveal nothing through timing about other tokens.
    return hashlib.sha256(secret.encode()).hexdigest()


async def authenticate(
    *, store: Store, secret: str | None, now: int
) -> tuple[Token, PortalContext]:
    """The token and portal behind a secret; 401 when missing, unknown, revoked or expired."""
    if not secret:
        raise AuthenticationError()
    found = await store.authenticate(hash_secret(secret))
    if found is None:
        raise AuthenticationError()
    token, ctx = found
    if token.revoked_at is not None:
        raise AuthenticationError()
    if token.expires_at is not None and token.expires_at <= now:
        raise ExpiredAuthentication((now - token.expires_at) // 60_000)
    return token, ctx


def authorize(op: Op, token: Token, ctx: PortalContext) -> None:
    """403 unless the token holds one alternative of `op` (and the batch gate is open)."""
    gated = op in scopes.BATCH_OPS and not ctx.portal.batch_scopes_enabled
    if gated or not scopes.allows(op, token.scopes):
        names, all_required = scopes.required_for_message(op)
        raise MissingScopes(names, all_required=all_required)


class TokenUses:
    """When each token was last used, noted in memory by every authenticated request and
    written in one batch every `FLUSH_S` seconds and at shutdown (`flush`): a write per
    request would put a transaction on the hot path, and `token list` needs no more than
    the minute."""

    FLUSH_S = 30.0

    def __init__(self) -> None:
        self._seen: dict[int, int] = {}

    def note(self, token_id: int, now: int) -> None:
        self._seen[token_id] = now

    async def flush(self, store: Store) -> None:
        if self._seen:
            uses, self._seen = self._seen, {}
            await store.note_token_uses(uses)
