"""Preference-link keys: the part of the storage interface (`store.Store`) that keeps each
portal's own keys for sealing its links (`services.links`).

A portal's newest key seals its new links and is read with its context
(`Portal.link_key`); a link names the key that sealed it, and verifying reads that key by
id. Retiring makes every key but the newest stop verifying, and the server's keys too
(`Portal.server_link_keys`). Keys are never deleted: a retired key still tells why a link
is refused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from commpref.domain.model import LinkKey


class LinkKeyStore(ABC):
    @abstractmethod
    async def add_link_key(self, *, portal_id: int, secret: str, now: int) -> LinkKey:
        """Keep a new key and make it the one that seals the portal's links; older keys
        keep verifying. Raises NotFound for an unknown portal."""

    @abstractmethod
    async def retire_link_keys(self, *, portal_id: int, now: int) -> int:
        """Retire every key of the portal but the one that seals, and stop the server's keys
        verifying its links; the number of keys newly retired."""

    @abstractmethod
    async def link_key(self, key_id: int) -> LinkKey | None:
        """A key by id, retired or not; None when there is none."""

    @abstractmethod
    async def list_link_keys(self, portal_id: int) -> list[LinkKey]:
        """The portal's keys, newest first."""
