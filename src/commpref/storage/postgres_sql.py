"""SQL text and row decoding for `postgres.PostgresStore`.

Every statement takes its inputs as parameters, so asyncpg prepares it once per connection
and reuses it (its statement cache); batch statements take arrays and `unnest` them, so a
batch costs one statement whatever its size.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec

from commpref.domain.model import Definition, Portal, PortalContext, Token, Translation

# --- migrations --------------------------------------------------------------------------

# An (int4, int4) advisory key: that key space is apart from the single-bigint keys
# `mutate` takes per address, so the two can never collide.
MIGRATION_LOCK = (0x636F6D6D, 0x6D696772)  # "comm", "migr"

CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)
"""

# --- portals -----------------------------------------------------------------------------

PORTAL_COLUMNS = """p.id, p.name, p.gdpr, p.brands, p.default_language,
    p.strict_v3_unknown_404, p.rate_limit_tier, p.batch_scopes_enabled, p.created_at"""

INSERT_PORTAL = f"""
INSERT INTO portals AS p (name, gdpr, brands, default_language, secret, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING {PORTAL_COLUMNS}
"""

INSERT_BUSINESS_UNIT = """
INSERT INTO business_units (portal_id, id, name) VALUES ($1, $2, $3)
"""

DEFAULT_UNIT_NAME = "Account"

# HubSpot's three default definitions, in HubSpot's order (their ids ascend with it).
DEFAULT_DEFINITIONS: tuple[tuple[str, str, str, bool], ...] = (
    ("Marketing Information", "Marketing offers and updates.", "Marketing", False),
    (
        "Customer Service Communication",
        "Receive feedback requests and customer service information.",
        "Service",
        True,
    ),
    ("One to One", "One to One emails", "Sales", True),
)

INSERT_DEFAULT_DEFINITIONS = """
INSERT INTO definitions (portal_id, business_unit_id, name, description, purpose,
    communication_method, is_active, is_default, is_internal, created_at, updated_at)
SELECT $1, 0, n, d, p, 'Email', TRUE, TRUE, i, $5, $5
FROM unnest($2::text[], $3::text[], $4::text[], $6::boolean[]) WITH ORDINALITY AS u(n, d, p, i, o)
ORDER BY o
"""

GET_PORTAL = f"SELECT {PORTAL_COLUMNS} FROM portals p WHERE p.id = $1"
LIST_PORTALS = f"SELECT {PORTAL_COLUMNS} FROM portals p ORDER BY p.id"

PORTAL_FLAGS = frozenset(
    {
        "name",
        "gdpr",
        "brands",
        "default_language",
        "strict_v3_unknown_404",
        "rate_limit_tier",
        "batch_scopes_enabled",
    }
)


def update_portal_sql(names: list[str]) -> str:
    """Names come from `PORTAL_FLAGS` only, never from input."""
    sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=2))
    return f"UPDATE portals AS p SET {sets} WHERE p.id = $1 RETURNING {PORTAL_COLUMNS}"


# --- definitions -------------------------------------------------------------------------

DEFINITION_COLUMNS = """d.id, d.portal_id, d.business_unit_id, d.name, d.description,
    d.purpose, d.communication_method, d.is_active, d.is_default, d.is_internal,
    d.created_at, d.updated_at"""

# The EXISTS check makes an unknown business unit insert nothing instead of a row that
# points nowhere (business_unit_id has no foreign key: 0 exists in every portal).
INSERT_DEFINITION = f"""
INSERT INTO definitions AS d (portal_id, business_unit_id, name, description, purpose,
    communication_method, is_active, is_default, is_internal, created_at, updated_at)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10
WHERE EXISTS (SELECT 1 FROM business_units b WHERE b.portal_id = $1 AND b.id = $2)
RETURNING {DEFINITION_COLUMNS}
"""

DEFINITION_FIELDS = frozenset(
    {"name", "description", "purpose", "communication_method", "is_active"}
)


