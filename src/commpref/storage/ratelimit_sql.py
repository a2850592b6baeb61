"""`Store.count_request` for both engines: one atomic step per request (docs/wire-contract.md §7.2).

A token's row holds the times of the requests counted in the rolling window and the count of
the current UTC day. Counting a request either appends it (both windows have room) or leaves
the counters as they are (a window is full: the request is answered 429 and not counted).

PostgreSQL does it in one conditional upsert: `ON CONFLICT DO UPDATE` locks the token's row
and evaluates every expression against its latest committed version, so concurrent requests
from any number of processes are counted one after the other. SQLite runs the same rule in
Python inside one write transaction (the single writer, BEGIN IMMEDIATE across processes).
"""

from __future__ import annotations

import sqlite3
from array import array
from typing import Any

from commpref.storage.base import RateCount

DAY_MS = 86_400_000

# $1 token, $2 day (now // DAY_MS), $3 now, $4 window length (ms), $5 window max, $6 daily max.
# Every SET expression sees the old row; `counted` records this request's decision so that
# RETURNING can report it.
_PRUNED = "ARRAY(SELECT h FROM unnest(r.hits) AS h WHERE h > $3::bigint - $4::bigint)"
_TODAY = "(CASE WHEN r.day = $2::bigint THEN r.day_count ELSE 0 END)"
_ROOM = f"({_TODAY} < $6::bigint AND cardinality({_PRUNED}) < $5::bigint)"

POSTGRES_COUNT = f"""
INSERT INTO rate_limits AS r (token_id, day, day_count, hits, counted)
VALUES ($1, $2::bigint, 1, ARRAY[$3::bigint], TRUE)
ON CONFLICT (token_id) DO UPDATE SET
    day = $2::bigint,
    counted = {_ROOM},
    day_count = {_TODAY} + CASE WHEN {_ROOM} THEN 1 ELSE 0 END,
    hits = {_PRUNED} || CASE WHEN {_ROOM} THEN ARRAY[$3::bigint] ELSE '{{}}'::bigint[] END
RETURNING counted, day_count, hits
"""


def postgres_result(row: Any) -> RateCount:
    return RateCount(bool(row["counted"]), tuple(sorted(row["hits"])), int(row["day_count"]))


def _pack(hits: list[int]) -> bytes:
    return array("q", hits).tobytes()


def _unpack(blob: bytes) -> list[int]:
    values = array("q")
    values.frombytes(blob)
    return values.tolist()


def sqlite_count(
    c: sqlite3.Connection,
    *,
    token_id: int,
    now: int,
    window_ms: int,
    window_max: int,
    daily_max: int,
) -> RateCount:
    """The PostgreSQL statement's rule, run inside the caller's write transaction."""
    day = now // DAY_MS
    row = c.execute(
        "SELECT day, day_count, hits FROM rate_limits WHERE token_id = ?", (token_id,)
    ).fetchone()
    if row is None:
        today, hits = 0, []
    else:
        today = int(row[1]) if int(row[0]) == day else 0
        hits = [h for h in _unpack(row[2]) if h > now - window_ms]
    counted = today < daily_max and len(hits) < window_max
    if counted:
        today += 1
        hits.append(now)
    c.execute(
        "INSERT INTO rate_limits (token_id, day, day_count, hits, counted) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (token_id) DO UPDATE SET day = excluded.day,"
        " day_count = excluded.day_count, hits = excluded.hits, counted = excluded.counted",
        (token_id, day, today, _pack(hits), counted),
    )
    return RateCount(counted, tuple(sorted(hits)), today)
