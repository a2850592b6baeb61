"""Tallies on SQLite (`tallies.TallyStore`).

Every transaction that changes subscribers or the ledger appends its delta to
`tally_deltas`, as one packed row (`add`, called by `subscribers.save` and the erasure):
what its addresses and entries were, grouped by packed state and change list
(`domain.tallies.Delta.groups`). Working the names out and adding them to `tallies` would
cost a batch opt-out far more (23 upserts); `fold_tallies`, run every few seconds by the job
workers on the writer, does it for many transactions at once, each distinct state and change
list once. A read adds the pending deltas of its portal to the totals, in one statement.
Should no folder run, a writer folds when the oldest pending delta is `FOLD_INLINE` behind.
A recount runs on the writer, so writers wait for it.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import partial

import msgspec

from commpref.domain.model import Change, Subscriber
from commpref.domain.tallies import DAY_MS, Delta, Groups, Tallies
from commpref.storage import codec
from commpref.storage.sqlite.connection import SqliteConnections

Conn = sqlite3.Connection
Rows = list[tuple[int, str, int]]

FOLD_INLINE = 4096  # pending deltas after which a writer folds them itself
FOLD_BATCH = 5000  # deltas read at once by a fold
RECOUNT_FLUSH = 50_000  # rows worked out between two flushes of a recount (bounds its memory)
SQL_ADD_DELTA = "INSERT INTO tally_deltas (portal_id, deltas) VALUES (?, ?)"
SQL_ADD = (
    "INSERT INTO tallies (portal_id, day, name, value) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (portal_id, day, name) DO UPDATE SET value = value + excluded.value"
)
SQL_READ = (
    "SELECT day, name, value, NULL FROM tallies WHERE portal_id = ? AND (day = 0 OR day >= ?) "
    "UNION ALL SELECT NULL, NULL, NULL, deltas FROM tally_deltas WHERE portal_id = ?"
)

_pack = msgspec.msgpack.Encoder().encode
_decoder: msgspec.msgpack.Decoder[Groups] = msgspec.msgpack.Decoder(Groups)
_unpack = _decoder.decode


class SqliteTallies(SqliteConnections):
    async def tallies(self, portal_id: int, *, since_day: int) -> Tallies:
        found = await self._read(
            lambda c: c.execute(SQL_READ, (portal_id, since_day, portal_id)).fetchall()
        )
        rows: Rows = [(day, name, n) for day, name, n, deltas in found if deltas is None]
        rows += worked_out(deltas for _, _, _, deltas in found if deltas is not None)
        return Tallies.of(rows, since_day=since_day)

    async def recount_tallies(self, portal_id: int) -> Tallies:
        return Tallies.of(await self._write(lambda c: recount(c, portal_id)))

    async def fold_tallies(self) -> int:
        return await self._write(fold)

    async def _recount_every_portal(self) -> None:
        await self._write(recount_every_portal)


# --- writing and folding -------------------------------------------------------------------


def add(c: Conn, portal_id: int, delta: Delta) -> None:
    """Append a transaction's delta (inside that transaction)."""
    groups = delta.groups()
    if not any(groups):
        return
    added = c.execute(SQL_ADD_DELTA, (portal_id, _pack(groups))).lastrowid
    if added is not None and added % FOLD_INLINE == 0:
        oldest = c.execute("SELECT min(id) FROM tally_deltas").fetchone()[0]
        if oldest <= added - FOLD_INLINE:  # no folder keeps up: do its work now
            fold(c)


def _state(key: bytes) -> Subscriber:
    types, wide, bounce = codec.decode(key)
    return Subscriber("", 0, types, wide, bounce=bounce)


def worked_out(deltas: Iterable[bytes]) -> Rows:
    """The rows that packed deltas add up to."""
    return Delta.merged(map(_unpack, deltas), codec.decode_changes, _state).rows()


def fold(c: Conn) -> int:
    """Move every pending delta into the totals (on the writer); how many were moved."""
    moved = last = 0
    while batch := c.execute(
        "SELECT id, portal_id, deltas FROM tally_deltas WHERE id > ? ORDER BY id LIMIT ?",
        (last, FOLD_BATCH),
    ).fetchall():
        by_portal: dict[int, list[bytes]] = defaultdict(list)
        for _, portal_id, deltas in batch:
            by_portal[portal_id].append(deltas)
        for portal_id, deltas in by_portal.items():
            rows = worked_out(deltas)
            c.executemany(SQL_ADD, [(portal_id, day, name, n) for day, name, n in rows])
        last, moved = batch[-1][0], moved + len(batch)
    c.execute("DELETE FROM tally_deltas WHERE id <= ?", (last,))
    return moved


# --- recounting -----------------------------------------------------------------------------


def _changes(data: bytes) -> tuple[Change, ...]:
    return codec.decode_changes(data)


def counted(c: Conn, portal_id: int | None) -> dict[int, Rows]:
    """The tallies of one portal (None: of every portal, in one pass: the ledger has no
    index by portal) worked out from the stored records and the ledger (erasure labels and
    all), reading both row by row."""
    where, args = ("", ()) if portal_id is None else (" WHERE portal_id = ?", (portal_id,))
    totals: dict[int, Counter[tuple[int, str]]] = defaultdict(Counter)
    deltas: dict[int, Delta] = defaultdict(Delta)

    def flush() -> None:
        for pid, delta in deltas.items():
            totals[pid].update({(day, name): n for day, name, n in delta.rows()})
        deltas.clear()

    rows = c.execute("SELECT portal_id, state FROM subscribers" + where, args)
    for i, (pid, state) in enumerate(rows, 1):
        deltas[pid].created(state, partial(_state, state))
        if i % RECOUNT_FLUSH == 0:
            flush()
    flush()
    rows = c.execute("SELECT portal_id, at, actor, changes FROM events" + where, args)
    for i, (pid, at, actor, changes) in enumerate(rows, 1):
        # By day, not by time: a day's entries of one actor and change list count together.
        day = at - at % DAY_MS
        deltas[pid].entry(day, actor, changes, partial(_changes, changes), moves=False)
        if i % RECOUNT_FLUSH == 0:
            flush()
    flush()
    return {
        pid: [(day, name, n) for (day, name), n in sorted(counts.items()) if n]
        for pid, counts in totals.items()
    }


def _replace(c: Conn, portal_id: int, rows: Rows) -> None:
    c.execute("DELETE FROM tally_deltas WHERE portal_id = ?", (portal_id,))
    c.execute("DELETE FROM tallies WHERE portal_id = ?", (portal_id,))
    c.executemany(
        "INSERT INTO tallies (portal_id, day, name, value) VALUES (?, ?, ?, ?)",
        [(portal_id, day, name, n) for day, name, n in rows],
    )


def recount(c: Conn, portal_id: int) -> Rows:
    """Replace the portal's tallies with a recount (on the writer, in its transaction)."""
    rows = counted(c, portal_id).get(portal_id, [])
    _replace(c, portal_id, rows)
    return rows


def recount_every_portal(c: Conn) -> None:
    found = counted(c, None)
    for (portal_id,) in c.execute("SELECT id FROM portals ORDER BY id").fetchall():
        _replace(c, portal_id, found.get(portal_id, []))
