"""Console users and their sessions (docs/console.md): creating users, signing in and out,
the sign-in throttle, and the session behind every console request.

- Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory
  profile) and rehashed at sign-in when those parameters change.
- A session is a random 256-bit cookie value; the store keeps its SHA-256 only. Each sign-in
  makes a new session (a cookie planted before sign-in is never promoted), and a session
  ends after `console_idle_minutes` without use, after `console_session_hours` in all, at
  sign-out, and when its user is disabled or changes password.
- Failed sign-ins are counted per address and per client over 15 minutes; past
  `console_signin_attempts` / `console_client_attempts` a sign-in is refused (429) before
  the password is even checked, so guessing cannot go on at speed.
- An unknown address costs the same hash as a known one, and the answer is the same.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from commpref.domain import emails
from commpref.domain.console import ConsoleSession, ConsoleUser, Role
from commpref.errors import (
    AuthenticationError,
    CommprefError,
    Forbidden,
    NotFound,
    ValidationError,
)
from commpref.settings import Settings
from commpref.storage.store import Store

THROTTLE_MS = 15 * 60 * 1000
TOUCH_EVERY_MS = 60_000  # a session's last use is written at most once a minute
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
_hasher = PasswordHasher()
# Verified against when the address is unknown, so that both cases cost one argon2 hash.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class SignInRefused(AuthenticationError):
    """Wrong address or password (the answer never says which)."""

    def __init__(self) -> None:
        super().__init__("The address or the password is wrong")


class SignInThrottled(CommprefError):
    http_status = 429
    category = "RATE_LIMITS"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            "Too many failed sign-ins: try again later",
            headers={"Retry-After": str(retry_after_s)},
        )


@dataclass(frozen=True, slots=True)
class Signed:
    """A session just opened: the cookie's value goes to the browser, never to the store."""

    cookie: str
    session: ConsoleSession
    user: ConsoleUser


