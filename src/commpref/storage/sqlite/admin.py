"""Portals, business units, definitions, tokens and server secrets on SQLite
(`admin.AdminStore`). How they read back, whole portal contexts included, is `context`.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Mapping
from typing import Any

from commpref.domain.model import BusinessUnit, Definition, Portal, PortalContext, Token
from commpref.errors import NotFound, ValidationError
from commpref.storage.sqlite import context
from commpref.storage.sqlite.connection import SqliteConnections
from commpref.storage.sqlite.transactions import one

Conn = sqlite3.Connection

AUTH_CACHE_ENTRIES = 10_000  # tokens per process; past it the cache starts over
PORTAL_FIELDS = frozenset({"gdpr", "brands", "default_language", "strict_v3_unknown_404",
                           "rate_limit_tier", "batch_scopes_enabled", "name", "brand_name",
                           "brand_logo_url", "brand_colour", "double_opt_in",
                           "mail_from"})  # fmt: skip
DEFINITION_FIELDS = frozenset({"name", "description", "purpose", "communication_method",
                               "is_active"})  # fmt: skip
# (name, description, purpose, communication method, is_internal): docs/wire-contract.md §5.1
DEFAULT_DEFINITIONS = (
    ("Marketing Information", "Marketing offers and updates.", "Marketing", "Email", False),
    ("Customer Service Communication",
     "Receive feedback requests and customer service information.", "Service", "Email", True),
    ("One to One", "One to One emails", "Sales", "Email", True),
)  # fmt: skip
SQL_CONFIG_VERSION = "SELECT version FROM config_version WHERE id = 1"
_INSERT_DEFINITION = (
    "INSERT INTO definitions (portal_id, business_unit_id, name, description, purpose, "
    "communication_method, is_active, is_default, is_internal, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_GET_SECRET = "SELECT value FROM server_secrets WHERE name = ?"


_NOTE_TOKEN_USE = (
    "INSERT INTO token_use (token_id, last_used_at) VALUES (?, ?) ON CONFLICT (token_id) "
    "DO UPDATE SET last_used_at = max(last_used_at, excluded.last_used_at)"
)
_TOKEN_USES = (
    "SELECT u.token_id, u.last_used_at FROM token_use u JOIN tokens t ON t.id = u.token_id "
    "WHERE t.portal_id = ?"
)


class SqliteAdmin(SqliteConnections):
    # --- portals, business units, definitions, tokens ------------------------------------
    async def create_portal(
        self,
        *,
        name: str,
        gdpr: bool = False,
        brands: bool = False,
        default_language: str = "en",
        erasure_key: str | None = None,
        now: int,
    ) -> Portal:
        key = erasure_key or secrets.token_hex(32)
        return await self._write(
            lambda c: _create_portal(
                c, name=name, gdpr=gdpr, brands=brands, default_language=default_language,
                erasure_key=key, now=now,
            )
        )  # fmt: skip

    async def update_portal(self, portal_id: int, **flags: object) -> Portal:
        _unknown(flags, PORTAL_FIELDS, "portal")
        return await self._write(lambda c: _update_portal(c, portal_id, flags))

    async def get_portal(self, portal_id: int) -> Portal | None:
        return self._read_now(lambda c: context.get_portal(c, portal_id))

    async def list_portals(self) -> list[Portal]:
        return await self._read(context.list_portals)

    async def create_business_unit(
        self, *, portal_id: int, business_unit_id: int, name: str
    ) -> BusinessUnit:
        return await self._write(
            lambda c: _create_business_unit(c, portal_id, business_unit_id, name)
        )

    async def rename_business_unit(
        self, *, portal_id: int, business_unit_id: int, name: str
    ) -> BusinessUnit:
        return await self._write(
            lambda c: _rename_business_unit(c, portal_id, business_unit_id, name)
        )

    async def list_business_units(self, portal_id: int) -> list[BusinessUnit]:
        return await self._read(lambda c: context.list_business_units(c, portal_id))

    async def create_definition(
        self,
        *,
        portal_id: int,
        name: str,
        description: str,
        business_unit_id: int = 0,
        purpose: str = "",
        communication_method: str = "",
        is_active: bool = True,
        is_default: bool = False,
        is_internal: bool = False,
        now: int,
    ) -> Definition:
        row = (portal_id, business_unit_id, name, description, purpose, communication_method,
               is_active, is_default, is_internal, now, now)  # fmt: skip
        return await self._write(lambda c: _create_definition(c, row))

    async def update_definition(
        self, definition_id: int, *, now: int, **fields: object
    ) -> Definition:
        _unknown(fields, DEFINITION_FIELDS, "definition")
        return await self._write(lambda c: _update_definition(c, definition_id, now, fields))

    async def set_translation(
        self,
        *,
        definition_id: int,
        language_code: str,
        name: str,
        description: str,
        now: int,
    ) -> None:
        await self._write(
            lambda c: _set_translation(c, definition_id, language_code, name, description, now)
        )

    async def delete_translation(self, *, definition_id: int, language_code: str) -> bool:
        return await self._write(lambda c: _delete_translation(c, definition_id, language_code))

    async def create_token(
        self,
        *,
        portal_id: int,
        name: str,
        secret_hash: str,
        scopes: frozenset[str],
        app_id: int | None = None,
        expires_at: int | None = None,
        now: int,
    ) -> Token:
        token = Token(0, portal_id, name, scopes, app_id, now, expires_at)
        return await self._write(lambda c: _create_token(c, token, secret_hash))

    async def revoke_token(self, *, portal_id: int, token_id: int, now: int) -> bool:
        return await self._write(lambda c: _revoke_token(c, portal_id, token_id, now))

    async def list_tokens(self, portal_id: int) -> list[Token]:
        return await self._read(lambda c: context.list_tokens(c, portal_id))

    async def note_token_uses(self, uses: Mapping[int, int]) -> None:
        if uses:
            rows = list(uses.items())
            await self._write(lambda c: c.executemany(_NOTE_TOKEN_USE, rows))

    async def token_uses(self, portal_id: int) -> dict[int, int]:
        rows = await self._read(lambda c: c.execute(_TOKEN_USES, (portal_id,)).fetchall())
        return {token_id: at for token_id, at in rows}

    async def authenticate(self, secret_hash: str) -> tuple[Token, PortalContext] | None:
        return self._read_now(lambda c: self._authenticate(c, secret_hash))

    def _authenticate(self, c: Conn, secret_hash: str) -> tuple[Token, PortalContext] | None:
        """Answered from memory while the change counter (migration 6) stands still: one
        indexed read instead of the token, portal and definitions as JSON."""
        version = one(c, SQL_CONFIG_VERSION)[0]
        cached = self._auth_cache.get(secret_hash)
        if cached is not None and cached[0] == version:
            return cached[1]
        found = context.authenticate(c, secret_hash)
        if found is not None:
            if len(self._auth_cache) >= AUTH_CACHE_ENTRIES:
                self._auth_cache.clear()
            # Read after `version`: a change in between only makes the next call look again.
            self._auth_cache[secret_hash] = (version, found)
        return found

    async def portal_context(self, portal_id: int) -> PortalContext:
        return self._read_now(lambda c: context.portal_context(c, portal_id))

    # --- server secrets ------------------------------------------------------------------
    async def get_secret(self, name: str) -> str | None:
        return self._read_now(lambda c: _get_secret(c, name))

    async def set_secret_if_absent(self, name: str, value: str) -> str:
        return await self._write(lambda c: _set_secret_if_absent(c, name, value))


def _unknown(given: dict[str, object], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ValueError(f"unknown {what} field(s): {', '.join(unknown)}")


# --- statements ----------------------------------------------------------------------------
def _require_portal(c: Conn, portal_id: int) -> None:
    if one(c, "SELECT 1 FROM portals WHERE id = ?", (portal_id,)) is None:
        raise NotFound(f"Portal {portal_id} does not exist")


def _create_portal(
    c: Conn,
    *,
    name: str,
    gdpr: bool,
    brands: bool,
    default_language: str,
    erasure_key: str,
    now: int,
) -> Portal:
    pid = c.execute(
        "INSERT INTO portals (name, gdpr, brands, default_language, secret, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (name, gdpr, brands, default_language, erasure_key, now),
    ).lastrowid
    assert pid is not None
    c.execute("INSERT INTO business_units (portal_id, id, name) VALUES (?, 0, 'Account')", (pid,))
    c.executemany(
        _INSERT_DEFINITION,
        [(pid, 0, n, d, p, m, True, True, i, now, now) for n, d, p, m, i in DEFAULT_DEFINITIONS],
    )
    return _update_portal(c, pid, {})


def _update_portal(c: Conn, portal_id: int, flags: dict[str, object]) -> Portal:
    if flags:  # column names come from PORTAL_FIELDS only (checked by the caller)
        sets = ", ".join(f"{k} = ?" for k in flags)
        c.execute(f"UPDATE portals SET {sets} WHERE id = ?", (*flags.values(), portal_id))
    portal = context.get_portal(c, portal_id)
    if portal is None:
        raise NotFound(f"Portal {portal_id} does not exist")
    return portal


def _create_business_unit(c: Conn, portal_id: int, unit_id: int, name: str) -> BusinessUnit:
    _require_portal(c, portal_id)
    try:
        c.execute(
            "INSERT INTO business_units (portal_id, id, name) VALUES (?, ?, ?)",
            (portal_id, unit_id, name),
        )
    except sqlite3.IntegrityError as e:
        raise ValidationError(f"Business unit {unit_id} already exists") from e
    return BusinessUnit(portal_id, unit_id, name)


def _rename_business_unit(c: Conn, portal_id: int, unit_id: int, name: str) -> BusinessUnit:
    cur = c.execute(
        "UPDATE business_units SET name = ? WHERE portal_id = ? AND id = ?",
        (name, portal_id, unit_id),
    )
    if cur.rowcount != 1:
        raise NotFound(f"Business unit {unit_id} does not exist")
    return BusinessUnit(portal_id, unit_id, name)


def _create_definition(c: Conn, row: tuple[Any, ...]) -> Definition:
    """`row` in `_INSERT_DEFINITION` order (portal id and business unit id first)."""
    portal_id, unit_id = row[0], row[1]
    _require_portal(c, portal_id)
    if one(c, "SELECT 1 FROM business_units WHERE portal_id = ? AND id = ?", row[:2]) is None:
        raise ValidationError(f"Business unit {unit_id} does not exist")
    definition_id = c.execute(_INSERT_DEFINITION, row).lastrowid
    assert definition_id is not None
    return context.get_definition(c, definition_id)


def _update_definition(
    c: Conn, definition_id: int, now: int, fields: dict[str, object]
) -> Definition:
    if fields:  # column names come from DEFINITION_FIELDS only (checked by the caller)
        sets = ", ".join(f"{k} = ?" for k in fields)
        c.execute(
            f"UPDATE definitions SET {sets}, updated_at = ? WHERE id = ?",
            (*fields.values(), now, definition_id),
        )
    return context.get_definition(c, definition_id)


def _set_translation(
    c: Conn, definition_id: int, lang: str, name: str, desc: str, now: int
) -> None:
    context.get_definition(c, definition_id)  # NotFound for an unknown definition
    c.execute(
        "INSERT INTO definition_translations (definition_id, language_code, name, description, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (definition_id, language_code) DO UPDATE SET name = excluded.name, "
        "description = excluded.description, updated_at = excluded.updated_at",
        (definition_id, lang, name, desc, now, now),
    )


def _delete_translation(c: Conn, definition_id: int, lang: str) -> bool:
    cur = c.execute(
        "DELETE FROM definition_translations WHERE definition_id = ? AND language_code = ?",
        (definition_id, lang),
    )
    return cur.rowcount == 1


def _create_token(c: Conn, token: Token, secret_hash: str) -> Token:
    _require_portal(c, token.portal_id)
    scopes = " ".join(sorted(token.scopes))
    token_id = c.execute(
        "INSERT INTO tokens (portal_id, name, secret_hash, scopes, app_id, created_at, "
        "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (token.portal_id, token.name, secret_hash, scopes, token.app_id, token.created_at,
         token.expires_at),
    ).lastrowid  # fmt: skip
    assert token_id is not None
    return Token(token_id, token.portal_id, token.name, token.scopes, token.app_id,
                 token.created_at, token.expires_at)  # fmt: skip


def _revoke_token(c: Conn, portal_id: int, token_id: int, now: int) -> bool:
    cur = c.execute(
        "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND portal_id = ?",
        (now, token_id, portal_id),
    )
    return cur.rowcount == 1


def _get_secret(c: Conn, name: str) -> str | None:
    row = one(c, _GET_SECRET, (name,))
    return None if row is None else str(row[0])


def _set_secret_if_absent(c: Conn, name: str, value: str) -> str:
    c.execute(
        "INSERT INTO server_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (name, value),
    )
    return str(one(c, _GET_SECRET, (name,))[0])
