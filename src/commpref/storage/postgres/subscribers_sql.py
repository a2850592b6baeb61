"""The statements of a subscriber write batch on PostgreSQL (`subscribers.PostgresSubscribers`
runs them): claiming and loading the addresses, saving the batch with its ledger entries,
webhook outbox rows and tally delta in one statement, the ledger's per-portal lock, and
the suppressions of erased addresses. The ledger (`ledger`) and the tallies (`tallies`)
share the lock and the packed tally delta.
"""

from __future__ import annotations

import msgspec

from commpref.domain.tallies import Delta, Groups

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
_LEDGER_LOCK = f"""
ledger_lock AS (SELECT pg_advisory_xact_lock_shared({EVENTS_LOCK_CLASS}, hashint8($1::bigint))),
"""
_APPEND = """
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
APPEND_EVENTS = "WITH" + _LEDGER_LOCK + _APPEND

# A transaction's tally delta goes into one `tally_deltas` row, packed: what its addresses
# and entries were, grouped by packed state and change list (`domain.tallies.Delta.groups`).
# One row insert per write whatever the number of names, and no row that concurrent writers
# share: the folder (`tallies.PostgresTallies.fold_tallies`) works the names out for many
# transactions at once and moves them into `tallies`. It is appended under the ledger's
# shared lock, which a recount takes exclusively: a recount waits for the writers that hold
# it and holds back the others, so it counts exactly what no pending delta holds.
_pack = msgspec.msgpack.Encoder().encode
_decoder: msgspec.msgpack.Decoder[Groups] = msgspec.msgpack.Decoder(Groups)
_unpack = _decoder.decode


def pack_deltas(delta: Delta) -> bytes | None:
    groups = delta.groups()
    return _pack(groups) if any(groups) else None


def unpack_deltas(data: bytes) -> Groups:
    return _unpack(data)


ADD_DELTAS = f"""
WITH ledger_lock AS (
    SELECT pg_advisory_xact_lock_shared({EVENTS_LOCK_CLASS}, hashint8($1::bigint))
)
INSERT INTO tally_deltas (portal_id, deltas) SELECT $1, $2::bytea FROM ledger_lock
"""

# A batch's writes in one round trip: its touched subscribers ($9-$11; every address has a
# row by now, stored or placeholder), the placeholders of addresses it did not touch ($12;
# reads never create subscribers, nor do no-op writes), its ledger entries and its tally
# delta ($13, NULL when nothing is counted).
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
    + _LEDGER_LOCK
    + """tallied AS (
    INSERT INTO tally_deltas (portal_id, deltas)
    SELECT $1, $13::bytea FROM ledger_lock WHERE $13::bytea IS NOT NULL
),"""
    + _APPEND
)

PORTAL_SECRET = "SELECT secret FROM portals WHERE id = $1"
SUPPRESSED = """
SELECT subject_key, erased_at FROM suppressions
WHERE portal_id = $1 AND subject_key = ANY($2::bytea[])
"""
# An import chunk decides on the stored erasure time, so it holds the rows until it commits.
SUPPRESSED_FOR_UPDATE = SUPPRESSED + "ORDER BY subject_key FOR UPDATE"
SCOPE_OF_SUPPRESSED = """
SELECT ARRAY(SELECT id FROM definitions WHERE portal_id = $1 AND is_active ORDER BY id),
       ARRAY(SELECT id FROM business_units WHERE portal_id = $1 ORDER BY id)
"""
SUBSCRIBERS_PAGE = """
SELECT email, created_at, state FROM subscribers
WHERE portal_id = $1 AND email > $2 AND created_at >= 0 ORDER BY email LIMIT $3
"""
SUPPRESS = """
INSERT INTO suppressions (portal_id, subject_key, erased_at) VALUES ($1, $2, $3)
ON CONFLICT (portal_id, subject_key)
DO UPDATE SET erased_at = greatest(suppressions.erased_at, EXCLUDED.erased_at)
"""
