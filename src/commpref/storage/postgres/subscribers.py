"""Subscribers and their statuses on PostgreSQL (`subscribers.SubscriberStore`).

A write batch is five round trips whatever its size: BEGIN; claim every address
(`CLAIM_SUBSCRIBERS`); load them (`LOAD_CLAIMED`); one statement that saves what the plan
touched, drops the unused placeholders, appends the ledger entries with their webhook
outbox rows and the tally delta (`SAVE_BATCH`); COMMIT. Requests of one portal that arrive
in the same turn of the event loop share that work (`coalesce`). Erased addresses are read
back as suppressed subscribers (`_subscribers`). The statements are `subscribers_sql`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from commpref.domain import erasure
from commpref.domain.model import Event, Subscriber
from commpref.domain.tallies import Delta
from commpref.errors import NotFound, Unavailable, ValidationError
from commpref.storage import codec
from commpref.storage.postgres.coalesce import Batcher, Outcomes, one_by_one
from commpref.storage.postgres.connection import PostgresConnections
from commpref.storage.postgres.subscribers_sql import (
    APPEND_EVENTS,
    CLAIM_SUBSCRIBERS,
    LOAD_CLAIMED,
    LOAD_SUBSCRIBERS,
    PORTAL_SECRET,
    SAVE_BATCH,
    SCOPE_OF_SUPPRESSED,
    SUBSCRIBERS_PAGE,
    SUPPRESS,
    SUPPRESSED,
    SUPPRESSED_FOR_UPDATE,
    pack_deltas,
)
from commpref.storage.subscribers import Outcome, Plan, T

MUTATE_ATTEMPTS = 5  # our writers lock in one order; this covers foreign sessions and surprises

# Failures after which the whole transaction can simply run again.
_RETRYABLE = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    # Another process migrated the schema under our cached prepared statements; asyncpg
    # has dropped them, and cannot re-prepare by itself inside a transaction.
    asyncpg.InvalidCachedStatementError,
)


# Writes of up to this many addresses share transactions with the others of their loop turn
# (`PostgresStore._write_batch`); larger ones gain little from company and run alone.
GROUP_MAX_ADDRESSES = 100
_Write = tuple[list[str], Plan[Any]]  # a `mutate` call: its addresses and its plan


def _group(jobs: list[_Write]) -> _Write:
    """One plan running the plans of `jobs` in turn over their own addresses, as if each had
    its own transaction: a plan that raises has its changes undone and its exception kept.
    The group's value is one `(True, Outcome)` or `(False, exception)` per job."""
    addresses = list(dict.fromkeys(e for emails, _ in jobs for e in emails))

    def plan(subs: dict[str, Subscriber]) -> Outcome[Outcomes]:
        done: Outcomes = []
        touched: set[str] = set()
        events: list[Event] = []
        for emails, job in jobs:
            before = {e: _copy(subs[e]) for e in emails}
            try:
                outcome = job({e: subs[e] for e in emails})
            except Exception as exc:
                subs.update(before)
                done.append((False, exc))
                continue
            done.append((True, outcome))
            touched |= outcome.touched
            events += outcome.events
        return Outcome(done, touched, events)

    return addresses, plan


def _copy(sub: Subscriber) -> Subscriber:
    return Subscriber(
        sub.email, sub.created_at, dict(sub.types), dict(sub.wide), sub.id, sub.bounce
    )