def update_definition_sql(names: list[str]) -> str:
    """Names come from `DEFINITION_FIELDS` only, never from input."""
    sets = "".join(f", {n} = ${i}" for i, n in enumerate(names, start=3))
    return (
        f"UPDATE definitions AS d SET updated_at = $2{sets} WHERE d.id = $1 "
        f"RETURNING {DEFINITION_COLUMNS}"
    )


GET_DEFINITION = f"SELECT {DEFINITION_COLUMNS} FROM definitions d WHERE d.id = $1"

GET_TRANSLATIONS = """
SELECT language_code, name, description, created_at, updated_at
FROM definition_translations WHERE definition_id = $1 ORDER BY language_code
"""

UPSERT_TRANSLATION = """
INSERT INTO definition_translations AS t
    (definition_id, language_code, name, description, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT (definition_id, language_code)
DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
    updated_at = EXCLUDED.updated_at
"""

# --- tokens ------------------------------------------------------------------------------

TOKEN_COLUMNS = """t.id, t.portal_id, t.name, t.scopes, t.app_id, t.created_at,
    t.expires_at, t.revoked_at"""

INSERT_TOKEN = f"""
INSERT INTO tokens AS t (portal_id, name, secret_hash, scopes, app_id, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING {TOKEN_COLUMNS}
"""

# A second revocation keeps the first time.
REVOKE_TOKEN = """
UPDATE tokens SET revoked_at = COALESCE(revoked_at, $3)
WHERE id = $2 AND portal_id = $1
RETURNING id
"""

LIST_TOKENS = f"SELECT {TOKEN_COLUMNS} FROM tokens t WHERE t.portal_id = $1 ORDER BY t.id"

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

# --- subscribers and the ledger ----------------------------------------------------------

# Locks every address of a batch, in one statement, in ascending email order: two batches
# that share addresses wait for each other in the same order and so cannot deadlock.
# Stored rows are row-locked (DO UPDATE ... WHERE false locks the row and changes nothing);
# missing ones get a placeholder row (created_at -1), whose uncommitted insert holds back
# any other writer of the same address until we commit. Row locks live in the rows, not
# in PostgreSQL's shared lock table, so batch size and concurrency are not bounded by
# max_locks_per_transaction the way per-address advisory locks would be.
CLAIM_SUBSCRIBERS = """
INSERT INTO subscribers AS s (portal_id, email, created_at, state)
SELECT $1, e, -1, ''::bytea FROM unnest($2::text[]) AS e ORDER BY e
ON CONFLICT (portal_id, email) DO UPDATE SET state = s.state WHERE false
"""

# Placeholders are never loaded: the plan sees those addresses as not stored.
# Erased addresses (domain.erasure): when the portal has erased anyone, one extra row with a
# NULL email says so (a one-time EXISTS: portals that never erased anyone pay one index
# probe), and the store then looks up the keyed hashes of the addresses not found.
_ERASURES_FLAG = """
UNION ALL
SELECT NULL, NULL, NULL WHERE EXISTS (SELECT 1 FROM suppressions p WHERE p.portal_id = $1)
"""

LOAD_CLAIMED = f"""
SELECT email, created_at, state FROM subscribers
WHERE portal_id = $1 AND email = ANY($2::text[]) AND created_at >= 0
{_ERASURES_FLAG}"""

LOAD_SUBSCRIBERS = f"""
SELECT email, created_at, state FROM subscribers
WHERE portal_id = $1 AND email = ANY($2::text[])
{_ERASURES_FLAG}"""

# Ledger ids come from a sequence, so concurrent writers can commit them out of order: a
# reader paging with `after_id` could pass id 11 while id 10 is still uncommitted, and never
# see it. Writers therefore append under a shared per-portal lock held to commit, and
# `events()` takes the same lock exclusively before it reads: it waits for writers that
# already hold ids, and no writer can take an id until its snapshot is taken. Writers never
# wait for each other on it. ("evnt", hash of the portal id): a collision only makes two
# portals' readers and writers wait for each other.
EVENTS_LOCK_CLASS = 0x65766E74  # "evnt"
LOCK_EVENTS_FOR_READ = "SELECT pg_advisory_xact_lock($1, hashint8($2))"

