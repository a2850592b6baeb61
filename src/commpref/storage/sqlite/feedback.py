"""Mailbox feedback on SQLite (`feedback.FeedbackStore`)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar

from commpref.domain.feedback import Provider
from commpref.domain.feedback_providers import ProviderConfig
from commpref.errors import NotFound
from commpref.storage.feedback import FeedbackPlan
from commpref.storage.sqlite import subscribers
from commpref.storage.sqlite.connection import Conn, SqliteConnections
from commpref.storage.sqlite.transactions import one
from commpref.storage.subscribers import Outcome

T = TypeVar("T")

_CONFIG = "portal_id, provider, config, updated_at"
_CHUNK = 500  # ids per statement: SQLite bounds the number of parameters


def _config(row: Any) -> ProviderConfig:
    return ProviderConfig(row[0], Provider(row[1]), json.loads(row[2]), row[3])


def _put(
    c: Conn, portal_id: int, provider: Provider, config: Mapping[str, str], now: int
) -> ProviderConfig:
    if one(c, "SELECT 1 FROM portals WHERE id = ?", (portal_id,)) is None:
        raise NotFound(f"Portal {portal_id} does not exist")
    row = one(
        c,
        f"INSERT INTO feedback_providers ({_CONFIG}) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (portal_id, provider) DO UPDATE"
        " SET config = excluded.config, updated_at = excluded.updated_at"
        f" RETURNING {_CONFIG}",
        (portal_id, provider.value, json.dumps(dict(config), sort_keys=True), now),
    )
    assert row is not None
    return _config(row)


def _chunks(ids: Collection[str]) -> list[list[str]]:
    listed = list(dict.fromkeys(ids))
    return [listed[i : i + _CHUNK] for i in range(0, len(listed), _CHUNK)]


def _record(c: Conn, portal_id: int, provider: str, ids: Collection[str], now: int) -> set[str]:
    new: set[str] = set()
    for chunk in _chunks(ids):
        for event_id in chunk:
            inserted = c.execute(
                "INSERT INTO feedback_events (portal_id, provider, event_id, received_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (portal_id, provider, event_id, now),
            ).rowcount
            if inserted:
                new.add(event_id)
    return new


class SqliteFeedback(SqliteConnections):
    async def get_feedback_provider(
        self, portal_id: int, provider: Provider
    ) -> ProviderConfig | None:
        sql = f"SELECT {_CONFIG} FROM feedback_providers WHERE portal_id = ? AND provider = ?"
        row = await self._read(lambda c: one(c, sql, (portal_id, provider.value)))
        return None if row is None else _config(row)

    async def list_feedback_providers(self, portal_id: int) -> list[ProviderConfig]:
        sql = f"SELECT {_CONFIG} FROM feedback_providers WHERE portal_id = ? ORDER BY provider"
        return await self._read(lambda c: [_config(r) for r in c.execute(sql, (portal_id,))])

    async def put_feedback_provider(
        self, *, portal_id: int, provider: Provider, config: Mapping[str, str], now: int
    ) -> ProviderConfig:
        return await self._write(lambda c: _put(c, portal_id, provider, config, now))

    async def delete_feedback_provider(self, portal_id: int, provider: Provider) -> bool:
        sql = "DELETE FROM feedback_providers WHERE portal_id = ? AND provider = ?"
        count = await self._write(lambda c: c.execute(sql, (portal_id, provider.value)).rowcount)
        return bool(count)

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
        addresses = sorted(set(emails))

        def run(c: Conn) -> Outcome[T]:
            new = frozenset(_record(c, portal_id, provider.value, event_ids, now))
            return subscribers.apply(c, portal_id, addresses, lambda subs: plan(subs, new))

        outcome = await self._write(run)
        self._committed(outcome)
        return outcome.value

    async def prune_feedback_events(self, *, before: int) -> int:
        sql = "DELETE FROM feedback_events WHERE received_at < ?"
        return int(await self._write(lambda c: c.execute(sql, (before,)).rowcount))
