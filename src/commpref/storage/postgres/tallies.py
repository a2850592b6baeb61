"""Tallies on PostgreSQL (`tallies.TallyStore`).

Writers never update a shared row, which would make concurrent writers of a portal wait for
each other: each transaction appends its delta, packed, to `tally_deltas`
(`subscribers_sql.SAVE_BATCH`, the erasure's `subscribers_sql.ADD_DELTAS`). `fold_tallies`, run
every few seconds by the job workers (`jobs.tallies`), works out the deltas of many
transactions at once and moves them into `tallies`, in batches; a read adds the pending ones
of its portal to the totals, in one statement so that a fold cannot come between the two.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import partial
from typing import Any

from commpref.domain.model import Change, Subscriber
from commpref.domain.tallies import DAY_MS, Delta, Tallies
from commpref.storage import codec
from commpref.storage.postgres.connection import PostgresConnections, retrying
from commpref.storage.postgres.subscribers_sql import (
    EVENTS_LOCK_CLASS,
    LOCK_EVENTS_FOR_READ,
    unpack_deltas,
)

# One folder at a time, across processes (others skip their turn), and a recount holds it
# so that no fold moves a delta it has counted. An (int4, int4) key, apart from the
# single-bigint keys.
FOLD_LOCK = (0x636F6D6D, 0x74616C6C)  # "comm", "tall"
FOLD_BATCH = 5000  # deltas moved per transaction
RECOUNT_FLUSH = 50_000  # rows worked out between two flushes of a recount (bounds its memory)
PREFETCH = 1000  # rows a recount's cursor fetches per round trip

READ = """
SELECT day, name, value, NULL::bytea AS deltas FROM tallies
WHERE portal_id = $1 AND (day = 0 OR day >= $2)
UNION ALL
SELECT NULL, NULL, NULL, deltas FROM tally_deltas WHERE portal_id = $1
"""
TRY_FOLD_LOCK = "SELECT pg_try_advisory_xact_lock($1, $2)"
TAKE_DELTAS = """
DELETE FROM tally_deltas
WHERE id IN (SELECT id FROM tally_deltas ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING portal_id, deltas
"""
ADD = """
INSERT INTO tallies AS t (portal_id, day, name, value)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[])
ON CONFLICT (portal_id, day, name) DO UPDATE SET value = t.value + EXCLUDED.value
"""
STATES = "SELECT state FROM subscribers WHERE portal_id = $1 AND created_at >= 0"
ENTRIES = "SELECT at, actor, changes FROM events WHERE portal_id = $1"
PUT = """
INSERT INTO tallies (portal_id, day, name, value)
SELECT $1, d, n, v FROM unnest($2::bigint[], $3::text[], $4::bigint[]) AS u(d, n, v)
"""


class PostgresTallies(PostgresConnections):
    async def tallies(self, portal_id: int, *, since_day: int) -> Tallies:
        async with self._connection() as con:
            found = await con.fetch(READ, portal_id, since_day)
        rows = [(r[0], r[1], r[2]) for r in found if r[3] is None]
        rows += worked_out(r[3] for r in found if r[3] is not None)
        return Tallies.of(rows, since_day=since_day)

    async def recount_tallies(self, portal_id: int) -> Tallies:
        return Tallies.of(await retrying(partial(self._recount, portal_id)))

    async def _recount(self, portal_id: int) -> list[tuple[int, str, int]]:
        async with self._connection() as con, con.transaction(isolation="read_committed"):
            # Exclusive where writers append shared (`subscribers_sql.ADD_DELTAS`): this waits
            # for the writers that hold it and holds back the others, so the portal's
            # records, ledger and deltas stand still while they are read and replaced. Then
            # the fold lock: no folder moves one of the deltas dropped below.
            await con.execute(LOCK_EVENTS_FOR_READ, EVENTS_LOCK_CLASS, portal_id)
            await con.execute("SELECT pg_advisory_xact_lock($1, $2)", *FOLD_LOCK)
            rows = await _counted(con, portal_id)
            await con.execute("DELETE FROM tally_deltas WHERE portal_id = $1", portal_id)
            await con.execute("DELETE FROM tallies WHERE portal_id = $1", portal_id)
            await con.execute(
                PUT,
                portal_id,
                [r[0] for r in rows],
                [r[1] for r in rows],
                [r[2] for r in rows],
            )
        return rows

    async def fold_tallies(self) -> int:
        moved = 0
        while True:
            taken = await retrying(self._fold_once)
            moved += taken
            if taken < FOLD_BATCH:
                return moved

    async def _fold_once(self) -> int:
        async with self._connection() as con, con.transaction(isolation="read_committed"):
            if not await con.fetchval(TRY_FOLD_LOCK, *FOLD_LOCK):
                return 0  # another process is folding, or a recount runs
            taken = await con.fetch(TAKE_DELTAS, FOLD_BATCH)
            by_portal: dict[int, list[bytes]] = defaultdict(list)
            for portal_id, deltas in taken:
                by_portal[portal_id].append(deltas)
            keys: list[tuple[int, int, str, int]] = []
            for portal_id, deltas in sorted(by_portal.items()):
                keys += [(portal_id, day, name, n) for day, name, n in worked_out(deltas)]
            if keys:
                await con.execute(
                    ADD,
                    [k[0] for k in keys],
                    [k[1] for k in keys],
                    [k[2] for k in keys],
                    [k[3] for k in keys],
                )
        return len(taken)

    async def _recount_every_portal(self) -> None:
        async with self._connection() as con:
            portals = [r[0] for r in await con.fetch("SELECT id FROM portals ORDER BY id")]
        for portal_id in portals:
            await self.recount_tallies(portal_id)


def _state(key: bytes) -> Subscriber:
    types, wide, bounce = codec.decode(key)
    return Subscriber("", 0, types, wide, bounce=bounce)


def worked_out(deltas: Iterable[bytes]) -> list[tuple[int, str, int]]:
    """The rows that packed deltas add up to."""
    return Delta.merged(map(unpack_deltas, deltas), codec.decode_changes, _state).rows()


def _changes(data: bytes) -> tuple[Change, ...]:
    return codec.decode_changes(data)


async def _counted(con: Any, portal_id: int) -> list[tuple[int, str, int]]:
    """The portal's tallies worked out from its stored records and its ledger (erasure
    labels and all), read through cursors (inside the caller's transaction)."""
    totals: Counter[tuple[int, str]] = Counter()
    delta = Delta()
    seen = 0

    def flush() -> None:
        nonlocal delta
        totals.update({(day, name): n for day, name, n in delta.rows()})
        delta = Delta()

    async for r in con.cursor(STATES, portal_id, prefetch=PREFETCH):
        delta.created(r[0], partial(_state, r[0]))
        seen += 1
        if seen % RECOUNT_FLUSH == 0:
            flush()
    async for r in con.cursor(ENTRIES, portal_id, prefetch=PREFETCH):
        at = r[0]
        # By day, not by time: a day's entries of one actor and change list count together.
        delta.entry(at - at % DAY_MS, r[1], r[2], partial(_changes, r[2]), moves=False)
        seen += 1
        if seen % RECOUNT_FLUSH == 0:
            flush()
    flush()
    return [(day, name, n) for (day, name), n in sorted(totals.items()) if n]
