"""A portal's configuration as SQLite reads it back: the columns of portals, definitions
(with their translations) and tokens, their decoding into domain values, and the one
statement that reads a whole `PortalContext` (`authenticate`, `portal_context`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import msgspec

from commpref.domain.model import (
    BusinessUnit,
    Definition,
    LinkKey,
    Portal,
    PortalContext,
    Token,
    Translation,
)
from commpref.errors import NotFound
from commpref.storage.sqlite.transactions import one

Conn = sqlite3.Connection

_PORTAL = (
    "p.id, p.name, p.gdpr, p.brands, p.default_language, p.strict_v3_unknown_404, "
    "p.rate_limit_tier, p.batch_scopes_enabled, p.created_at, p.brand_name, p.brand_logo_url, "
    "p.brand_colour, p.link_key_id, "
    "(SELECT k.secret FROM link_keys k WHERE k.id = p.link_key_id), "
    "(SELECT k.created_at FROM link_keys k WHERE k.id = p.link_key_id), p.server_link_keys, "
    "p.double_opt_in, p.mail_from"
)
_PORTAL_COUNT = 18  # columns of `_PORTAL`
_DEFINITION = (
    "d.id, d.portal_id, d.name, d.description, d.business_unit_id, d.purpose, "
    "d.communication_method, d.is_active, d.is_default, d.is_internal, d.created_at, "
    "d.updated_at"
)
_TOKEN = "k.id, k.portal_id, k.name, k.scopes, k.app_id, k.created_at, k.expires_at, k.revoked_at"
_TRANSLATIONS = (
    "json((SELECT json_group_array(json_array(t.language_code, t.name, t.description, "
    "t.created_at, t.updated_at)) FROM definition_translations t WHERE t.definition_id = d.id))"
)
# A portal's business units and definitions as two JSON columns: a whole context is one
# statement (one snapshot, one round trip), sorted in Python so SQLite needs no temp b-tree.
_CONTEXT = (
    "(SELECT json_group_array(b.id) FROM business_units b WHERE b.portal_id = p.id), "
    f"(SELECT json_group_array(json_array({_DEFINITION}, {_TRANSLATIONS})) "
    "FROM definitions d WHERE d.portal_id = p.id)"
)
SQL_AUTHENTICATE = (
    f"SELECT {_TOKEN}, {_PORTAL}, {_CONTEXT} "
    "FROM tokens k JOIN portals p ON p.id = k.portal_id WHERE k.secret_hash = ?"
)
SQL_CONTEXT = f"SELECT {_PORTAL}, {_CONTEXT} FROM portals p WHERE p.id = ?"


# --- rows to domain values (booleans are stored as 0/1) ------------------------------------
def _portal(r: Sequence[Any]) -> Portal:
    key = None if r[12] is None else LinkKey(r[12], r[0], r[13], r[14])
    return Portal(r[0], r[1], bool(r[2]), bool(r[3]), r[4], bool(r[5]), r[6], bool(r[7]), r[8],
                  r[9], r[10], r[11], key, bool(r[15]), bool(r[16]), r[17])  # fmt: skip


def _definition(r: Sequence[Any], translations: Sequence[Sequence[Any]] = ()) -> Definition:
    tr = tuple(sorted((Translation(*t) for t in translations), key=lambda t: t.language_code))
    return Definition(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), bool(r[8]),
                      bool(r[9]), r[10], r[11], tr)  # fmt: skip


def _token(r: Sequence[Any]) -> Token:
    return Token(r[0], r[1], r[2], frozenset(r[3].split()), r[4], r[5], r[6], r[7])


def _context(r: Sequence[Any]) -> PortalContext:
    """A context from `_PORTAL` columns followed by the two `_CONTEXT` JSON columns."""
    n = _PORTAL_COUNT
    return _build_context(tuple(r[:n]), r[n], r[n + 1])


@lru_cache(maxsize=256)
def _build_context(portal: tuple[Any, ...], units_json: str, defs_json: str) -> PortalContext:
    # Every request reads its context fresh from the database; only building the Python
    # values (most of an authentication's work) is skipped when the stored content
    # is byte-for-byte what was seen before. Contexts are immutable, so sharing is safe.
    units = msgspec.json.decode(units_json)
    defs = sorted(msgspec.json.decode(defs_json), key=lambda d: d[0])
    return PortalContext(
        _portal(portal), frozenset(units), tuple(_definition(d, d[12]) for d in defs)
    )


# --- statements ----------------------------------------------------------------------------
def get_portal(c: Conn, portal_id: int) -> Portal | None:
    row = one(c, f"SELECT {_PORTAL} FROM portals p WHERE p.id = ?", (portal_id,))
    return None if row is None else _portal(row)


def list_portals(c: Conn) -> list[Portal]:
    return [_portal(r) for r in c.execute(f"SELECT {_PORTAL} FROM portals p ORDER BY p.id")]


def get_definition(c: Conn, definition_id: int) -> Definition:
    sql = f"SELECT {_DEFINITION}, {_TRANSLATIONS} FROM definitions d WHERE d.id = ?"
    row = one(c, sql, (definition_id,))
    if row is None:
        raise NotFound(f"Subscription definition {definition_id} does not exist")
    return _definition(row, msgspec.json.decode(row[12]))


def list_business_units(c: Conn, portal_id: int) -> list[BusinessUnit]:
    sql = (
        "SELECT portal_id, id, name, double_opt_in FROM business_units WHERE portal_id = ?"
        " ORDER BY id"
    )
    return [
        BusinessUnit(r[0], r[1], r[2], None if r[3] is None else bool(r[3]))
        for r in c.execute(sql, (portal_id,))
    ]


def list_tokens(c: Conn, portal_id: int) -> list[Token]:
    sql = f"SELECT {_TOKEN} FROM tokens k WHERE k.portal_id = ? ORDER BY k.id"
    return [_token(r) for r in c.execute(sql, (portal_id,))]


def authenticate(c: Conn, secret_hash: str) -> tuple[Token, PortalContext] | None:
    row = one(c, SQL_AUTHENTICATE, (secret_hash,))
    return None if row is None else (_token(row[:8]), _context(row[8:]))


def portal_context(c: Conn, portal_id: int) -> PortalContext:
    row = one(c, SQL_CONTEXT, (portal_id,))
    if row is None:
        raise NotFound(f"Portal {portal_id} does not exist")
    return _context(row)
