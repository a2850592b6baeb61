"""Portals, business units, definitions, tokens and server secrets on PostgreSQL
(`admin.AdminStore`). How they read back, whole portal contexts included, is `context`;
the statements that change them are `admin_sql`.

Each process caches what `authenticate` found (`auth_cache`), dropped when any process
changes what it reads (a notification) and, in this process, once the change is made.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from commpref.domain.model import BusinessUnit, Definition, Portal, PortalContext, Token
from commpref.errors import NotFound, ValidationError
from commpref.storage.postgres.admin_sql import (
    DEFAULT_DEFINITIONS,
    DEFAULT_UNIT_NAME,
    DEFINITION_FIELDS,
    DELETE_TRANSLATION,
    GET_SECRET,
    INSERT_BUSINESS_UNIT,
    INSERT_DEFAULT_DEFINITIONS,
    INSERT_DEFINITION,
    INSERT_PORTAL,
    INSERT_SECRET,
    INSERT_TOKEN,
    PORTAL_FLAGS,
    RENAME_BUSINESS_UNIT,
    REVOKE_TOKEN,
    UPSERT_TRANSLATION,
    update_definition_sql,
    update_portal_sql,
)
from commpref.storage.postgres.auth_cache import AuthCache
from commpref.storage.postgres.connection import PostgresConnections
from commpref.storage.postgres.context import (
    AUTHENTICATE,
    GET_DEFINITION,
    GET_PORTAL,
    GET_TRANSLATIONS,
    LIST_BUSINESS_UNITS,
    LIST_PORTALS,
    LIST_TOKENS,
    NOTE_TOKEN_USES,
    PORTAL_CONTEXT,
    TOKEN_USES,
    context,
    definition,
    portal,
    token,
    translation,
)


def encode_scopes(scopes: frozenset[str]) -> str:
    return " ".join(sorted(scopes))


class PostgresAdmin(PostgresConnections):
    auth_cache: AuthCache

    @asynccontextmanager
    async def _changing(self) -> AsyncIterator[Any]:
        """A connection for a change to what `authenticate` answers. Other processes drop
        their cached look-ups when notified; this one drops its own once the change is
        made, so its next request sees it (a revoked token fails at once)."""
        try:
            async with self._connection() as con:
                yield con
        finally:
            self.auth_cache.changed()

    # --- portals, business units, definitions, tokens --------------------------------------
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
        names, descriptions, purposes, internal = zip(*DEFAULT_DEFINITIONS, strict=True)
        async with self._changing() as con, con.transaction():
            row = await con.fetchrow(
                INSERT_PORTAL,
                name,
                gdpr,
                brands,
                default_language,
                erasure_key or secrets.token_hex(32),
                now,
            )
            await con.execute(INSERT_BUSINESS_UNIT, row["id"], 0, DEFAULT_UNIT_NAME)
            await con.execute(
                INSERT_DEFAULT_DEFINITIONS,
                row["id"],
                list(names),
                list(descriptions),
                list(purposes),
                now,
                list(internal),
            )
        return portal(row)

    async def update_portal(self, portal_id: int, **flags: object) -> Portal:
        unknown = set(flags) - PORTAL_FLAGS
        if unknown:
            raise ValueError(f"unknown portal field(s): {', '.join(sorted(unknown))}")
        async with self._changing() as con:
            if flags:
                names = sorted(flags)
                statement = update_portal_sql(names)
                row = await con.fetchrow(statement, portal_id, *(flags[n] for n in names))
            else:
                row = await con.fetchrow(GET_PORTAL, portal_id)
        if row is None:
            raise NotFound(f"Portal {portal_id} does not exist")
        return portal(row)

    async def get_portal(self, portal_id: int) -> Portal | None:
        async with self._connection() as con:
            row = await con.fetchrow(GET_PORTAL, portal_id)
        return None if row is None else portal(row)

    async def list_portals(self) -> list[Portal]:
        async with self._connection() as con:
            rows = await con.fetch(LIST_PORTALS)
        return [portal(r) for r in rows]

    async def create_business_unit(
        self, *, portal_id: int, business_unit_id: int, name: str
    ) -> BusinessUnit:
        async with self._changing() as con:
            try:
                await con.execute(INSERT_BUSINESS_UNIT, portal_id, business_unit_id, name)
            except asyncpg.ForeignKeyViolationError as exc:
                raise NotFound(f"Portal {portal_id} does not exist") from exc
            except asyncpg.UniqueViolationError as exc:
                raise ValidationError(f"Business unit {business_unit_id} already exists") from exc
        return BusinessUnit(portal_id, business_unit_id, name)

    async def rename_business_unit(
        self, *, portal_id: int, business_unit_id: int, name: str
    ) -> BusinessUnit:
        async with self._changing() as con:
            found = await con.fetchval(RENAME_BUSINESS_UNIT, portal_id, business_unit_id, name)
        if found is None:
            raise NotFound(f"Business unit {business_unit_id} does not exist")
        return BusinessUnit(portal_id, business_unit_id, name)

    async def list_business_units(self, portal_id: int) -> list[BusinessUnit]:
        async with self._connection() as con:
            rows = await con.fetch(LIST_BUSINESS_UNITS, portal_id)
        return [BusinessUnit(r[0], r[1], r[2], r[3]) for r in rows]

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
        async with self._changing() as con:
            row = await con.fetchrow(
                INSERT_DEFINITION,
                portal_id,
                business_unit_id,
                name,
                description,
                purpose,
                communication_method,
                is_active,
                is_default,
                is_internal,
                now,
            )
            if row is None and await con.fetchrow(GET_PORTAL, portal_id) is None:
                raise NotFound(f"Portal {portal_id} does not exist")
        if row is None:
            raise ValidationError(f"Business unit {business_unit_id} does not exist")
        return definition(row)

    async def update_definition(
        self, definition_id: int, *, now: int, **fields: object
    ) -> Definition:
        unknown = set(fields) - DEFINITION_FIELDS
        if unknown:
            raise ValueError(f"unknown definition field(s): {', '.join(sorted(unknown))}")
        names = sorted(fields)
        async with self._changing() as con, con.transaction():
            if names:
                statement = update_definition_sql(names)
                row = await con.fetchrow(statement, definition_id, now, *(fields[n] for n in names))
            else:  # nothing to change: updated_at stays
                row = await con.fetchrow(GET_DEFINITION, definition_id)
            if row is None:
                raise NotFound(f"Subscription definition {definition_id} does not exist")
            translations = await con.fetch(GET_TRANSLATIONS, definition_id)
        return definition(row, tuple(translation(t) for t in translations))

    async def set_translation(
        self,
        *,
        definition_id: int,
        language_code: str,
        name: str,
        description: str,
        now: int,
    ) -> None:
        async with self._changing() as con:
            try:
                await con.execute(
                    UPSERT_TRANSLATION, definition_id, language_code, name, description, now
                )
            except asyncpg.ForeignKeyViolationError as exc:
                message = f"Subscription definition {definition_id} does not exist"
                raise NotFound(message) from exc

    async def delete_translation(self, *, definition_id: int, language_code: str) -> bool:
        async with self._changing() as con:
            found = await con.fetchval(DELETE_TRANSLATION, definition_id, language_code)
        return found is not None

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
        async with self._changing() as con:
            try:
                row = await con.fetchrow(
                    INSERT_TOKEN,
                    portal_id,
                    name,
                    secret_hash,
                    encode_scopes(scopes),
                    app_id,
                    now,
                    expires_at,
                )
            except asyncpg.ForeignKeyViolationError as exc:
                raise NotFound(f"Portal {portal_id} does not exist") from exc
        return token(row)

    async def revoke_token(self, *, portal_id: int, token_id: int, now: int) -> bool:
        async with self._changing() as con:
            row = await con.fetchrow(REVOKE_TOKEN, portal_id, token_id, now)
        return row is not None

    async def list_tokens(self, portal_id: int) -> list[Token]:
        async with self._connection() as con:
            rows = await con.fetch(LIST_TOKENS, portal_id)
        return [token(r) for r in rows]

    async def note_token_uses(self, uses: Mapping[int, int]) -> None:
        if uses:
            async with self._connection() as con:
                await con.execute(NOTE_TOKEN_USES, list(uses), list(uses.values()))

    async def token_uses(self, portal_id: int) -> dict[int, int]:
        async with self._connection() as con:
            rows = await con.fetch(TOKEN_USES, portal_id)
        return {r[0]: r[1] for r in rows}

    async def authenticate(self, secret_hash: str) -> tuple[Token, PortalContext] | None:
        found = self.auth_cache.get(secret_hash)
        if found is not None:
            return found
        generation = self.auth_cache.generation
        async with self._connection() as con:
            row = await con.fetchrow(AUTHENTICATE, secret_hash)
        if row is None:
            return None
        found = token(row), context(row, offset=8)
        self.auth_cache.put(secret_hash, generation, found)
        return found

    async def portal_context(self, portal_id: int) -> PortalContext:
        async with self._connection() as con:
            row = await con.fetchrow(PORTAL_CONTEXT, portal_id)
        if row is None:
            raise NotFound(f"Portal {portal_id} does not exist")
        return context(row)

    # --- server secrets ------------------------------------------------------------------
    async def get_secret(self, name: str) -> str | None:
        async with self._connection() as con:
            value = await con.fetchval(GET_SECRET, name)
        return None if value is None else str(value)

    async def set_secret_if_absent(self, name: str, value: str) -> str:
        async with self._connection() as con:
            inserted = await con.fetchval(INSERT_SECRET, name, value)
            # On a conflict, a fresh statement (and snapshot) sees the winner's value.
            stored = inserted if inserted is not None else await con.fetchval(GET_SECRET, name)
        return str(stored)
