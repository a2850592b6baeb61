"""Preference-link keys on PostgreSQL (`linkkeys.LinkKeyStore`)."""

from __future__ import annotations

from typing import Any

from commpref.domain.model import LinkKey
from commpref.errors import NotFound
from commpref.storage.postgres.connection import PostgresConnections

_KEY = "id, portal_id, secret, created_at, retired_at"
LOCK_PORTAL = "SELECT id FROM portals WHERE id = $1 FOR UPDATE"
ADD = f"INSERT INTO link_keys (portal_id, secret, created_at) VALUES ($1, $2, $3) RETURNING {_KEY}"
SET_SEALING = "UPDATE portals SET link_key_id = $2 WHERE id = $1"
RETIRE = """
UPDATE link_keys SET retired_at = $2
WHERE portal_id = $1 AND retired_at IS NULL
  AND id IS DISTINCT FROM (SELECT link_key_id FROM portals WHERE id = $1)
"""
RETIRE_SERVER_KEYS = "UPDATE portals SET server_link_keys = FALSE WHERE id = $1"
GET = f"SELECT {_KEY} FROM link_keys WHERE id = $1"
LIST = f"SELECT {_KEY} FROM link_keys WHERE portal_id = $1 ORDER BY id DESC"


def _key(row: Any) -> LinkKey:
    return LinkKey(row[0], row[1], row[2], row[3], row[4])


class PostgresLinkKeys(PostgresConnections):
    async def add_link_key(self, *, portal_id: int, secret: str, now: int) -> LinkKey:
        async with self._connection() as con, con.transaction():
            # Rotations of one portal take turns, so the newest key is the one that seals.
            if await con.fetchval(LOCK_PORTAL, portal_id) is None:
                raise NotFound(f"Portal {portal_id} does not exist")
            row = await con.fetchrow(ADD, portal_id, secret, now)
            await con.execute(SET_SEALING, portal_id, row[0])
        return _key(row)

    async def retire_link_keys(self, *, portal_id: int, now: int) -> int:
        async with self._connection() as con, con.transaction():
            # The portal's row first: a rotation committing meanwhile waits, or is seen.
            await con.execute(RETIRE_SERVER_KEYS, portal_id)
            status = await con.execute(RETIRE, portal_id, now)
        return int(status.split()[-1])

    async def link_key(self, key_id: int) -> LinkKey | None:
        async with self._connection() as con:
            row = await con.fetchrow(GET, key_id)
        return None if row is None else _key(row)

    async def list_link_keys(self, portal_id: int) -> list[LinkKey]:
        async with self._connection() as con:
            rows = await con.fetch(LIST, portal_id)
        return [_key(r) for r in rows]