# Appending to the ledger, as the tail of a WITH: the shared lock above (joined in, so it is
# held before the first id is drawn), WITH ORDINALITY + ORDER BY so ids follow the plan's
# event order, and the webhook outbox rows of the new entries, one per active webhook of
# the portal ($8: now): nothing to join, nothing written, for portals without.
_APPEND = f"""
ledger_lock AS (SELECT pg_advisory_xact_lock_shared({EVENTS_LOCK_CLASS}, hashint8($1::bigint))),
appended AS (
    INSERT INTO events (portal_id, email, at, source, actor, correlation_id, changes)
    SELECT $1, e, a, s, ac, c, ch
    FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bytea[])
        WITH ORDINALITY AS u(e, a, s, ac, c, ch, o), ledger_lock
    ORDER BY o
    RETURNING id, email
)
INSERT INTO webhook_deliveries (webhook_id, portal_id, event_id, email, state,
    next_attempt_at, created_at)
SELECT w.id, $1, a.id, a.email, 'PENDING', 0, $8
FROM appended a JOIN webhooks w ON w.portal_id = $1 AND w.active
"""
APPEND_EVENTS = "WITH" + _APPEND

# A batch's writes in one round trip: its touched subscribers ($9-$11; every address has a
# row by now, stored or placeholder), the placeholders of addresses it did not touch ($12;
# reads never create subscribers, nor do no-op writes), and its ledger entries.
SAVE_BATCH = (
    """
WITH saved AS (
    UPDATE subscribers AS s SET created_at = u.c, state = u.st
    FROM unnest($9::text[], $10::bigint[], $11::bytea[]) AS u(e, c, st)
    WHERE s.portal_id = $1 AND s.email = u.e
),
dropped AS (
    DELETE FROM subscribers
    WHERE portal_id = $1 AND email = ANY($12::text[]) AND created_at < 0
),"""
    + _APPEND
)

EVENT_COLUMNS = "id, email, at, source, actor, correlation_id, changes"

EVENTS = f"""
SELECT {EVENT_COLUMNS} FROM events
WHERE portal_id = $1 AND id > $2 ORDER BY id LIMIT $3
"""

EVENTS_OF = f"""
SELECT {EVENT_COLUMNS} FROM events
WHERE portal_id = $1 AND email = $2 AND id > $3 ORDER BY id LIMIT $4
"""

# --- server secrets ----------------------------------------------------------------------

GET_SECRET = "SELECT value FROM server_secrets WHERE name = $1"
INSERT_SECRET = """
INSERT INTO server_secrets (name, value) VALUES ($1, $2)
ON CONFLICT (name) DO NOTHING RETURNING value
"""

# --- row decoding ------------------------------------------------------------------------

Row = Any  # asyncpg.Record: indexable by position and by column name


def portal(row: Row) -> Portal:
    return Portal(
        id=row["id"],
        name=row["name"],
        gdpr=row["gdpr"],
        brands=row["brands"],
        default_language=row["default_language"],
        strict_v3_unknown_404=row["strict_v3_unknown_404"],
        rate_limit_tier=row["rate_limit_tier"],
        batch_scopes_enabled=row["batch_scopes_enabled"],
        created_at=row["created_at"],
    )


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


def encode_scopes(scopes: frozenset[str]) -> str:
    return " ".join(sorted(scopes))


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
    units = values[offset + 9]
    return _build_context(values[offset : offset + 9], tuple(units or ()), values[offset + 10])


@lru_cache(maxsize=256)
def _build_context(
    portal: tuple[Any, ...], units: tuple[int, ...], defs: str | None
) -> PortalContext:
    # The row is read fresh on every request; only building the Python values is skipped
    # when its content is exactly what was seen before (contexts are immutable).
    p = Portal(*portal)
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
