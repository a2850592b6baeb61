"""The statements that change portals, business units, definitions, tokens and server
secrets on PostgreSQL, and the fields each change may name (`admin.PostgresAdmin` runs them;
the reads are `context`'s).
"""

from __future__ import annotations

from commpref.storage.postgres.context import DEFINITION_COLUMNS, PORTAL_COLUMNS, TOKEN_COLUMNS

# --- portals -----------------------------------------------------------------------------

INSERT_PORTAL = f"""
INSERT INTO portals AS p (name, gdpr, brands, default_language, secret, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING {PORTAL_COLUMNS}
"""

INSERT_BUSINESS_UNIT = """
INSERT INTO business_units (portal_id, id, name) VALUES ($1, $2, $3)
"""

RENAME_BUSINESS_UNIT = """
UPDATE business_units SET name = $3 WHERE portal_id = $1 AND id = $2 RETURNING id
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

PORTAL_FLAGS = frozenset(
    {
        "name",
        "gdpr",
        "brands",
        "default_language",
        "strict_v3_unknown_404",
        "rate_limit_tier",
        "batch_scopes_enabled",
        "brand_name",
        "brand_logo_url",
        "brand_colour",
        "double_opt_in",
        "mail_from",
    }
)


def update_portal_sql(names: list[str]) -> str:
    """Names come from `PORTAL_FLAGS` only, never from input."""
    sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=2))
    return f"UPDATE portals AS p SET {sets} WHERE p.id = $1 RETURNING {PORTAL_COLUMNS}"


# --- definitions -------------------------------------------------------------------------

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


UPSERT_TRANSLATION = """
INSERT INTO definition_translations AS t
    (definition_id, language_code, name, description, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT (definition_id, language_code)
DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
    updated_at = EXCLUDED.updated_at
"""

DELETE_TRANSLATION = """
DELETE FROM definition_translations WHERE definition_id = $1 AND language_code = $2
RETURNING definition_id
"""

# --- tokens ------------------------------------------------------------------------------

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

# --- server secrets ----------------------------------------------------------------------

GET_SECRET = "SELECT value FROM server_secrets WHERE name = $1"
INSERT_SECRET = """
INSERT INTO server_secrets (name, value) VALUES ($1, $2)
ON CONFLICT (name) DO NOTHING RETURNING value
"""
