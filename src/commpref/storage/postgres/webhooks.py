"""Webhooks and their outbox on PostgreSQL (`webhooks.WebhookStore`).

`subscribers_sql.SAVE_BATCH` queues the deliveries in the transaction of each change; here they
are listed, replayed, retried and claimed. Claims use `FOR UPDATE SKIP LOCKED`, so any number
of processes can run workers against one database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from commpref.domain.model import Event
from commpref.domain.webhooks import Delivery, DeliveryState, EventFilter, Webhook
from commpref.errors import NotFound
from commpref.storage import codec
from commpref.storage.ledger import StoredEvent
from commpref.storage.postgres.connection import PostgresConnections, affected
from commpref.storage.webhooks import ClaimedDelivery

WEBHOOK_COLUMNS = """w.id, w.portal_id, w.url, w.secret, w.event_filter, w.active,
    w.created_at, w.updated_at"""
WEBHOOK_FIELDS = frozenset({"url", "secret", "event_filter", "active"})
CREATE_WEBHOOK = f"""
INSERT INTO webhooks AS w (portal_id, url, secret, event_filter, active, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)
RETURNING {WEBHOOK_COLUMNS}
"""
GET_WEBHOOK = f"SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.portal_id = $1 AND w.id = $2"
LIST_WEBHOOKS = f"SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.portal_id = $1 ORDER BY w.id"
DELETE_WEBHOOK = "DELETE FROM webhooks WHERE portal_id = $1 AND id = $2 RETURNING id"


def update_webhook_sql(names: list[str]) -> str:
    """Names come from `WEBHOOK_FIELDS` only, never from input."""
    sets = "".join(f", {n} = ${i}" for i, n in enumerate(names, start=4))
    return (
        f"UPDATE webhooks AS w SET updated_at = $3{sets} WHERE w.portal_id = $1 AND w.id = $2 "
        f"RETURNING {WEBHOOK_COLUMNS}"
    )


DELIVERY_COLUMNS = """d.id, d.webhook_id, d.portal_id, d.event_id, coalesce(e.email, d.email),
    d.state, d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error,
    d.created_at, d.delivered_at"""
DELIVERIES = f"""
SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d LEFT JOIN events e ON e.id = d.event_id
WHERE d.webhook_id = $1 AND d.portal_id = $2 AND d.id > $3
    AND ($4::text IS NULL OR d.state = $4)
ORDER BY d.id LIMIT $5
"""
REPLAY = """
INSERT INTO webhook_deliveries (webhook_id, portal_id, event_id, email, state,
    next_attempt_at, created_at)
SELECT $2, portal_id, id, email, 'PENDING', 0, $4 FROM events
WHERE portal_id = $1 AND id >= $3
    AND EXISTS (SELECT 1 FROM webhooks WHERE id = $2 AND portal_id = $1)
ORDER BY id
"""
RETRY = """
UPDATE webhook_deliveries d SET state = 'PENDING', attempts = 0, next_attempt_at = $4,
    lease_until = 0, created_at = $4, delivered_at = NULL,
    email = coalesce((SELECT e.email FROM events e WHERE e.id = d.event_id), d.email)
WHERE d.webhook_id = $1 AND d.portal_id = $2 AND d.id = ANY($3::bigint[])
"""
# Due deliveries of active webhooks, never one with an older PENDING delivery (by ledger
# id, then delivery id) of the same webhook and subscriber: per subscriber, ledger order.
CLAIM_DELIVERIES = """
WITH due AS (
    SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
    WHERE d.state = 'PENDING' AND d.next_attempt_at <= $1 AND d.lease_until <= $1
        AND w.active
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
            WHERE p.webhook_id = d.webhook_id AND p.email = d.email AND p.state = 'PENDING'
                AND (p.event_id < d.event_id OR (p.event_id = d.event_id AND p.id < d.id)))
    ORDER BY d.next_attempt_at, d.id LIMIT $3
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d SET lease_until = $2 FROM due WHERE d.id = due.id
RETURNING d.id
"""
CLAIMED = f"""
SELECT {DELIVERY_COLUMNS}, {WEBHOOK_COLUMNS}, e.at, e.source, e.actor, e.correlation_id,
    e.changes
FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
JOIN events e ON e.id = d.event_id
WHERE d.id = ANY($1::bigint[]) ORDER BY d.id
"""
FINISH_DELIVERY = """
UPDATE webhook_deliveries SET state = $2, attempts = $3, next_attempt_at = $4, lease_until = 0,
    last_attempt_at = $7, last_status = $5, last_error = $6,
    delivered_at = CASE WHEN $2 = 'DELIVERED' THEN $7 ELSE delivered_at END,
    email = CASE WHEN $2 = 'PENDING' THEN email ELSE '' END
