"""Sign-ups and the mail outbox on PostgreSQL (`mail.MailStore`).

A sign-up takes a transaction-scoped advisory lock on its address before it reads the
address's recent confirmation emails: `mutate`'s row lock comes later, inside `_apply`,
and the throttle must be read under a lock that a concurrent sign-up of the same address
also waits for. Claims use `FOR UPDATE SKIP LOCKED`, so workers of many processes share
the outbox.
"""

from __future__ import annotations

from typing import TypeVar

from commpref.domain.signups import Delivery, MailState, Signup, pack_ids
from commpref.storage.mail import (
    DELIVERY_COLUMNS,
    SIGNUP_COLUMNS,
    SIGNUP_WIDTH,
    QueuedMail,
    SignupPlan,
    SignupResult,
    delivery_row,
    signup_row,
)
from commpref.storage.postgres.connection import affected, retrying
from commpref.storage.postgres.subscribers import PostgresSubscribers
from commpref.storage.subscribers import Outcome, Plan

T = TypeVar("T")

LOCK_ADDRESS = "SELECT pg_advisory_xact_lock(hashtextextended($1, 11))"
SENT = """
SELECT o.created_at FROM signups s JOIN mail_outbox o ON o.signup_id = s.id
WHERE s.portal_id = $1 AND s.email = $2 AND s.requested_at > $3 AND o.created_at > $3
"""
ADD_SIGNUP = """
INSERT INTO signups (portal_id, email, business_unit_id, subscription_ids, language, source,
    token_hash, requested_at, expires_at, correlation_id, direct)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id
"""
ADD_MAIL = """
INSERT INTO mail_outbox (portal_id, signup_id, recipient, message, message_id, state,
    attempts, next_attempt_at, lease_until, created_at)
VALUES ($1, $2, $3, $4, $5, 'PENDING', 0, $6, 0, $6)
"""
CONFIRM = """
UPDATE signups SET confirmed_at = $3
WHERE portal_id = $1 AND id = $2 AND confirmed_at IS NULL AND expires_at > $3
"""
LIST = f"""
SELECT {SIGNUP_COLUMNS}, {DELIVERY_COLUMNS} FROM signups s
LEFT JOIN mail_outbox o ON o.id = (SELECT max(id) FROM mail_outbox WHERE signup_id = s.id)
WHERE s.portal_id = $1 ORDER BY s.id DESC LIMIT $2
"""
DELIVERY = f"""
SELECT {DELIVERY_COLUMNS} FROM mail_outbox o WHERE o.portal_id = $1 AND o.signup_id = $2
ORDER BY o.id DESC LIMIT 1
"""
CLAIM = """
WITH due AS (
    SELECT id FROM mail_outbox
    WHERE state = 'PENDING' AND next_attempt_at <= $1 AND coalesce(lease_until, 0) <= $1
    ORDER BY next_attempt_at, id LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE mail_outbox o SET lease_until = $2 FROM due WHERE o.id = due.id
RETURNING o.id, o.portal_id, o.signup_id, o.recipient, o.message, o.message_id, o.attempts,
    o.created_at
"""
FINISH = """
UPDATE mail_outbox SET state = $2, attempts = $3, next_attempt_at = $4, lease_until = 0,
    last_error = $5, sent_at = CASE WHEN $2 = 'SENT' THEN $6 ELSE sent_at END,
    message = CASE WHEN $2 = 'PENDING' THEN message ELSE ''::bytea END
WHERE id = $1
"""
PRUNE = """
WITH gone AS (DELETE FROM signups WHERE expires_at < $1 RETURNING id),
mails AS (DELETE FROM mail_outbox WHERE signup_id IN (SELECT id FROM gone))
SELECT count(*) FROM gone
"""


