"""Console users, sessions and the sign-in throttle on SQLite (`console.ConsoleStore`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from commpref.domain.console import ConsoleSession, ConsoleUser, Role
from commpref.errors import Conflict, NotFound
from commpref.storage.sqlite.connection import SqliteConnections
from commpref.storage.sqlite.transactions import one

Conn = sqlite3.Connection
_LAST = "\U0010ffff"  # sorts after every character: [p, p + _LAST) holds what starts with p

_USER = (
    "SELECT id, email, role, all_portals, password_hash, created_at, updated_at, disabled_at, "
    "(SELECT group_concat(portal_id) FROM console_memberships m WHERE m.user_id = u.id) "
    "FROM console_users u"
)
_SESSION = "SELECT id_hash, user_id, csrf, created_at, seen_at, ended_at FROM console_sessions"


def _user(r: Sequence[Any]) -> ConsoleUser:
    portals = None if r[3] else frozenset(int(p) for p in (r[8] or "").split(",") if p)
    return ConsoleUser(r[0], r[1], Role.parse(r[2]), portals, r[4], r[5], r[6], r[7])


def _get_user(c: Conn, user_id: int) -> ConsoleUser | None:
    row = one(c, f"{_USER} WHERE id = ?", (user_id,))
    return None if row is None else _user(row)


def _set_portals(c: Conn, user_id: int, portals: Sequence[int] | None) -> None:
    c.execute("DELETE FROM console_memberships WHERE user_id = ?", (user_id,))
    c.execute("UPDATE console_users SET all_portals = ? WHERE id = ?", (portals is None, user_id))
    for portal_id in sorted(set(portals or ())):
        if one(c, "SELECT 1 FROM portals WHERE id = ?", (portal_id,)) is None:
            raise NotFound(f"Portal {portal_id} does not exist")
        c.execute(
            "INSERT INTO console_memberships (user_id, portal_id) VALUES (?, ?)",
            (user_id, portal_id),
        )


def _create_user(
    c: Conn, email: str, password_hash: str, role: str, portals: Sequence[int] | None, now: int
) -> ConsoleUser:
    if one(c, "SELECT 1 FROM console_users WHERE email = ?", (email,)) is not None:
        raise Conflict(f"A console user with the address {email} exists already")
    user_id = c.execute(
        "INSERT INTO console_users (email, password_hash, role, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (email, password_hash, role, now, now),
    ).lastrowid
    assert user_id is not None
    _set_portals(c, user_id, portals)
    user = _get_user(c, user_id)
    assert user is not None
    return user


def _update_user(
    c: Conn,
    user_id: int,
    now: int,
    role: str | None,
    portals: Sequence[int] | None,
    set_portals: bool,
    password_hash: str | None,
    disabled: bool | None,
) -> ConsoleUser:
    if _get_user(c, user_id) is None:
        raise NotFound(f"Console user {user_id} does not exist")
    if role is not None:
        c.execute("UPDATE console_users SET role = ? WHERE id = ?", (role, user_id))
    if set_portals:
        _set_portals(c, user_id, portals)
    if password_hash is not None:
        c.execute(
            "UPDATE console_users SET password_hash = ? WHERE id = ?", (password_hash, user_id)
        )
    if disabled is not None:
        c.execute(
            "UPDATE console_users SET disabled_at = ? WHERE id = ?",
            (now if disabled else None, user_id),
        )
    if password_hash is not None or disabled:
        _end_sessions(c, user_id, now)
    c.execute("UPDATE console_users SET updated_at = ? WHERE id = ?", (now, user_id))
    user = _get_user(c, user_id)
    assert user is not None
    return user


def _end_sessions(c: Conn, user_id: int, now: int) -> None:
    c.execute(
        "UPDATE console_sessions SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL",
        (now, user_id),
    )


def _note_failure(c: Conn, keys: Sequence[str], now: int, keep_ms: int) -> None:
    c.execute("DELETE FROM signin_attempts WHERE at < ?", (now - keep_ms,))
    c.executemany("INSERT INTO signin_attempts (key, at) VALUES (?, ?)", [(k, now) for k in keys])


class SqliteConsole(SqliteConnections):
    async def create_user(
        self,
        *,
        email: str,
        password_hash: str,
        role: str,
        portals: Sequence[int] | None,
        now: int,
    ) -> ConsoleUser:
        return await self._write(
            lambda c: _create_user(c, email, password_hash, role, portals, now)
        )

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
        return await self._write(
            lambda c: _update_user(
                c, user_id, now, role, portals, set_portals, password_hash, disabled
            )
        )

    async def get_user(self, user_id: int) -> ConsoleUser | None:
        return await self._read(lambda c: _get_user(c, user_id))

    async def find_user(self, email: str) -> ConsoleUser | None:
        row = await self._read(lambda c: one(c, f"{_USER} WHERE email = ?", (email,)))
        return None if row is None else _user(row)

    async def list_users(self, portal_id: int | None = None) -> list[ConsoleUser]:
        args: tuple[int, ...] = ()
        if portal_id is None:
            sql = f"{_USER} ORDER BY id"
        else:
            sql = (
                f"{_USER} WHERE all_portals OR EXISTS (SELECT 1 FROM console_memberships m "
                "WHERE m.user_id = u.id AND m.portal_id = ?) ORDER BY id"
            )
            args = (portal_id,)
        rows = await self._read(lambda c: c.execute(sql, args).fetchall())
        return [_user(r) for r in rows]

    async def create_session(
        self, *, id_hash: str, user_id: int, csrf: str, now: int
    ) -> ConsoleSession:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO console_sessions (id_hash, user_id, csrf, created_at, seen_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (id_hash, user_id, csrf, now, now),
            )
        )
        return ConsoleSession(id_hash, user_id, csrf, now, now)

    async def get_session(self, id_hash: str) -> tuple[ConsoleSession, ConsoleUser] | None:
        def read(c: Conn) -> tuple[ConsoleSession, ConsoleUser] | None:
            row = one(c, f"{_SESSION} WHERE id_hash = ?", (id_hash,))
            if row is None:
                return None
            user = _get_user(c, row[1])
            return None if user is None else (ConsoleSession(*row), user)

        return await self._read(read)

    async def touch_session(self, id_hash: str, *, now: int) -> None:
        await self._write(
            lambda c: c.execute(
                "UPDATE console_sessions SET seen_at = max(seen_at, ?) WHERE id_hash = ?",
                (now, id_hash),
            )
        )

    async def end_session(self, id_hash: str, *, now: int) -> None:
        await self._write(
            lambda c: c.execute(
                "UPDATE console_sessions SET ended_at = coalesce(ended_at, ?) WHERE id_hash = ?",
                (now, id_hash),
            )
        )

    async def find_addresses(self, portal_id: int, prefix: str, *, limit: int) -> list[str]:
        sql = (
            "SELECT email FROM subscribers WHERE portal_id = ? AND email >= ? AND email < ? "
            "ORDER BY email LIMIT ?"
        )
        args = (portal_id, prefix, prefix + _LAST, limit)
        return [r[0] for r in await self._read(lambda c: c.execute(sql, args).fetchall())]

    async def latest_entry_ids(self, portal_id: int, *, limit: int) -> list[int]:
        sql = "SELECT id FROM events WHERE portal_id = ? ORDER BY id DESC LIMIT ?"
        rows = await self._read(lambda c: c.execute(sql, (portal_id, limit)).fetchall())
        return [r[0] for r in rows]

    async def note_signin_failure(self, keys: Sequence[str], *, now: int, keep_ms: int) -> None:
        await self._write(lambda c: _note_failure(c, keys, now, keep_ms))

    async def signin_failures(self, key: str, *, since: int) -> int:
        sql = "SELECT count(*) FROM signin_attempts WHERE key = ? AND at >= ?"
        return int((await self._read(lambda c: one(c, sql, (key, since))))[0])

    async def clear_signin_failures(self, keys: Sequence[str]) -> None:
        await self._write(
            lambda c: c.executemany(
                "DELETE FROM signin_attempts WHERE key = ?", [(k,) for k in keys]
            )
        )
