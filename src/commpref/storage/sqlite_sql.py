"""The statements of the SQLite backend: plain functions over one connection.

`sqlite.SqliteStore` decides which thread runs them (writes on the writer thread, inside
`transaction`; reads on a reader thread). The hot statements are module constants so tests
can EXPLAIN exactly what runs.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

import msgspec

from commpref.domain.model import (
    BusinessUnit,
    Definition,
    Event,
    Portal,
    PortalContext,
    Subscriber,
    Token,
    Translation,
)
from commpref.errors import NotFound, ValidationError
from commpref.storage import codec, migrations
from commpref.storage.base import Outcome, StoredEvent

R = TypeVar("R")
Conn = sqlite3.Connection

PORTAL_FIELDS = frozenset({"gdpr", "brands", "default_language", "strict_v3_unknown_404",
                           "rate_limit_tier", "batch_scopes_enabled", "name"})  # fmt: skip
DEFINITION_FIELDS = frozenset({"name", "description", "purpose", "communication_method",
                               "is_active"})  # fmt: skip
# (name, description, purpose, communication method, is_internal): docs/wire-contract.md §5.1
DEFAULT_DEFINITIONS = (
    ("Marketing Information", "Marketing offers and updates.", "Marketing", "Email", False),
    ("Customer Service Communication",
     "Receive feedback requests and customer service information.", "Service", "Email", True),
    ("One to One", "One to One emails", "Sales", "Email", True),
)  # fmt: skip

_PORTAL = (
    "p.id, p.name, p.gdpr, p.brands, p.default_language, p.strict_v3_unknown_404, "
    "p.rate_limit_tier, p.batch_scopes_enabled, p.created_at"
)
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
SQL_CONFIG_VERSION = "SELECT version FROM config_version WHERE id = 1"
SQL_CONTEXT = f"SELECT {_PORTAL}, {_CONTEXT} FROM portals p WHERE p.id = ?"
_LOAD = "SELECT email, created_at, state, last_event FROM subscribers WHERE portal_id = ? AND "
SQL_LOAD_SUBSCRIBERS = _LOAD + "email IN (SELECT value FROM json_each(?))"
SQL_LOAD_SUBSCRIBER = _LOAD + "email = ?"  # one address (a GET, a single write): no JSON
SQL_SAVE_SUBSCRIBER = (
    "INSERT INTO subscribers (portal_id, email, created_at, state, last_event) "
    "VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (portal_id, email) DO UPDATE SET state = excluded.state, "
    "last_event = excluded.last_event"
)
# Ids are given, not drawn, so that each entry can name its subject's previous one: the next
# id is what AUTOINCREMENT would take (one writer; ids are never reused).
SQL_NEXT_EVENT_ID = (
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0), "
    "coalesce((SELECT max(id) FROM events), 0)) + 1"
)
SQL_APPEND_EVENT = (
    "INSERT INTO events (id, portal_id, email, at, source, actor, correlation_id, changes, prev) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
EVENT_COLUMNS = "id, portal_id, email, at, source, actor, correlation_id, changes"
SQL_HAS_WEBHOOKS = "SELECT 1 FROM webhooks WHERE portal_id = ? AND active = 1 LIMIT 1"
# The entries just appended are the newest ids: one writer, one transaction.
SQL_QUEUE_DELIVERIES = (
    "INSERT INTO webhook_deliveries (webhook_id, portal_id, event_id, email, state, "
    "next_attempt_at, created_at) "
    "SELECT w.id, e.portal_id, e.id, e.email, 'PENDING', 0, ? FROM events e "
    "JOIN webhooks w ON w.portal_id = e.portal_id AND w.active = 1 "
    "WHERE e.id > (SELECT max(id) FROM events) - ? AND e.portal_id = ? ORDER BY e.id, w.id"
)
# The ledger has no index by subject (migration 4): a subject's entries are a chain of `prev`
# pointers from its newest (`subscribers.last_event`, or `suppressions.last_event` for an
# erasure label). CHAIN walks the chains from a JSON array of heads down to an id bound.
CHAIN = (
    "WITH RECURSIVE chain(id) AS (SELECT value FROM json_each(?) WHERE value > ? "
    "UNION ALL SELECT e.prev FROM events e JOIN chain ON e.id = chain.id WHERE e.prev > ?) "
)
SQL_EVENTS_BY_EMAIL = (
    f"{CHAIN}SELECT {EVENT_COLUMNS} FROM events WHERE id IN chain AND portal_id = ? "
    "ORDER BY id LIMIT ?"
)
SQL_HEAD = "SELECT last_event FROM subscribers WHERE portal_id = ? AND email = ?"
SQL_EVENTS = (
    f"SELECT {EVENT_COLUMNS} FROM events WHERE portal_id = ? AND id > ? ORDER BY id LIMIT ?"
)
_INSERT_DEFINITION = (
    "INSERT INTO definitions (portal_id, business_unit_id, name, description, purpose, "
    "communication_method, is_active, is_default, is_internal, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_GET_SECRET = "SELECT value FROM server_secrets WHERE name = ?"


# --- rows to domain values (booleans are stored as 0/1) ------------------------------------
def _portal(r: Sequence[Any]) -> Portal:
    return Portal(r[0], r[1], bool(r[2]), bool(r[3]), r[4], bool(r[5]), r[6], bool(r[7]), r[8])


def _definition(r: Sequence[Any], translations: Sequence[Sequence[Any]] = ()) -> Definition:
    tr = tuple(sorted((Translation(*t) for t in translations), key=lambda t: t.language_code))
    return Definition(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), bool(r[8]),
                      bool(r[9]), r[10], r[11], tr)  # fmt: skip


def _token(r: Sequence[Any]) -> Token:
    return Token(r[0], r[1], r[2], frozenset(r[3].split()), r[4], r[5], r[6], r[7])


def _context(r: Sequence[Any]) -> PortalContext:
    """A context from `_PORTAL` columns followed by the two `_CONTEXT` JSON columns."""
    return _build_context(tuple(r[:9]), r[9], r[10])


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


def stored_event(r: Sequence[Any]) -> StoredEvent:
    """A row of `EVENT_COLUMNS` as a ledger entry."""
    changes = codec.decode_changes(r[7])
    return StoredEvent(r[0], r[1], Event(r[2], changes, r[4], r[5], r[6], r[3]))


# --- plumbing ------------------------------------------------------------------------------
def one(c: Conn, sql: str, args: Sequence[Any] = ()) -> Any:
    return c.execute(sql, args).fetchone()


def transaction(c: Conn, fn: Callable[[Conn], R]) -> R:
    """Run `fn` in one BEGIN IMMEDIATE transaction; on any failure nothing is written."""
    c.execute("BEGIN IMMEDIATE")
    try:
        result = fn(c)
        c.execute("COMMIT")
    except BaseException:
        if c.in_transaction:
            c.execute("ROLLBACK")
        raise
    return result


def group_transaction(c: Conn, fns: Sequence[Callable[[Conn], Any]]) -> list[tuple[bool, Any]]:
    """Run each of `fns` in its own SAVEPOINT of one BEGIN IMMEDIATE transaction and commit
    once. Returns (True, result) or (False, exception) per function; a function that fails is
    rolled back alone, and if the commit fails every function fails with it."""
    results: list[tuple[bool, Any]] = []
    c.execute("BEGIN IMMEDIATE")
    try:
        for fn in fns:
            c.execute("SAVEPOINT job")
            try:
                results.append((True, fn(c)))
            except Exception as exc:
                c.execute("ROLLBACK TO job")
                results.append((False, exc))
            c.execute("RELEASE job")
        c.execute("COMMIT")
    except BaseException as exc:
        if c.in_transaction:
            c.execute("ROLLBACK")
        if not isinstance(exc, Exception):
            raise
        return [(False, exc)] * len(fns)
    return results


def migrate(c: Conn) -> None:
    """Apply pending migrations, each in its own transaction; the applied version is read
    again under the write lock, so processes starting together never apply one twice."""
    for m in migrations.MIGRATIONS:

        def apply(c: Conn, m: migrations.Migration = m) -> None:
            c.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT, applied_at BIGINT)"
            )
            # By version, not by the highest one: a database may hold a later migration
            # written before an earlier one existed (as PostgreSQL's apply_migrations does).
            done = "SELECT 1 FROM schema_migrations WHERE version = ?"
            if one(c, done, (m.version,)) is not None:
                return
            for statement in m.render("sqlite"):
                c.execute(statement)
            c.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (m.version, m.name, time.time_ns() // 1_000_000),
            )

        transaction(c, apply)


def applied_version(c: Conn) -> int:
    return int(one(c, "SELECT coalesce(max(version), 0) FROM schema_migrations")[0])


# --- portals, business units, definitions, tokens ------------------------------------------
def require_portal(c: Conn, portal_id: int) -> None:
    if one(c, "SELECT 1 FROM portals WHERE id = ?", (portal_id,)) is None:
        raise NotFound(f"Portal {portal_id} does not exist")


def get_portal(c: Conn, portal_id: int) -> Portal | None:
    row = one(c, f"SELECT {_PORTAL} FROM portals p WHERE p.id = ?", (portal_id,))
    return None if row is None else _portal(row)


def list_portals(c: Conn) -> list[Portal]:
    return [_portal(r) for r in c.execute(f"SELECT {_PORTAL} FROM portals p ORDER BY p.id")]


def create_portal(
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
    return update_portal(c, pid, {})


def update_portal(c: Conn, portal_id: int, flags: dict[str, object]) -> Portal:
    if flags:  # column names come from PORTAL_FIELDS only (checked by the caller)
        sets = ", ".join(f"{k} = ?" for k in flags)
        c.execute(f"UPDATE portals SET {sets} WHERE id = ?", (*flags.values(), portal_id))
    portal = get_portal(c, portal_id)
    if portal is None:
        raise NotFound(f"Portal {portal_id} does not exist")
    return portal


def create_business_unit(c: Conn, portal_id: int, unit_id: int, name: str) -> BusinessUnit:
    require_portal(c, portal_id)
    try:
        c.execute(
            "INSERT INTO business_units (portal_id, id, name) VALUES (?, ?, ?)",
            (portal_id, unit_id, name),
        )
    except sqlite3.IntegrityError as e:
        raise ValidationError(f"Business unit {unit_id} already exists") from e
    return BusinessUnit(portal_id, unit_id, name)


def create_definition(c: Conn, row: tuple[Any, ...]) -> Definition:
    """`row` in `_INSERT_DEFINITION` order (portal id and business unit id first)."""
    portal_id, unit_id = row[0], row[1]
    require_portal(c, portal_id)
    if one(c, "SELECT 1 FROM business_units WHERE portal_id = ? AND id = ?", row[:2]) is None:
        raise ValidationError(f"Business unit {unit_id} does not exist")
    definition_id = c.execute(_INSERT_DEFINITION, row).lastrowid
    assert definition_id is not None
    return get_definition(c, definition_id)


def get_definition(c: Conn, definition_id: int) -> Definition:
    sql = f"SELECT {_DEFINITION}, {_TRANSLATIONS} FROM definitions d WHERE d.id = ?"
    row = one(c, sql, (definition_id,))
    if row is None:
        raise NotFound(f"Subscription definition {definition_id} does not exist")
    return _definition(row, msgspec.json.decode(row[12]))


def update_definition(
    c: Conn, definition_id: int, now: int, fields: dict[str, object]
) -> Definition:
    if fields:  # column names come from DEFINITION_FIELDS only (checked by the caller)
        sets = ", ".join(f"{k} = ?" for k in fields)
        c.execute(
            f"UPDATE definitions SET {sets}, updated_at = ? WHERE id = ?",
            (*fields.values(), now, definition_id),
        )
    return get_definition(c, definition_id)


def set_translation(c: Conn, definition_id: int, lang: str, name: str, desc: str, now: int) -> None:
    get_definition(c, definition_id)  # NotFound for an unknown definition
    c.execute(
        "INSERT INTO definition_translations (definition_id, language_code, name, description, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (definition_id, language_code) DO UPDATE SET name = excluded.name, "
        "description = excluded.description, updated_at = excluded.updated_at",
        (definition_id, lang, name, desc, now, now),
    )


def create_token(c: Conn, token: Token, secret_hash: str) -> Token:
    require_portal(c, token.portal_id)
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


def revoke_token(c: Conn, portal_id: int, token_id: int, now: int) -> bool:
    cur = c.execute(
        "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND portal_id = ?",
        (now, token_id, portal_id),
    )
    return cur.rowcount == 1


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


# --- subscribers, the ledger, secrets ------------------------------------------------------
def load_subscribers(
    c: Conn, portal_id: int, emails: Sequence[str], heads: dict[str, int] | None = None
) -> dict[str, Subscriber]:
    """The stored subscribers among `emails`, with one primary-key SELECT; `heads` (when
    given) gets each one's newest ledger entry id, for `save`."""
    if not emails:
        return {}
    subs = {}
    if len(emails) == 1:  # loaded by key: cheaper than json_each for one row
        rows = c.execute(SQL_LOAD_SUBSCRIBER, (portal_id, emails[0]))
    else:
        listed = msgspec.json.encode(list(emails)).decode()
        rows = c.execute(SQL_LOAD_SUBSCRIBERS, (portal_id, listed))
    for email, created_at, state, last_event in rows:
        types, wide = codec.decode(state)
        subs[email] = Subscriber(email, created_at, types, wide)
        if heads is not None and last_event is not None:
            heads[email] = last_event
    return subs


