"""Which token scopes allow which operation (docs/wire-contract.md §2.3)."""

from __future__ import annotations

from enum import StrEnum

READ = "communication_preferences.read"
WRITE = "communication_preferences.write"
READ_WRITE = "communication_preferences.read_write"
BATCH_READ = "communication_preferences.statuses.batch.read"
BATCH_WRITE = "communication_preferences.statuses.batch.write"
ADMIN = "commpref.admin"  # commpref's own API (/commpref/v1): grants every extension scope

# Scopes of commpref's own API (/commpref/v1, docs/wire-contract.md §11);
# `commpref.admin` grants each too.
HISTORY_READ = "commpref.history.read"
IMPORT_WRITE = "commpref.import.write"
EXPORT_READ = "commpref.export.read"
WEBHOOKS_WRITE = "commpref.webhooks.write"
SUBSCRIBERS_ERASE = "commpref.subscribers.erase"
TYPES_READ = "commpref.types.read"  # subscription types (definitions) and their translations
TYPES_WRITE = "commpref.types.write"
BUSINESS_UNITS_READ = "commpref.business_units.read"
BUSINESS_UNITS_WRITE = "commpref.business_units.write"
TOKENS_READ = "commpref.tokens.read"
TOKENS_WRITE = "commpref.tokens.write"
PORTAL_READ = "commpref.portal.read"  # the portal's settings and its preference pages' branding
PORTAL_WRITE = "commpref.portal.write"
USERS_READ = "commpref.users.read"  # the console users who see the portal
USERS_WRITE = "commpref.users.write"  # add them, change their role, password or state
SIGNUPS_WRITE = "commpref.signups.write"  # sign addresses up (double opt-in where set)
SIGNUPS_READ = "commpref.signups.read"  # sign-ups and their confirmation emails
FEEDBACK_READ = "commpref.feedback.read"  # the mail providers whose feedback is taken
FEEDBACK_WRITE = "commpref.feedback.write"  # configure them and their keys
EXTENSION_SCOPES = frozenset(
    {
        ADMIN,
        HISTORY_READ,
        IMPORT_WRITE,
        EXPORT_READ,
        WEBHOOKS_WRITE,
        SUBSCRIBERS_ERASE,
        TYPES_READ,
        TYPES_WRITE,
        BUSINESS_UNITS_READ,
        BUSINESS_UNITS_WRITE,
        TOKENS_READ,
        TOKENS_WRITE,
        PORTAL_READ,
        PORTAL_WRITE,
        USERS_READ,
        USERS_WRITE,
        SIGNUPS_WRITE,
        SIGNUPS_READ,
        FEEDBACK_READ,
        FEEDBACK_WRITE,
    }
)


class Op(StrEnum):
    """HubSpot operations, lettered as in docs/wire-contract.md §1.2."""

    LIST_DEFINITIONS = "A"
    GET_STATUSES = "B"
    SET_STATUS = "C"
    GET_WIDE = "D"
    UNSUBSCRIBE_ALL = "E"
    BATCH_READ = "F"
    BATCH_WRITE = "G"
    BATCH_UNSUBSCRIBE_ALL = "H"
    BATCH_READ_WIDE = "I"
    GENERATE_LINKS = "J"
    V3_STATUSES = "K"
    V3_SUBSCRIBE = "L"
    V3_UNSUBSCRIBE = "M"
    V3_RESUBSCRIBE = "N"
    V3_BULK_STATUSES = "O"


_READS = (frozenset({READ}), frozenset({READ_WRITE}))
_WRITES = (frozenset({WRITE}), frozenset({READ_WRITE}))
_STATUS_READ = (*_READS, frozenset({"subscriptions-status-read"}))
_STATUS_WRITE = (*_WRITES, frozenset({"subscriptions-status-write"}))

ALTERNATIVES: dict[Op, tuple[frozenset[str], ...]] = {
    Op.LIST_DEFINITIONS: (*_READS, frozenset({"subscriptions-definition-read"})),
    Op.GET_STATUSES: _STATUS_READ,
    Op.GET_WIDE: _STATUS_READ,
    Op.V3_STATUSES: _STATUS_READ,
    Op.V3_BULK_STATUSES: _STATUS_READ,
    Op.SET_STATUS: _STATUS_WRITE,
    Op.UNSUBSCRIBE_ALL: _STATUS_WRITE,
    Op.V3_SUBSCRIBE: _STATUS_WRITE,
    Op.V3_UNSUBSCRIBE: _STATUS_WRITE,
    Op.V3_RESUBSCRIBE: (*_STATUS_WRITE, frozenset({"subscriptions-status-resubscribe-write"})),
    Op.BATCH_READ: (frozenset({BATCH_READ}), frozenset({"subscription-status-batch-read"})),
    Op.BATCH_READ_WIDE: (frozenset({BATCH_READ}), frozenset({"subscription-status-batch-read"})),
    Op.BATCH_WRITE: (frozenset({BATCH_WRITE}), frozenset({"subscription-status-batch-write"})),
    Op.BATCH_UNSUBSCRIBE_ALL: (
        frozenset({BATCH_WRITE}),
        frozenset({"subscription-status-batch-write"}),
    ),
    Op.GENERATE_LINKS: (frozenset({READ_WRITE}), frozenset({READ, WRITE})),
}

BATCH_OPS = frozenset({Op.BATCH_READ, Op.BATCH_READ_WIDE, Op.BATCH_WRITE, Op.BATCH_UNSUBSCRIBE_ALL})

# Every scope name a token may carry.
ALL_SCOPES: frozenset[str] = frozenset(
    {s for alts in ALTERNATIVES.values() for alt in alts for s in alt} | EXTENSION_SCOPES
)


def allows(op: Op, held: frozenset[str]) -> bool:
    """True when `held` contains every scope of at least one alternative of `op`."""
    return any(alt <= held for alt in ALTERNATIVES[op])


def required_for_message(op: Op) -> tuple[list[str], bool]:
    """The scope list a 403 names (§6.3) and whether all of them are needed together."""
    if op is Op.GENERATE_LINKS:
        return [READ, WRITE], True
    names = sorted(
        {s for alt in ALTERNATIVES[op] for s in alt if s.startswith("communication_preferences.")}
    )
    return names, False


def allows_extension(scope: str, held: frozenset[str]) -> bool:
    """An extension operation needs its own scope, or `commpref.admin`."""
    return scope in held or ADMIN in held


def may_grant(held: frozenset[str], wanted: frozenset[str]) -> bool:
    """A token may give a new token only scopes it holds itself, unless it holds
    `commpref.admin` (no token makes a stronger one)."""
    return ADMIN in held or wanted <= held
