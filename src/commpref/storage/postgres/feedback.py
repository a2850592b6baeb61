"""Mailbox feedback on PostgreSQL (`feedback.FeedbackStore`)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar

from commpref.domain.feedback import Provider
from commpref.domain.feedback_providers import ProviderConfig
from commpref.errors import NotFound
from commpref.storage.feedback import FeedbackPlan
from commpref.storage.postgres.connection import retrying
from commpref.storage.postgres.subscribers import PostgresSubscribers
from commpref.storage.subscribers import Outcome

T = TypeVar("T")

_CONFIG = "portal_id, provider, config, updated_at"
PORTAL = "SELECT 1 FROM portals WHERE id = $1"
PUT = f"""
INSERT INTO feedback_providers ({_CONFIG}) VALUES ($1, $2, $3, $4)
ON CONFLICT (portal_id, provider) DO UPDATE
SET config = excluded.config, updated_at = excluded.updated_at
RETURNING {_CONFIG}
"""
GET = f"SELECT {_CONFIG} FROM feedback_providers WHERE portal_id = $1 AND provider = $2"
LIST = f"SELECT {_CONFIG} FROM feedback_providers WHERE portal_id = $1 ORDER BY provider"
DELETE = "DELETE FROM feedback_providers WHERE portal_id = $1 AND provider = $2"
RECORD = """
INSERT INTO feedback_events (portal_id, provider, event_id, received_at)
SELECT $1, $2, id, $4 FROM unnest($3::text[]) AS t(id)
ON CONFLICT DO NOTHING
RETURNING event_id
"""
PRUNE = "DELETE FROM feedback_events WHERE received_at < $1"


def _config(row: Any) -> ProviderConfig:
    return ProviderConfig(row[0], Provider(row[1]), json.loads(row[2]), row[3])


class PostgresFeedback(PostgresSubscribers):
    async def get_feedback_provider(
        self, portal_id: int, provider: Provider
    ) -> ProviderConfig | None:
        async with self._connection() as con:
            row = await con.fetchrow(GET, portal_id, provider.value)
        return None if row is None else _config(row)

    async def list_feedback_providers(self, portal_id: int) -> list[ProviderConfig]:
        async with self._connection() as con:
            rows = await con.fetch(LIST, portal_id)
        return [_config(r) for r in rows]

    async def put_feedback_provider(
        self, *, portal_id: int, provider: Provider, config: Mapping[str, str], now: int
    ) -> ProviderConfig:
        text = json.dumps(dict(config), sort_keys=True)
        async with self._connection() as con, con.transaction():
            if await con.fetchval(PORTAL, portal_id) is None:
                raise NotFound(f"Portal {portal_id} does not exist")
            row = await con.fetchrow(PUT, portal_id, provider.value, text, now)
        return _config(row)

    async def delete_feedback_provider(self, portal_id: int, provider: Provider) -> bool:
        async with self._connection() as con:
            status = await con.execute(DELETE, portal_id, provider.value)
        return str(status).split()[-1] != "0"

    async def apply_feedback(
        self,
        portal_id: int,
        provider: Provider,
        event_ids: Collection[str],
        emails: Sequence[str],
        plan: FeedbackPlan[T],
        *,
        now: int,
    ) -> T:
        # Sorted, so two deliveries recording overlapping ids take the key locks in one
        # order; a second delivery of an id waits on its key until the first commits, and
        # then finds it recorded.
        ids, addresses = sorted(set(event_ids)), sorted(set(emails))

        async def once() -> Outcome[T]:
            async with self._connection() as con, con.transaction(isolation="read_committed"):
                rows = await con.fetch(RECORD, portal_id, provider.value, ids, now)
                new = frozenset(r[0] for r in rows)
                return await self._apply(con, portal_id, addresses, lambda s: plan(s, new))

        done = await retrying(once)
        self._committed(done)
        return done.value

    async def prune_feedback_events(self, *, before: int) -> int:
        async with self._connection() as con:
            status = await con.execute(PRUNE, before)
        return int(status.split()[-1])