def hash_password(password: str) -> str:
    check_password(password)
    return _hasher.hash(password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"A password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise ValidationError(f"A password has at most {MAX_PASSWORD} characters")


def session_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def parse_address(raw: str) -> str:
    email = emails.parse(raw)
    if email is None:
        raise ValidationError(f"Not an email address: {raw!r}")
    return email


async def create_user(
    *,
    store: Store,
    email: str,
    password: str,
    role: str,
    portals: Sequence[int] | None,
    now: int,
) -> ConsoleUser:
    """A console user; `portals` None: every portal."""
    try:
        parsed_role = Role.parse(role)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    return await store.create_user(
        email=parse_address(email),
        password_hash=hash_password(password),
        role=parsed_role.label,
        portals=portals,
        now=now,
    )


async def set_password(*, store: Store, user_id: int, password: str, now: int) -> ConsoleUser:
    """A new password; every session of the user ends."""
    return await store.update_user(user_id, now=now, password_hash=hash_password(password))


@dataclass(frozen=True, slots=True)
class Manager:
    """Who changes console users: an owner in the console (their id and portals), or an API
    token (no user; its one portal)."""

    portals: frozenset[int] | None  # None: every portal
    user_id: int | None = None

    def may_manage(self, user: ConsoleUser) -> bool:
        """Only users who see no portal the manager does not: a password set by a manager
        of fewer portals would otherwise open the others to them."""
        if self.portals is None:
            return True
        return user.portals is not None and user.portals <= self.portals


async def manageable_user(
    *, store: Store, manager: Manager, user_id: int, portal_id: int
) -> ConsoleUser:
    """The user, when it sees `portal_id` (else NotFound, as if it did not exist) and the
    manager may change it (else Forbidden)."""
    user = await store.get_user(user_id)
    if user is None or not user.sees(portal_id):
        raise NotFound(f"Console user {user_id} does not exist")
    if not manager.may_manage(user):
        raise Forbidden("This user sees portals you do not: an owner of every one may change it")
    return user


async def change_user(
    *,
    store: Store,
    manager: Manager,
    user_id: int,
    portal_id: int,
    now: int,
    role: str | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> ConsoleUser:
    """Change a user's role, switch it off or on, or give it a new password. Nobody changes
    their own role or disables themselves (so a portal never loses its last owner by a
    slip): another owner must."""
    user = await manageable_user(store=store, manager=manager, user_id=user_id, portal_id=portal_id)
    myself = user.id == manager.user_id
    label = None
    if role is not None:
        try:
            label = Role.parse(role).label
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if myself and label != user.role.label:
            raise ValidationError("You cannot change your own role: ask another owner")
    if disabled and myself:
        raise ValidationError("You cannot disable yourself: ask another owner")
    return await store.update_user(
        user.id,
        now=now,
        role=label,
        disabled=disabled,
        password_hash=None if password is None else hash_password(password),
    )


async def sign_in(
    *, store: Store, settings: Settings, email: str, password: str, client: str, now: int
) -> Signed:
    address = emails.normalise(email)[: emails.MAX_EMAIL_LENGTH]
    keys = [f"address:{address}", f"client:{client}"]
    since = now - THROTTLE_MS
    limits = (settings.console_signin_attempts, settings.console_client_attempts)
    for key, limit in zip(keys, limits, strict=True):
        if await store.signin_failures(key, since=since) >= limit:
            raise SignInThrottled(THROTTLE_MS // 1000)
    user = await store.find_user(address) if emails.is_valid(address) else None
    if not _verify(user.password_hash if user else _DUMMY_HASH, password) or user is None:
        await store.note_signin_failure(keys, now=now, keep_ms=THROTTLE_MS)
        raise SignInRefused()
    if user.disabled_at is not None:
        await store.note_signin_failure(keys, now=now, keep_ms=THROTTLE_MS)
        raise SignInRefused()
    await store.clear_signin_failures(keys[:1])
    if _hasher.check_needs_rehash(user.password_hash):
        user = await store.update_user(user.id, now=now, password_hash=_hasher.hash(password))
    cookie = secrets.token_urlsafe(32)
    session = await store.create_session(
        id_hash=session_hash(cookie), user_id=user.id, csrf=secrets.token_urlsafe(32), now=now
    )
    return Signed(cookie, session, user)


async def check_credentials(*, store: Store, email: str, password: str) -> bool:
    """Whether an enabled user has this password (no throttle, no session: the CLI's
    check of credentials it keeps itself)."""
    user = await store.find_user(emails.normalise(email))
    return user is not None and user.disabled_at is None and _verify(user.password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return False


async def session(
    *, store: Store, settings: Settings, cookie: str | None, now: int
) -> tuple[ConsoleSession, ConsoleUser] | None:
    """The live session behind a cookie and its (enabled) user, or None."""
    if not cookie or len(cookie) > 100:
        return None
    id_hash = session_hash(cookie)
    found = await store.get_session(id_hash)
    if found is None:
        return None
    current, user = found
    live = current.live(
        now=now,
        idle_ms=settings.console_idle_minutes * 60_000,
        max_ms=settings.console_session_hours * 3_600_000,
    )
    if not live or user.disabled_at is not None:
        return None
    if now - current.seen_at >= TOUCH_EVERY_MS:
        await store.touch_session(id_hash, now=now)
    return current, user


async def sign_out(*, store: Store, cookie: str | None, now: int) -> None:
    if cookie and len(cookie) <= 100:
        await store.end_session(session_hash(cookie), now=now)


def form_token(current: ConsoleSession, purpose: str = "console") -> str:
    """The token every form of a session carries (CSRF)."""
    mac = hmac.new(current.csrf.encode(), purpose.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def form_token_ok(current: ConsoleSession, given: str | None, purpose: str = "console") -> bool:
    return given is not None and hmac.compare_digest(form_token(current, purpose), given)
