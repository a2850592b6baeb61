"""`Store.count_request` on PostgreSQL (`ratelimits.RateLimitStore`), in one conditional
upsert: `ON CONFLICT DO UPDATE` locks the token's row and evaluates every expression
against its latest committed version, so concurrent requests from any number of processes
are counted one after the other.
"""

from __future__ import annotations

from typing import Any

from commpref.storage.postgres.connection import PostgresConnections
from commpref.storage.ratelimits import DAY_MS, RateCount

# $1 token, $2 day (now // DAY_MS), $3 now, $4 window length (ms), $5 window max, $6 daily max.
# Every SET expression sees the old row; `counted` records this request's decision so that
# RETURNING can report it.
_PRUNED = "ARRAY(SELECT h FROM unnest(r.hits) AS h WHERE h > $3::bigint - $4::bigint)"
_TODAY = "(CASE WHEN r.day = $2::bigint THEN r.day_count ELSE 0 END)"
_ROOM = f"({_TODAY} < $6::bigint AND cardinality({_PRUNED}) < $5::bigint)"

COUNT_REQUEST = f"""
INSERT INTO rate_limits AS r (token_id, day, day_count, hits, counted)
VALUES ($1, $2::bigint, 1, ARRAY[$3::bigint], TRUE)
ON CONFLICT (token_id) DO UPDATE SET
    day = $2::bigint,
    counted = {_ROOM},
    day_count = {_TODAY} + CASE WHEN {_ROOM} THEN 1 ELSE 0 END,
    hits = {_PRUNED} || CASE WHEN {_ROOM} THEN ARRAY[$3::bigint] ELSE '{{}}'::bigint[] END
RETURNING counted, day_count, hits
"""


def _rate_count(row: Any) -> RateCount:
    return RateCount(bool(row["counted"]), tuple(sorted(row["hits"])), int(row["day_count"]))


class PostgresRateLimits(PostgresConnections):
    async def count_request(
        self, *, token_id: int, now: int, window_ms: int, window_max: int, daily_max: int
    ) -> RateCount:
        day = now // DAY_MS
        async with self._connection() as con:
            row = await con.fetchrow(
                COUNT_REQUEST, token_id, day, now, window_ms, window_max, daily_max
            )
        return _rate_count(row)
