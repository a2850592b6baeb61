"""Preference-link keys on SQLite (`linkkeys.LinkKeyStore`)."""

from __future__ import annotations

from typing import Any

from commpref.domain.model import LinkKey
from commpref.errors import NotFound
from commpref.storage.sqlite.connection import Conn, SqliteConnections
from commpref.storage.sqlite.transactions import one

_KEY = "id, portal_id, secret, created_at, retired_at"


def _key(row: Any) -> LinkKey:
    return LinkKey(row[0], row[1], row[2], row[3], row[4])


def _add(c: Conn, portal_id: int, secret: str, now: int) -> LinkKey:
    if one(c, "SELECT 1 FROM portals WHERE id = ?", (portal_id,)) is None:
        raise NotFound(f"Portal {portal_id} does not exist")
    row = one(
        c,
        f"INSERT INTO link_keys (portal_id, secret, created_at) VALUES (?, ?, ?) RETURNING {_KEY}",
        (portal_id, secret, now),
    )
    assert row is not None
    c.execute("UPDATE portals SET link_key_id = ? WHERE id = ?", (row[0], portal_id))
    return _key(row)


def _retire(c: Conn, portal_id: int, now: int) -> int:
    retired = c.execute(
        "UPDATE link_keys SET retired_at = ? WHERE portal_id = ? AND retired_at IS NULL"
        " AND id IS NOT (SELECT link_key_id FROM portals WHERE id = ?)",
        (now, portal_id, portal_id),
    ).rowcount
    c.execute("UPDATE portals SET server_link_keys = 0 WHERE id = ?", (portal_id,))
    return retired


class SqliteLinkKeys(SqliteConnections):
    async def add_link_key(self, *, portal_id: int, secret: str, now: int) -> LinkKey:
        return await self._write(lambda c: _add(c, portal_id, secret, now))

    async def retire_link_keys(self, *, portal_id: int, now: int) -> int:
        return await self._write(lambda c: _retire(c, portal_id, now))

    async def link_key(self, key_id: int) -> LinkKey | None:
        sql = f"SELECT {_KEY} FROM link_keys WHERE id = ?"
        row = self._read_now(lambda c: one(c, sql, (key_id,)))
        return None if row is None else _key(row)

    async def list_link_keys(self, portal_id: int) -> list[LinkKey]:
        sql = f"SELECT {_KEY} FROM link_keys WHERE portal_id = ? ORDER BY id DESC"
        return await self._read(lambda c: [_key(r) for r in c.execute(sql, (portal_id,))])
