"""Console users, sessions and the sign-in throttle on PostgreSQL (`console.ConsoleStore`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from commpref.domain.console import ConsoleSession, ConsoleUser, Role
from commpref.errors import Conflict, NotFound
from commpref.storage.postgres.connection import PostgresConnections

_USER = """
SELECT id, email, role, all_portals, password_hash, created_at, updated_at, disabled_at,
    ARRAY(SELECT portal_id FROM console_memberships m WHERE m.user_id = u.id) AS portals
FROM console_users u"""
GET_USER = _USER + " WHERE id = $1"
FIND_USER = _USER + " WHERE email = $1"
LIST_USERS = _USER + " ORDER BY id"
LIST_PORTAL_USERS = (
    _USER + " WHERE all_portals OR EXISTS (SELECT 1 FROM console_memberships m "
    "WHERE m.user_id = u.id AND m.portal_id = $1) ORDER BY id"
)
INSERT_USER = """
INSERT INTO console_users (email, password_hash, role, created_at, updated_at)
VALUES ($1, $2, $3, $4, $4) RETURNING id
"""
SET_ALL_PORTALS = "UPDATE console_users SET all_portals = $2 WHERE id = $1"
CLEAR_MEMBERSHIPS = "DELETE FROM console_memberships WHERE user_id = $1"
ADD_MEMBERSHIPS = """
INSERT INTO console_memberships (user_id, portal_id) SELECT $1, p FROM unnest($2::bigint[]) p
"""
UPDATE_USER = """
UPDATE console_users SET
    role = coalesce($3, role),
    password_hash = coalesce($4, password_hash),
    disabled_at = CASE WHEN $5::boolean IS NULL THEN disabled_at
                       WHEN $5 THEN coalesce(disabled_at, $2) ELSE NULL END,
    updated_at = $2
WHERE id = $1
"""
END_USER_SESSIONS = """
UPDATE console_sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL
"""
_SESSION = "SELECT id_hash, user_id, csrf, created_at, seen_at, ended_at FROM console_sessions"
GET_SESSION = _SESSION + " WHERE id_hash = $1"
INSERT_SESSION = """
INSERT INTO console_sessions (id_hash, user_id, csrf, created_at, seen_at)
VALUES ($1, $2, $3, $4, $4)
"""
TOUCH_SESSION = "UPDATE console_sessions SET seen_at = greatest(seen_at, $2) WHERE id_hash = $1"
END_SESSION = """
UPDATE console_sessions SET ended_at = coalesce(ended_at, $2) WHERE id_hash = $1
"""
# A key range on the primary key; starts_with keeps the answer exact under any collation.
FIND_ADDRESSES = """
SELECT email FROM subscribers
WHERE portal_id = $1 AND email >= $2 AND email < $3 AND created_at >= 0
    AND starts_with(email, $2)