WHERE id = $1
"""
BACKLOG = "SELECT count(*) FROM webhook_deliveries WHERE state = 'PENDING'"


def _webhook_row(v: Any) -> Webhook:
    return Webhook(v[0], v[1], v[2], v[3], EventFilter.from_json(v[4]), v[5], v[6], v[7])


def _delivery_row(v: Any) -> Delivery:
    return Delivery(v[0], v[1], v[2], v[3], v[4], DeliveryState(v[5]), *v[6:13])


class PostgresWebhooks(PostgresConnections):
    async def _webhook(self, statement: str, *args: Any) -> Webhook | None:
        async with self._connection() as con:
            row = await con.fetchrow(statement, *args)
        return None if row is None else _webhook_row(tuple(row))

    async def create_webhook(
        self,
        *,
        portal_id: int,
        url: str,
        secret: str,
        event_filter: EventFilter,
        active: bool,
        now: int,
    ) -> Webhook:
        try:
            hook = await self._webhook(CREATE_WEBHOOK, portal_id, url, secret,
                                       event_filter.to_json(), active, now)  # fmt: skip
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound(f"Portal {portal_id} does not exist") from exc
        assert hook is not None
        return hook

    async def list_webhooks(self, portal_id: int) -> list[Webhook]:
        async with self._connection() as con:
            rows = await con.fetch(LIST_WEBHOOKS, portal_id)
        return [_webhook_row(tuple(r)) for r in rows]

    async def get_webhook(self, portal_id: int, webhook_id: int) -> Webhook | None:
        return await self._webhook(GET_WEBHOOK, portal_id, webhook_id)

    async def update_webhook(
        self, portal_id: int, webhook_id: int, *, now: int, **fields: object
    ) -> Webhook | None:
        unknown = sorted(set(fields) - WEBHOOK_FIELDS)
        if unknown:
            raise ValueError(f"unknown webhook field(s): {', '.join(unknown)}")
        names = sorted(fields)
        values = [v.to_json() if isinstance(v, EventFilter) else v for v in map(fields.get, names)]
        statement = update_webhook_sql(names)
        return await self._webhook(statement, portal_id, webhook_id, now, *values)

    async def delete_webhook(self, portal_id: int, webhook_id: int) -> bool:
        async with self._connection() as con:
            return await con.fetchval(DELETE_WEBHOOK, portal_id, webhook_id) is not None

    async def deliveries(
        self,
        portal_id: int,
        webhook_id: int,
        *,
        state: DeliveryState | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Delivery]:
        wanted = None if state is None else state.value
        async with self._connection() as con:
            rows = await con.fetch(DELIVERIES, webhook_id, portal_id, after_id, wanted, limit)
        return [_delivery_row(tuple(r)) for r in rows]

    async def replay_deliveries(
        self, portal_id: int, webhook_id: int, *, from_event_id: int, now: int
    ) -> int:
        async with self._connection() as con:
            status = await con.execute(REPLAY, portal_id, webhook_id, from_event_id, now)
        return affected(status)

    async def retry_deliveries(
        self, portal_id: int, webhook_id: int, delivery_ids: Sequence[int], *, now: int
    ) -> int:
        async with self._connection() as con:
            status = await con.execute(RETRY, webhook_id, portal_id, list(delivery_ids), now)
        return affected(status)

    async def claim_deliveries(
        self, *, now: int, lease_until: int, limit: int
    ) -> list[ClaimedDelivery]:
        async with self._connection() as con:
            ids = [r[0] for r in await con.fetch(CLAIM_DELIVERIES, now, lease_until, limit)]
            rows = await con.fetch(CLAIMED, ids) if ids else []
        out = []
        for r in rows:
            v = tuple(r)
            d, w = _delivery_row(v[:13]), _webhook_row(v[13:21])
            at, source, actor, cid, changes = v[21:26]
            event = Event(d.subscriber, codec.decode_changes(changes), source, actor, cid, at)
            out.append(ClaimedDelivery(d, w, StoredEvent(d.event_id, d.portal_id, event)))
        return out

    async def finish_delivery(
        self,
        delivery_id: int,
        *,
        state: DeliveryState,
        attempts: int,
        next_attempt_at: int,
        status_code: int | None,
        error: str | None,
        now: int,
    ) -> None:
        async with self._connection() as con:
            await con.execute(FINISH_DELIVERY, delivery_id, state.value, attempts,
                              next_attempt_at, status_code, error, now)  # fmt: skip

    async def webhook_backlog(self) -> int:
        async with self._connection() as con:
            return int(await con.fetchval(BACKLOG))