class PostgresSubscribers(PostgresConnections):
    _portal_secrets: dict[int, bytes]
    _reads: Batcher[Sequence[str], dict[str, Subscriber]]
    _writes: Batcher[_Write, Any]

    async def read_subscribers(
        self, portal_id: int, emails: Sequence[str]
    ) -> dict[str, Subscriber]:
        if not emails:
            return {}
        return await self._reads.submit(portal_id, emails)

    async def _read_batch(self, portal_id: int, jobs: list[Sequence[str]]) -> Outcomes:
        """The reads of one loop turn (`coalesce`) as one query."""
        emails = list(dict.fromkeys(e for wanted in jobs for e in wanted))
        try:
            async with self._connection() as con:
                rows = await con.fetch(LOAD_SUBSCRIBERS, portal_id, emails)
                found = await self._subscribers(con, portal_id, rows, emails)
        except ValidationError:
            if len(jobs) == 1:
                raise
            return await one_by_one(self._read_batch, portal_id, jobs)
        return [(True, {e: found[e] for e in wanted if e in found}) for wanted in jobs]

    async def mutate(self, portal_id: int, emails: Sequence[str], plan: Plan[T]) -> T:
        addresses = list(dict.fromkeys(emails))
        if len(addresses) > GROUP_MAX_ADDRESSES:
            return await self._mutate_alone(portal_id, addresses, plan)
        value: T = await self._writes.submit(portal_id, (addresses, plan))
        return value

    async def _write_batch(self, portal_id: int, jobs: list[_Write]) -> Outcomes:
        """The writes of one loop turn (`coalesce`) as one transaction: one claim, load,
        save and commit for all of them. A failing plan fails alone (`_group`); if the
        transaction fails, each write is tried again on its own."""
        if len(jobs) == 1:
            return [(True, await self._mutate_alone(portal_id, *jobs[0]))]
        addresses, plan = _group(jobs)
        try:
            done = await self._mutate_once(portal_id, addresses, plan)
        except Exception:
            return await one_by_one(self._write_batch, portal_id, jobs)
        return [(ok, o.value if ok else o) for ok, o in done]

    async def _mutate_alone(self, portal_id: int, addresses: list[str], plan: Plan[T]) -> T:
        for attempt in range(1, MUTATE_ATTEMPTS + 1):
            try:
                return await self._mutate_once(portal_id, addresses, plan)
            except _RETRYABLE as exc:
                if attempt == MUTATE_ATTEMPTS:
                    raise Unavailable("database busy: too many conflicting writes") from exc
                # Jitter so that the same contenders do not collide again in lockstep.
                await asyncio.sleep(random.uniform(0, 0.01 * attempt))
        raise AssertionError("unreachable")

    async def _mutate_once(self, portal_id: int, addresses: list[str], plan: Plan[T]) -> T:
        async with self._connection() as con, con.transaction(isolation="read_committed"):
            # READ COMMITTED whatever the server default: each statement's fresh snapshot is
            # what makes the load below see the previous lock holders' commits.
            outcome = await self._apply(con, portal_id, addresses, plan)
        self._committed(outcome)
        return outcome.value

    async def _apply(
        self,
        con: Any,
        portal_id: int,
        addresses: list[str],
        plan: Callable[..., Outcome[T]],
        keys: Sequence[bytes] | None = None,
    ) -> Outcome[T]:
        """`mutate`'s work inside an open transaction. Import chunks pass `keys`: the plan is
        then also handed the erasure times stored under those suppression keys, and the
        suppressions it returns are kept."""
        await con.execute(CLAIM_SUBSCRIBERS, portal_id, addresses)
        # A separate statement, so its snapshot is taken after the locks are held.
        rows = await con.fetch(LOAD_CLAIMED, portal_id, addresses)
        # Stored records only: neither placeholders nor erased addresses read as suppressed.
        in_db = {r["email"] for r in rows if r["email"] is not None}
        stored = await self._subscribers(con, portal_id, rows, addresses)
        subs = {e: stored.get(e) or Subscriber(e) for e in addresses}
        if keys is None:
            outcome = plan(subs)
        else:
            found = await con.fetch(SUPPRESSED_FOR_UPDATE, portal_id, list(keys))
            outcome = plan(subs, {bytes(k): at for k, at in found})
            if outcome.suppressions:
                await con.executemany(
                    SUPPRESS, [(portal_id, k, at) for k, at in outcome.suppressions.items()]
                )
        touched = sorted(outcome.touched)
        for e in touched:
            if e not in subs or subs[e].created_at is None:
                raise ValueError(f"plan touched {e!r} without setting created_at")
        untouched_new = [e for e in addresses if e not in in_db and e not in outcome.touched]
        if touched or untouched_new or outcome.events:
            pack = codec.Packer()
            ledger = self._ledger_args(portal_id, outcome.events, pack)
            states = [pack.state(subs[e].types, subs[e].wide, subs[e].bounce) for e in touched]
            delta = Delta()
            _, subjects, at, _, actors, _, keys, _ = ledger
            delta.appended(at, actors, keys, subjects, in_db)
            delta.created_all([s for e, s in zip(touched, states, strict=True) if e not in in_db])
            await con.execute(
                SAVE_BATCH,
                *ledger,
                touched,
                [subs[e].created_at for e in touched],
                states,
                untouched_new,
                pack_deltas(delta),
            )
        return outcome

    async def _append(self, con: Any, portal_id: int, events: list[Event]) -> None:
        """Append ledger entries (and their webhook outbox rows) inside a transaction."""
        if events:
            await con.execute(APPEND_EVENTS, *self._ledger_args(portal_id, events))

    @staticmethod
    def _ledger_args(
        portal_id: int, events: list[Event], pack: codec.Packer | None = None
    ) -> tuple[Any, ...]:
        """Parameters $1-$8 of the ledger append (`subscribers_sql._APPEND`)."""
        pack = pack or codec.Packer()
        return (
            portal_id,
            [e.email for e in events],
            [e.at for e in events],
            [e.source for e in events],
            [e.actor for e in events],
            [e.correlation_id for e in events],
            [pack.changes(e.changes) for e in events],
            time.time_ns() // 1_000_000,
        )

    async def subscribers_page(
        self, portal_id: int, *, after_email: str = "", limit: int = 1000
    ) -> list[Subscriber]:
        async with self._connection() as con:
            rows = await con.fetch(SUBSCRIBERS_PAGE, portal_id, after_email, limit)
        out = []
        for r in rows:
            types, wide, bounce = codec.decode(r["state"])
            out.append(Subscriber(r["email"], r["created_at"], types, wide, bounce=bounce))
        return out

    # --- suppressions ------------------------------------------------------------------------
    async def _secret(self, con: Any, portal_id: int) -> bytes:
        """The portal's secret (it never changes, so it is cached)."""
        secret = self._portal_secrets.get(portal_id)
        if secret is None:
            value = await con.fetchval(PORTAL_SECRET, portal_id)
            if value is None:
                raise NotFound(f"Portal {portal_id} does not exist")
            secret = self._portal_secrets[portal_id] = str(value).encode()
        return secret

    async def _subscribers(
        self, con: Any, portal_id: int, rows: Any, emails: Sequence[str]
    ) -> dict[str, Subscriber]:
        """Rows of `LOAD_SUBSCRIBERS`/`LOAD_CLAIMED` as subscribers; when the rows say the
        portal has erased addresses, those among the missing ones are added as
        `erasure.suppressed_subscriber`."""
        subs: dict[str, Subscriber] = {}
        erasures = False
        for r in rows:
            if r["email"] is None:
                erasures = True
            else:
                types, wide, bounce = codec.decode(r["state"])
                subs[r["email"]] = Subscriber(
                    r["email"], r["created_at"], types, wide, bounce=bounce
                )
        missing = [e for e in dict.fromkeys(emails) if e not in subs] if erasures else []
        if not missing:
            return subs
        secret = await self._secret(con, portal_id)
        by_key = {erasure.subject_key(secret, e): e for e in missing}
        found = await con.fetch(SUPPRESSED, portal_id, list(by_key))
        if found:
            definitions, units = await con.fetchrow(SCOPE_OF_SUPPRESSED, portal_id)
            for key, erased_at in found:
                email = by_key[bytes(key)]
                subs[email] = erasure.suppressed_subscriber(email, erased_at, definitions, units)
        return subs
