"""Console users and what each role may do (docs/console.md).

Roles are ordered: each one may do everything the one before it may.

| role   | may                                                                      |
|--------|--------------------------------------------------------------------------|
| viewer | read everything of its portals                                           |
| editor | change statuses, unsubscribe from all, erase, run imports and exports    |
| admin  | manage types, business units, tokens, webhooks and portal settings       |
| owner  | manage console users                                                     |
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Role(IntEnum):
    VIEWER = 1
    EDITOR = 2
    ADMIN = 3
    OWNER = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            names = ", ".join(r.label for r in cls)
            raise ValueError(f"Unknown role {value!r}: one of {names}") from None


ROLES = tuple(r.label for r in Role)


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    id: int
    email: str
    role: Role
    portals: frozenset[int] | None  # None: every portal
    password_hash: str
    created_at: int
    updated_at: int
    disabled_at: int | None = None

    def sees(self, portal_id: int) -> bool:
        return self.portals is None or portal_id in self.portals

    def may(self, role: Role) -> bool:
        return self.disabled_at is None and self.role >= role


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    id_hash: str
    user_id: int
    csrf: str  # the session's form token secret
    created_at: int
    seen_at: int
    ended_at: int | None = None

    def live(self, *, now: int, idle_ms: int, max_ms: int) -> bool:
        """Not ended, used within `idle_ms`, and younger than `max_ms`."""
        return (
            self.ended_at is None
            and now - self.seen_at <= idle_ms
            and now - self.created_at <= max_ms
        )