ORDER BY email LIMIT $4
"""
_LAST = "\U0010ffff"  # sorts after every character: [p, p + _LAST) holds what starts with p
LATEST_ENTRIES = "SELECT id FROM events WHERE portal_id = $1 ORDER BY id DESC LIMIT $2"
FORGET_ATTEMPTS = "DELETE FROM signin_attempts WHERE at < $1"
NOTE_ATTEMPTS = "INSERT INTO signin_attempts (key, at) SELECT k, $2 FROM unnest($1::text[]) k"
COUNT_ATTEMPTS = "SELECT count(*) FROM signin_attempts WHERE key = $1 AND at >= $2"
CLEAR_ATTEMPTS = "DELETE FROM signin_attempts WHERE key = ANY($1::text[])"


def _user(r: Any) -> ConsoleUser:
    portals = None if r["all_portals"] else frozenset(r["portals"])
    return ConsoleUser(
        r["id"], r["email"], Role.parse(r["role"]), portals, r["password_hash"],
        r["created_at"], r["updated_at"], r["disabled_at"],
    )  # fmt: skip


async def _set_portals(con: Any, user_id: int, portals: Sequence[int] | None) -> None:
    await con.execute(CLEAR_MEMBERSHIPS, user_id)
    await con.execute(SET_ALL_PORTALS, user_id, portals is None)
    if portals:
        try:
            await con.execute(ADD_MEMBERSHIPS, user_id, sorted(set(portals)))
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound("A portal given does not exist") from exc


class PostgresConsole(PostgresConnections):
    async def create_user(
        self,
        *,
        email: str,
        password_hash: str,
        role: str,
        portals: Sequence[int] | None,
        now: int,
    ) -> ConsoleUser:
        async with self._connection() as con, con.transaction():
            try:
                user_id = await con.fetchval(INSERT_USER, email, password_hash, role, now)
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(f"A console user with the address {email} exists already") from exc
            await _set_portals(con, user_id, portals)
            return _user(await con.fetchrow(GET_USER, user_id))

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
        async with self._connection() as con, con.transaction():
            done = await con.execute(UPDATE_USER, user_id, now, role, password_hash, disabled)
            if done.endswith(" 0"):
                raise NotFound(f"Console user {user_id} does not exist")
            if set_portals:
                await _set_portals(con, user_id, portals)
            if password_hash is not None or disabled:
                await con.execute(END_USER_SESSIONS, user_id, now)
            return _user(await con.fetchrow(GET_USER, user_id))

    async def get_user(self, user_id: int) -> ConsoleUser | None:
        async with self._connection() as con:
            row = await con.fetchrow(GET_USER, user_id)
        return None if row is None else _user(row)

    async def find_user(self, email: str) -> ConsoleUser | None:
        async with self._connection() as con:
            row = await con.fetchrow(FIND_USER, email)
        return None if row is None else _user(row)

    async def list_users(self, portal_id: int | None = None) -> list[ConsoleUser]:
        async with self._connection() as con:
            if portal_id is None:
                rows = await con.fetch(LIST_USERS)
            else:
                rows = await con.fetch(LIST_PORTAL_USERS, portal_id)
        return [_user(r) for r in rows]

    async def create_session(
        self, *, id_hash: str, user_id: int, csrf: str, now: int
    ) -> ConsoleSession:
        async with self._connection() as con:
            await con.execute(INSERT_SESSION, id_hash, user_id, csrf, now)
        return ConsoleSession(id_hash, user_id, csrf, now, now)

    async def get_session(self, id_hash: str) -> tuple[ConsoleSession, ConsoleUser] | None:
        async with self._connection() as con:
            row = await con.fetchrow(GET_SESSION, id_hash)
            if row is None:
                return None
            user = await con.fetchrow(GET_USER, row["user_id"])
        return None if user is None else (ConsoleSession(*row.values()), _user(user))

    async def touch_session(self, id_hash: str, *, now: int) -> None:
        async with self._connection() as con:
            await con.execute(TOUCH_SESSION, id_hash, now)

    async def end_session(self, id_hash: str, *, now: int) -> None:
        async with self._connection() as con:
            await con.execute(END_SESSION, id_hash, now)

    async def find_addresses(self, portal_id: int, prefix: str, *, limit: int) -> list[str]:
        async with self._connection() as con:
            rows = await con.fetch(FIND_ADDRESSES, portal_id, prefix, prefix + _LAST, limit)
        return [r["email"] for r in rows]

    async def latest_entry_ids(self, portal_id: int, *, limit: int) -> list[int]:
        async with self._connection() as con:
            rows = await con.fetch(LATEST_ENTRIES, portal_id, limit)
        return [r["id"] for r in rows]

    async def note_signin_failure(self, keys: Sequence[str], *, now: int, keep_ms: int) -> None:
        async with self._connection() as con, con.transaction():
            await con.execute(FORGET_ATTEMPTS, now - keep_ms)
            await con.execute(NOTE_ATTEMPTS, list(keys), now)

    async def signin_failures(self, key: str, *, since: int) -> int:
        async with self._connection() as con:
            return int(await con.fetchval(COUNT_ATTEMPTS, key, since))

    async def clear_signin_failures(self, keys: Sequence[str]) -> None:
        async with self._connection() as con:
            await con.execute(CLEAR_ATTEMPTS, list(keys))
