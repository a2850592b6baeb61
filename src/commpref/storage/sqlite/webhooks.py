"""Webhooks and their outbox on SQLite (`webhooks.WebhookStore`).

`subscribers.save` queues the deliveries in the transaction of each change; here they are
listed, replayed, retried and claimed. Every write runs on the store's single writer thread,
so a claim (select, then update) is atomic across threads, and across processes through
BEGIN IMMEDIATE.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from commpref.domain.webhooks import Delivery, DeliveryState, EventFilter, Webhook
from commpref.storage.sqlite import ledger
from commpref.storage.sqlite.connection import SqliteConnections
from commpref.storage.sqlite.transactions import one
from commpref.storage.webhooks import ClaimedDelivery

Conn = sqlite3.Connection

_WEBHOOK = (
    "w.id, w.portal_id, w.url, w.secret, w.event_filter, w.active, w.created_at, w.updated_at"
)
_DELIVERY = (
    "d.id, d.webhook_id, d.portal_id, d.event_id, coalesce(e.email, d.email), d.state, "
    "d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error, "
    "d.created_at, d.delivered_at"
)
WEBHOOK_FIELDS = frozenset({"url", "secret", "event_filter", "active"})
# Due deliveries of active webhooks, never one with an older PENDING delivery (by ledger
# id, then delivery id) of the same webhook and subscriber: per subscriber, ledger order.
SQL_DUE = (
    "SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
    "WHERE d.state = 'PENDING' AND d.next_attempt_at <= ? AND d.lease_until <= ? "
    "AND w.active = 1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p "
    "WHERE p.webhook_id = d.webhook_id AND p.email = d.email AND p.state = 'PENDING' "
    "AND (p.event_id < d.event_id OR (p.event_id = d.event_id AND p.id < d.id))) "
    "ORDER BY d.next_attempt_at, d.id LIMIT ?"
)


class SqliteWebhooks(SqliteConnections):
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
        values = {"portal_id": portal_id, "url": url, "secret": secret,
                  "event_filter": event_filter.to_json(), "active": active, "now": now}  # fmt: skip
        return await self._write(lambda c: _create_webhook(c, values))

    async def list_webhooks(self, portal_id: int) -> list[Webhook]:
        return await self._read(lambda c: _list_webhooks(c, portal_id))

    async def get_webhook(self, portal_id: int, webhook_id: int) -> Webhook | None:
        return await self._read(lambda c: _get_webhook(c, portal_id, webhook_id))

    async def update_webhook(
        self, portal_id: int, webhook_id: int, *, now: int, **fields: object
    ) -> Webhook | None:
        unknown = sorted(set(fields) - WEBHOOK_FIELDS)
        if unknown:
            raise ValueError(f"unknown webhook field(s): {', '.join(unknown)}")
        return await self._write(lambda c: _update_webhook(c, portal_id, webhook_id, now, fields))

    async def delete_webhook(self, portal_id: int, webhook_id: int) -> bool:
        return await self._write(lambda c: _delete_webhook(c, portal_id, webhook_id))

    async def deliveries(
        self,
        portal_id: int,
        webhook_id: int,
        *,
        state: DeliveryState | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Delivery]:
        return await self._read(
            lambda c: _deliveries(c, portal_id, webhook_id, state, after_id, limit)
        )

    async def replay_deliveries(
        self, portal_id: int, webhook_id: int, *, from_event_id: int, now: int
    ) -> int:
        return await self._write(lambda c: _replay(c, portal_id, webhook_id, from_event_id, now))

    async def retry_deliveries(
        self, portal_id: int, webhook_id: int, delivery_ids: Sequence[int], *, now: int
    ) -> int:
        return await self._write(lambda c: _retry(c, portal_id, webhook_id, delivery_ids, now))

    async def claim_deliveries(
        self, *, now: int, lease_until: int, limit: int
    ) -> list[ClaimedDelivery]:
        return await self._write(lambda c: _claim_deliveries(c, now, lease_until, limit))

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
        await self._write(
            lambda c: _finish_delivery(
                c, delivery_id, state, attempts, next_attempt_at, status_code, error, now
            )
        )

    async def webhook_backlog(self) -> int:
        return await self._read(_backlog)


# --- statements ----------------------------------------------------------------------------


def _webhook(r: Sequence[Any]) -> Webhook:
    return Webhook(r[0], r[1], r[2], r[3], EventFilter.from_json(r[4]), bool(r[5]), r[6], r[7])


def _delivery(r: Sequence[Any]) -> Delivery:
    return Delivery(r[0], r[1], r[2], r[3], r[4], DeliveryState(r[5]), *r[6:13])


def _get_webhook(c: Conn, portal_id: int, webhook_id: int) -> Webhook | None:
    row = one(
        c, f"SELECT {_WEBHOOK} FROM webhooks w WHERE w.portal_id = ? AND w.id = ?",
        (portal_id, webhook_id),
    )  # fmt: skip
    return None if row is None else _webhook(row)


def _create_webhook(c: Conn, values: dict[str, Any]) -> Webhook:
    webhook_id = c.execute(
        "INSERT INTO webhooks (portal_id, url, secret, event_filter, active, created_at, "
        "updated_at) VALUES (:portal_id, :url, :secret, :event_filter, :active, :now, :now)",
        values,
    ).lastrowid
    assert webhook_id is not None
    found = _get_webhook(c, values["portal_id"], webhook_id)
    assert found is not None
    return found


def _list_webhooks(c: Conn, portal_id: int) -> list[Webhook]:
    sql = f"SELECT {_WEBHOOK} FROM webhooks w WHERE w.portal_id = ? ORDER BY w.id"
    return [_webhook(r) for r in c.execute(sql, (portal_id,))]


def _update_webhook(
    c: Conn, portal_id: int, webhook_id: int, now: int, fields: dict[str, object]
) -> Webhook | None:
    values = {k: v.to_json() if isinstance(v, EventFilter) else v for k, v in fields.items()}
    sets = "".join(f", {k} = ?" for k in values)  # names come from WEBHOOK_FIELDS only
    c.execute(
        f"UPDATE webhooks SET updated_at = ?{sets} WHERE portal_id = ? AND id = ?",
        (now, *values.values(), portal_id, webhook_id),
    )
    return _get_webhook(c, portal_id, webhook_id)


def _delete_webhook(c: Conn, portal_id: int, webhook_id: int) -> bool:
    sql = "DELETE FROM webhooks WHERE portal_id = ? AND id = ?"
    return c.execute(sql, (portal_id, webhook_id)).rowcount == 1


def _deliveries(
    c: Conn,
    portal_id: int,
    webhook_id: int,
    state: DeliveryState | None,
    after_id: int,
    limit: int,
) -> list[Delivery]:
    only = " AND d.state = ?" if state is not None else ""
    sql = (
        f"SELECT {_DELIVERY} FROM webhook_deliveries d LEFT JOIN events e ON e.id = d.event_id "
        f"WHERE d.webhook_id = ? AND d.portal_id = ? AND d.id > ?{only} ORDER BY d.id LIMIT ?"
    )
    args = (webhook_id, portal_id, after_id, *([state.value] if state else []), limit)
    return [_delivery(r) for r in c.execute(sql, args)]


def _replay(c: Conn, portal_id: int, webhook_id: int, from_event_id: int, now: int) -> int:
    if _get_webhook(c, portal_id, webhook_id) is None:
        return 0
    return c.execute(
        "INSERT INTO webhook_deliveries (webhook_id, portal_id, event_id, email, state, "
        "next_attempt_at, created_at) SELECT ?, portal_id, id, email, 'PENDING', 0, ? "
        "FROM events WHERE +portal_id = ? AND id >= ? ORDER BY id",
        (webhook_id, now, portal_id, from_event_id),
    ).rowcount


def _retry(c: Conn, portal_id: int, webhook_id: int, ids: Sequence[int], now: int) -> int:
    if not ids:
        return 0
    return c.execute(
        "UPDATE webhook_deliveries SET state = 'PENDING', attempts = 0, next_attempt_at = ?, "
        "lease_until = 0, created_at = ?, delivered_at = NULL, "
        "email = coalesce((SELECT e.email FROM events e WHERE e.id = event_id), email) "
        f"WHERE webhook_id = ? AND portal_id = ? AND id IN ({', '.join('?' * len(ids))})",
        (now, now, webhook_id, portal_id, *ids),
    ).rowcount


def _claim_deliveries(c: Conn, now: int, lease_until: int, limit: int) -> list[ClaimedDelivery]:
    ids = [r[0] for r in c.execute(SQL_DUE, (now, now, limit))]
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    c.execute(
        f"UPDATE webhook_deliveries SET lease_until = ? WHERE id IN ({marks})", (lease_until, *ids)
    )
    rows = c.execute(
        f"SELECT {_DELIVERY}, {_WEBHOOK} FROM webhook_deliveries d "
        "JOIN webhooks w ON w.id = d.webhook_id LEFT JOIN events e ON e.id = d.event_id "
        f"WHERE d.id IN ({marks}) ORDER BY d.id",
        ids,
    ).fetchall()
    out = []
    for r in rows:
        d, w = _delivery(r[:13]), _webhook(r[13:])
        entries = ledger.entries(c, d.portal_id, [d.event_id])
        if entries:
            out.append(ClaimedDelivery(d, w, entries[0]))
    return out


def _finish_delivery(
    c: Conn,
    delivery_id: int,
    state: DeliveryState,
    attempts: int,
    next_attempt_at: int,
    status_code: int | None,
    error: str | None,
    now: int,
) -> None:
    # Finished deliveries drop the address: only PENDING ones need it (for ordering).
    c.execute(
        "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, "
        "lease_until = 0, last_attempt_at = ?, last_status = ?, last_error = ?, "
        "delivered_at = CASE WHEN ? = 'DELIVERED' THEN ? ELSE delivered_at END, "
        "email = CASE WHEN ? = 'PENDING' THEN email ELSE '' END WHERE id = ?",
        (state.value, attempts, next_attempt_at, now, status_code, error, state.value, now,
         state.value, delivery_id),
    )  # fmt: skip


def _backlog(c: Conn) -> int:
    return int(one(c, "SELECT count(*) FROM webhook_deliveries WHERE state = 'PENDING'")[0])