def save(
    c: Conn,
    portal_id: int,
    subs: dict[str, Subscriber],
    outcome: Outcome[Any],
    heads: dict[str, int],
) -> None:
    """Persist what a plan touched and append its events, chained from `heads` (each
    subject's newest entry id, as `load_subscribers` found them; updated here)."""
    pack = codec.Packer()
    if outcome.events:
        next_id = one(c, SQL_NEXT_EVENT_ID)[0]
        entries = []
        for e in outcome.events:
            entries.append((next_id, portal_id, e.email, e.at, e.source, e.actor,
                            e.correlation_id, pack.changes(e.changes),
                            heads.get(e.email)))  # fmt: skip
            heads[e.email] = next_id
            next_id += 1
        c.executemany(SQL_APPEND_EVENT, entries)
    rows = []
    for email in sorted(outcome.touched):  # key order: neighbouring b-tree pages
        sub = subs[email]
        if sub.created_at is None:
            raise ValueError(f"plan touched {email} without setting created_at")
        rows.append((portal_id, email, sub.created_at, pack.state(sub.types, sub.wide),
                     heads.get(email)))  # fmt: skip
    c.executemany(SQL_SAVE_SUBSCRIBER, rows)
    if outcome.events and one(c, SQL_HAS_WEBHOOKS, (portal_id,)) is not None:
        # The webhook outbox, in the same transaction (docs/webhooks.md).
        now = time.time_ns() // 1_000_000
        c.execute(SQL_QUEUE_DELIVERIES, (now, len(outcome.events), portal_id))


def chain_args(heads: Sequence[int], after_id: int) -> tuple[str, int, int]:
    """CHAIN's three parameters."""
    return msgspec.json.encode(list(heads)).decode(), after_id, after_id


def events(
    c: Conn, portal_id: int, email: str | None, after_id: int, limit: int
) -> list[StoredEvent]:
    if email is None:
        rows = c.execute(SQL_EVENTS, (portal_id, after_id, limit))
    else:
        head = one(c, SQL_HEAD, (portal_id, email))
        heads = [] if head is None or head[0] is None else [head[0]]
        rows = c.execute(SQL_EVENTS_BY_EMAIL, (*chain_args(heads, after_id), portal_id, limit))
    return [stored_event(r) for r in rows]


def get_secret(c: Conn, name: str) -> str | None:
    row = one(c, _GET_SECRET, (name,))
    return None if row is None else str(row[0])


def set_secret_if_absent(c: Conn, name: str, value: str) -> str:
    c.execute(
        "INSERT INTO server_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (name, value),
    )
    return str(one(c, _GET_SECRET, (name,))[0])
