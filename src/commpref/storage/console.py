"""Console users, their sessions and the sign-in throttle: the part of the storage interface
(`store.Store`) behind the operator's console (`services.console`).

Passwords arrive hashed (argon2id, `services.console`); sessions are kept by the SHA-256 of
the cookie's value, never the value itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from commpref.domain.console import ConsoleSession, ConsoleUser


class ConsoleStore(ABC):
    # --- users -----------------------------------------------------------------------------
    @abstractmethod
    async def create_user(
        self,
        *,
        email: str,
        password_hash: str,
        role: str,
        portals: Sequence[int] | None,
        now: int,
    ) -> ConsoleUser:
        """`portals` None: every portal. Raises Conflict when the address has a user, and
        NotFound for an unknown portal."""

    @abstractmethod
    async def update_user(
        self,
        user_id: int,
        *,
        now: int,
        role: str | None = None,
        portals: Sequence[int] | None = None,
        set_portals: bool = False,
        password_hash: str | None = None,
        disabled: bool | None = None,
    ) -> ConsoleUser:
        """Change what is given; the portals only with `set_portals` (`portals` None: every
        portal). Disabling a user or changing the password ends the user's sessions. Raises
        NotFound."""

    @abstractmethod
    async def get_user(self, user_id: int) -> ConsoleUser | None: ...

    @abstractmethod
    async def find_user(self, email: str) -> ConsoleUser | None:
        """The user with this address (already lowercased by the caller)."""

    @abstractmethod
    async def list_users(self, portal_id: int | None = None) -> list[ConsoleUser]:
        """Every user, or those who can see `portal_id`, by id."""

    # --- sessions --------------------------------------------------------------------------
    @abstractmethod
    async def create_session(
        self, *, id_hash: str, user_id: int, csrf: str, now: int
    ) -> ConsoleSession: ...

    @abstractmethod
    async def get_session(self, id_hash: str) -> tuple[ConsoleSession, ConsoleUser] | None:
        """The session (ended ones included: the caller decides) and its user."""

    @abstractmethod
    async def touch_session(self, id_hash: str, *, now: int) -> None:
        """Note that the session was used at `now` (it expires after idle time)."""

    @abstractmethod
    async def end_session(self, id_hash: str, *, now: int) -> None: ...

    # --- finding addresses -------------------------------------------------------------------
    @abstractmethod
    async def find_addresses(self, portal_id: int, prefix: str, *, limit: int) -> list[str]:
        """Stored addresses of the portal that start with `prefix`, in order (a key range:
        fast whatever the number of subscribers)."""

    @abstractmethod
    async def latest_entry_ids(self, portal_id: int, *, limit: int) -> list[int]:
        """Ids of the portal's newest ledger entries, newest first (`ledger_entries` reads
        them)."""

    # --- the sign-in throttle --------------------------------------------------------------
    @abstractmethod
    async def note_signin_failure(self, keys: Sequence[str], *, now: int, keep_ms: int) -> None:
        """Record a failed sign-in under each key (an address, a client); forget attempts
        older than `keep_ms`."""

    @abstractmethod
    async def signin_failures(self, key: str, *, since: int) -> int:
        """Failed sign-ins under `key` at or after `since`."""

    @abstractmethod
    async def clear_signin_failures(self, keys: Sequence[str]) -> None: ...
