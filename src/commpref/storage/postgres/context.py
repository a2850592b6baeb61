"""A portal's configuration as PostgreSQL reads it back: the columns of portals, definitions
and tokens, the statements that read them, the one statement that reads a whole
`PortalContext` (`authenticate`, `portal_context`), and their decoding into domain values.

Every statement takes its inputs as parameters, so asyncpg prepares it once per connection
and reuses it (its statement cache).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec

from commpref.domain.model import (
    Definition,
    LinkKey,
    Portal,
    PortalContext,
    Token,
    Translation,
)

# --- portals -----------------------------------------------------------------------------

PORTAL_COLUMNS = """p.id, p.name, p.gdpr, p.brands, p.default_language,
    p.strict_v3_unknown_404, p.rate_limit_tier, p.batch_scopes_enabled, p.created_at,
    p.brand_name, p.brand_logo_url, p.brand_colour, p.link_key_id,
    (SELECT k.secret FROM link_keys k WHERE k.id = p.link_key_id) AS link_secret,
    (SELECT k.created_at FROM link_keys k WHERE k.id = p.link_key_id) AS link_created_at,
    p.server_link_keys, p.double_opt_in, p.mail_from"""
PORTAL_COUNT = 18  # columns of PORTAL_COLUMNS, in the order of `Portal`'s fields

GET_PORTAL = f"SELECT {PORTAL_COLUMNS} FROM portals p WHERE p.id = $1"
LIST_PORTALS = f"SELECT {PORTAL_COLUMNS} FROM portals p ORDER BY p.id"

# --- definitions -------------------------------------------------------------------------

DEFINITION_COLUMNS = """d.id, d.portal_id, d.business_unit_id, d.name, d.description,
    d.purpose, d.communication_method, d.is_active, d.is_default, d.is_internal,
    d.created_at, d.updated_at"""

GET_DEFINITION = f"SELECT {DEFINITION_COLUMNS} FROM definitions d WHERE d.id = $1"

LIST_BUSINESS_UNITS = """
SELECT portal_id, id, name, double_opt_in FROM business_units WHERE portal_id = $1 ORDER BY id
"""

GET_TRANSLATIONS = """
SELECT language_code, name, description, created_at, updated_at
FROM definition_translations WHERE definition_id = $1 ORDER BY language_code
"""

# --- tokens ------------------------------------------------------------------------------

TOKEN_COLUMNS = """t.id, t.portal_id, t.name, t.scopes, t.app_id, t.created_at,
    t.expires_at, t.revoked_at"""

LIST_TOKENS = f"SELECT {TOKEN_COLUMNS} FROM tokens t WHERE t.portal_id = $1 ORDER BY t.id"
NOTE_TOKEN_USES = """
INSERT INTO token_use (token_id, last_used_at)
SELECT * FROM unnest($1::bigint[], $2::bigint[])
ON CONFLICT (token_id) DO UPDATE SET last_used_at = greatest(token_use.last_used_at,
                                                             EXCLUDED.last_used_at)
"""
TOKEN_USES = """
SELECT u.token_id, u.last_used_at FROM token_use u JOIN tokens t ON t.id = u.token_id
WHERE t.portal_id = $1
"""

# --- portal context: portal, units, definitions and translations in one statement ---------

_CONTEXT_PARTS = """
    ARRAY(SELECT b.id FROM business_units b WHERE b.portal_id = p.id) AS units,
    (SELECT json_agg(json_build_array(
                d.id, d.portal_id, d.business_unit_id, d.name, d.description, d.purpose,
                d.communication_method, d.is_active, d.is_default, d.is_internal,
                d.created_at, d.updated_at,
                (SELECT json_agg(json_build_array(
                            tr.language_code, tr.name, tr.description,
                            tr.created_at, tr.updated_at)
                        ORDER BY tr.language_code)
                 FROM definition_translations tr WHERE tr.definition_id = d.id))
            ORDER BY d.id)
     FROM definitions d WHERE d.portal_id = p.id) AS definitions
"""

PORTAL_CONTEXT = f"SELECT {PORTAL_COLUMNS}, {_CONTEXT_PARTS} FROM portals p WHERE p.id = $1"

AUTHENTICATE = f"""
SELECT {TOKEN_COLUMNS}, {PORTAL_COLUMNS}, {_CONTEXT_PARTS}
FROM tokens t JOIN portals p ON p.id = t.portal_id
WHERE t.secret_hash = $1
"""

# --- row decoding ------------------------------------------------------------------------

Row = Any  # asyncpg.Record: indexable by position and by column name


def portal(row: Row) -> Portal:
    """A portal from `PORTAL_COLUMNS`, alone or first in a row."""
    r = tuple(row)[:PORTAL_COUNT]
    key = None if r[12] is None else LinkKey(r[12], r[0], r[13], r[14])
    return Portal(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
                  key, r[15], r[16], r[17])  # fmt: skip


def definition(row: Row, translations: tuple[Translation, ...] = ()) -> Definition:
    return Definition(
        id=row["id"],
        portal_id=row["portal_id"],
        name=row["name"],
        description=row["description"],
        business_unit_id=row["business_unit_id"],
        purpose=row["purpose"],
        communication_method=row["communication_method"],
        is_active=row["is_active"],
        is_default=row["is_default"],
        is_internal=row["is_internal"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        translations=translations,
    )


def translation(row: Row) -> Translation:
    return Translation(row[0], row[1], row[2], row[3], row[4])


def token(row: Row) -> Token:
    # Token and portal columns share names (id, name, created_at): read tokens by position.
    return Token(
        id=row[0],
        portal_id=row[1],
        name=row[2],
        scopes=frozenset(row[3].split()),
        app_id=row[4],
        created_at=row[5],
        expires_at=row[6],
        revoked_at=row[7],
    )


_TranslationTuple = tuple[str, str, str, int, int]
_DefinitionTuple = tuple[
    int, int, int, str, str, str, str, bool, bool, bool, int, int, list[_TranslationTuple] | None
]
_definitions_decoder = msgspec.json.Decoder(list[_DefinitionTuple] | None)


def context(row: Row, offset: int = 0) -> PortalContext:
    """A `PORTAL_CONTEXT` row, or the portal part of an `AUTHENTICATE` row from `offset`."""
    values = tuple(row)
    end = offset + PORTAL_COUNT
    return _build_context(values[offset:end], tuple(values[end] or ()), values[end + 1])


@lru_cache(maxsize=256)
def _build_context(
    columns: tuple[Any, ...], units: tuple[int, ...], defs: str | None
) -> PortalContext:
    # The row is read fresh on every request; only building the Python values is skipped
    # when its content is exactly what was seen before (contexts are immutable).
    p = portal(columns)
    decoded = _definitions_decoder.decode(defs) if defs is not None else None
    definitions = tuple(
        Definition(
            id=d[0],
            portal_id=d[1],
            business_unit_id=d[2],
            name=d[3],
            description=d[4],
            purpose=d[5],
            communication_method=d[6],
            is_active=d[7],
            is_default=d[8],
            is_internal=d[9],
            created_at=d[10],
            updated_at=d[11],
            translations=tuple(Translation(*t) for t in d[12] or ()),
        )
        for d in decoded or ()
    )
    return PortalContext(p, frozenset(units), definitions)