class PostgresMail(PostgresSubscribers):
    async def sign_up(
        self, portal_id: int, email: str, plan: SignupPlan, *, since: int
    ) -> SignupResult:
        async def once() -> Outcome[SignupResult]:
            async with self._connection() as con, con.transaction(isolation="read_committed"):
                await con.execute(LOCK_ADDRESS, f"signup:{portal_id}:{email}")
                sent = [r[0] for r in await con.fetch(SENT, portal_id, email, since)]
                outcome = await self._apply(con, portal_id, [email], lambda s: plan(s, sent))
                decision = outcome.value
                s = decision.signup
                signup_id = await con.fetchval(
                    ADD_SIGNUP, portal_id, email, s.business_unit_id,
                    pack_ids(s.subscription_ids), s.language, s.source, s.token_hash,
                    s.requested_at, s.expires_at, s.correlation_id, s.direct,
                )  # fmt: skip
                if (m := decision.mail) is not None:
                    await con.execute(ADD_MAIL, portal_id, signup_id, m.recipient,
                                      m.message, m.message_id, s.requested_at)  # fmt: skip
            result = SignupResult(decision, signup_id)
            return Outcome(result, outcome.touched, outcome.events, outcome.suppressions)

        done = await retrying(once)
        self._committed(done)
        return done.value

    async def get_signup(self, portal_id: int, signup_id: int) -> Signup | None:
        sql = f"SELECT {SIGNUP_COLUMNS} FROM signups s WHERE s.portal_id = $1 AND s.id = $2"
        async with self._connection() as con:
            row = await con.fetchrow(sql, portal_id, signup_id)
        return None if row is None else signup_row(tuple(row))

    async def signup_by_token(self, token_hash: str) -> Signup | None:
        sql = f"SELECT {SIGNUP_COLUMNS} FROM signups s WHERE s.token_hash = $1"
        async with self._connection() as con:
            row = await con.fetchrow(sql, token_hash)
        return None if row is None else signup_row(tuple(row))

    async def list_signups(
        self, portal_id: int, *, limit: int = 100
    ) -> list[tuple[Signup, Delivery | None]]:
        async with self._connection() as con:
            rows = await con.fetch(LIST, portal_id, limit)
        return [
            (signup_row(tuple(r)[:SIGNUP_WIDTH]), delivery_row(tuple(r)[SIGNUP_WIDTH:]))
            for r in rows
        ]

    async def signup_delivery(self, portal_id: int, signup_id: int) -> Delivery | None:
        async with self._connection() as con:
            row = await con.fetchrow(DELIVERY, portal_id, signup_id)
        return None if row is None else delivery_row(tuple(row))

    async def confirm_signup(
        self, portal_id: int, signup_id: int, email: str, plan: Plan[T], *, now: int
    ) -> T | None:
        async def once() -> Outcome[T] | None:
            async with self._connection() as con, con.transaction(isolation="read_committed"):
                # The row lock of the UPDATE makes a second confirmation wait, then find
                # the sign-up confirmed and change nothing.
                if affected(await con.execute(CONFIRM, portal_id, signup_id, now)) != 1:
                    return None
                return await self._apply(con, portal_id, [email], plan)

        done = await retrying(once)
        if done is None:
            return None
        self._committed(done)
        return done.value

    async def set_unit_double_opt_in(
        self, portal_id: int, business_unit_id: int, value: bool | None
    ) -> bool:
        sql = "UPDATE business_units SET double_opt_in = $3 WHERE portal_id = $1 AND id = $2"
        async with self._connection() as con:
            return affected(await con.execute(sql, portal_id, business_unit_id, value)) == 1

    async def claim_mail(self, *, now: int, lease_until: int, limit: int) -> list[QueuedMail]:
        async with self._connection() as con:
            rows = await con.fetch(CLAIM, now, lease_until, limit)
        found = [QueuedMail(r[0], r[1], r[2], r[3], bytes(r[4]), *tuple(r)[5:8]) for r in rows]
        return sorted(found, key=lambda m: m.id)

    async def finish_mail(
        self,
        mail_id: int,
        *,
        state: MailState,
        attempts: int,
        next_attempt_at: int,
        error: str | None,
        now: int,
    ) -> None:
        async with self._connection() as con:
            await con.execute(FINISH, mail_id, state.value, attempts, next_attempt_at, error, now)

    async def mail_backlog(self) -> int:
        sql = "SELECT count(*) FROM mail_outbox WHERE state = 'PENDING'"
        async with self._connection() as con:
            return int(await con.fetchval(sql))

    async def prune_signups(self, *, before: int) -> int:
        async with self._connection() as con:
            return int(await con.fetchval(PRUNE, before))
