"""`Store.count_request` on SQLite (`ratelimits.RateLimitStore`): the rule PostgreSQL runs as
one conditional upsert (`postgres.ratelimits`), run in Python inside one write transaction
(the single writer, BEGIN IMMEDIATE across processes).
"""

from __future__ import annotations

import sqlite3
from array import array

from commpref.storage.ratelimits import DAY_MS, RateCount
from commpref.storage.sqlite.connection import SqliteConnections


class SqliteRateLimits(SqliteConnections):
    async def count_request(
        self, *, token_id: int, now: int, window_ms: int, window_max: int, daily_max: int
    ) -> RateCount:
        return await self._write(
            lambda c: count(
                c,
                token_id=token_id,
                now=now,
                window_ms=window_ms,
                window_max=window_max,
                daily_max=daily_max,
            )
        )


def _pack(hits: list[int]) -> bytes:
    return array("q", hits).tobytes()


def _unpack(blob: bytes) -> list[int]:
    values = array("q")
    values.frombytes(blob)
    return values.tolist()


def count(
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
