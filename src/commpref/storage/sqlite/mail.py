"""Sign-ups and the mail outbox on SQLite (`mail.MailStore`).

Every write runs on the store's single writer thread, so a sign-up's throttle read, its
subscriber, ledger entry, sign-up row and email are one atomic step, and a claim (select,
then update) cannot hand a row to two workers.
"""

from __future__ import annotations

import sqlite3
from typing import TypeVar

from commpref.domain.signups import Delivery, MailState, Signup, pack_ids
from commpref.storage.mail import (
    DELIVERY_COLUMNS,
    SIGNUP_COLUMNS,
    SIGNUP_WIDTH,
    NewSignup,
    OutgoingMail,
    QueuedMail,
    SignupPlan,
    SignupResult,
    delivery_row,
    signup_row,
)
from commpref.storage.sqlite import subscribers
from commpref.storage.sqlite.connection import SqliteConnections
from commpref.storage.sqlite.transactions import one
from commpref.storage.subscribers import Outcome, Plan

T = TypeVar("T")
Conn = sqlite3.Connection

# The confirmation emails of an address, by way of its sign-ups (indexed by address).
SQL_SENT = (
    "SELECT o.created_at FROM signups s JOIN mail_outbox o ON o.signup_id = s.id "
    "WHERE s.portal_id = ? AND s.email = ? AND s.requested_at > ? AND o.created_at > ?"
)
SQL_ADD_SIGNUP = (
    "INSERT INTO signups (portal_id, email, business_unit_id, subscription_ids, language, "
    "source, token_hash, requested_at, expires_at, correlation_id, direct) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SQL_ADD_MAIL = (
    "INSERT INTO mail_outbox (portal_id, signup_id, recipient, message, message_id, state, "
    "attempts, next_attempt_at, lease_until, created_at) "
    "VALUES (?, ?, ?, ?, ?, 'PENDING', 0, ?, 0, ?)"
)
SQL_DUE = (
    "SELECT id FROM mail_outbox WHERE state = 'PENDING' AND next_attempt_at <= ? "
    "AND coalesce(lease_until, 0) <= ? ORDER BY next_attempt_at, id LIMIT ?"
)


class SqliteMail(SqliteConnections):
    async def sign_up(
        self, portal_id: int, email: str, plan: SignupPlan, *, since: int
    ) -> SignupResult:
        outcome = await self._write(lambda c: _sign_up(c, portal_id, email, plan, since))
        self._committed(outcome)
        return outcome.value

    async def get_signup(self, portal_id: int, signup_id: int) -> Signup | None:
        sql = f"SELECT {SIGNUP_COLUMNS} FROM signups s WHERE s.portal_id = ? AND s.id = ?"
        row = await self._read(lambda c: one(c, sql, (portal_id, signup_id)))
        return None if row is None else signup_row(row)

    async def signup_by_token(self, token_hash: str) -> Signup | None:
        sql = f"SELECT {SIGNUP_COLUMNS} FROM signups s WHERE s.token_hash = ?"
        row = await self._read(lambda c: one(c, sql, (token_hash,)))
        return None if row is None else signup_row(row)

    async def list_signups(
        self, portal_id: int, *, limit: int = 100
    ) -> list[tuple[Signup, Delivery | None]]:
        sql = (
            f"SELECT {SIGNUP_COLUMNS}, {DELIVERY_COLUMNS} FROM signups s "
            "LEFT JOIN mail_outbox o ON o.id = "
            "(SELECT max(id) FROM mail_outbox WHERE signup_id = s.id) "
            "WHERE s.portal_id = ? ORDER BY s.id DESC LIMIT ?"
        )
        rows = await self._read(lambda c: c.execute(sql, (portal_id, limit)).fetchall())
        return [(signup_row(r[:SIGNUP_WIDTH]), delivery_row(r[SIGNUP_WIDTH:])) for r in rows]

    async def signup_delivery(self, portal_id: int, signup_id: int) -> Delivery | None:
        sql = (
            f"SELECT {DELIVERY_COLUMNS} FROM mail_outbox o WHERE o.portal_id = ? "
            "AND o.signup_id = ? ORDER BY o.id DESC LIMIT 1"
        )
        row = await self._read(lambda c: one(c, sql, (portal_id, signup_id)))
        return None if row is None else delivery_row(row)

    async def confirm_signup(
        self, portal_id: int, signup_id: int, email: str, plan: Plan[T], *, now: int
    ) -> T | None:
        outcome = await self._write(lambda c: _confirm(c, portal_id, signup_id, email, plan, now))
        if outcome is None:
            return None
        self._committed(outcome)
        return outcome.value

    async def set_unit_double_opt_in(
        self, portal_id: int, business_unit_id: int, value: bool | None
    ) -> bool:
        sql = "UPDATE business_units SET double_opt_in = ? WHERE portal_id = ? AND id = ?"
        args = (value, portal_id, business_unit_id)
        return bool(await self._write(lambda c: c.execute(sql, args).rowcount == 1))

    async def claim_mail(self, *, now: int, lease_until: int, limit: int) -> list[QueuedMail]:
        return await self._write(lambda c: _claim(c, now, lease_until, limit))

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
        sql = (
            "UPDATE mail_outbox SET state = ?, attempts = ?, next_attempt_at = ?, "
            "lease_until = 0, last_error = ?, "
            "sent_at = CASE WHEN ? = 'SENT' THEN ? ELSE sent_at END, "
            "message = CASE WHEN ? = 'PENDING' THEN message ELSE X'' END WHERE id = ?"
        )
        args = (state.value, attempts, next_attempt_at, error, state.value, now, state.value,
                mail_id)  # fmt: skip
        await self._write(lambda c: c.execute(sql, args))

    async def mail_backlog(self) -> int:
        sql = "SELECT count(*) FROM mail_outbox WHERE state = 'PENDING'"
        return int((await self._read(lambda c: one(c, sql)))[0])

    async def prune_signups(self, *, before: int) -> int:
        return await self._write(lambda c: _prune(c, before))


# --- statements ----------------------------------------------------------------------------


def _sign_up(
    c: Conn, portal_id: int, email: str, plan: SignupPlan, since: int
) -> Outcome[SignupResult]:
    sent = [r[0] for r in c.execute(SQL_SENT, (portal_id, email, since, since))]
    outcome = subscribers.apply(c, portal_id, [email], lambda subs: plan(subs, sent))
    decision = outcome.value
    signup_id = _add_signup(c, portal_id, email, decision.signup)
    if decision.mail is not None:
        _add_mail(c, portal_id, signup_id, decision.mail, decision.signup.requested_at)
    return Outcome(
        SignupResult(decision, signup_id), outcome.touched, outcome.events, outcome.suppressions
    )


def _add_signup(c: Conn, portal_id: int, email: str, s: NewSignup) -> int:
    row_id = c.execute(
        SQL_ADD_SIGNUP,
        (portal_id, email, s.business_unit_id, pack_ids(s.subscription_ids), s.language,
         s.source, s.token_hash, s.requested_at, s.expires_at, s.correlation_id, s.direct),
    ).lastrowid  # fmt: skip
    assert row_id is not None
    return row_id


def _add_mail(c: Conn, portal_id: int, signup_id: int, mail: OutgoingMail, now: int) -> None:
    c.execute(
        SQL_ADD_MAIL,
        (portal_id, signup_id, mail.recipient, mail.message, mail.message_id, now, now),
    )


def _confirm(
    c: Conn, portal_id: int, signup_id: int, email: str, plan: Plan[T], now: int
) -> Outcome[T] | None:
    marked = c.execute(
        "UPDATE signups SET confirmed_at = ? WHERE portal_id = ? AND id = ? "
        "AND confirmed_at IS NULL AND expires_at > ?",
        (now, portal_id, signup_id, now),
    ).rowcount
    if marked != 1:
        return None
    outcome: Outcome[T] = subscribers.apply(c, portal_id, [email], plan)
    return outcome


def _claim(c: Conn, now: int, lease_until: int, limit: int) -> list[QueuedMail]:
    ids = [r[0] for r in c.execute(SQL_DUE, (now, now, limit))]
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    c.execute(f"UPDATE mail_outbox SET lease_until = ? WHERE id IN ({marks})", (lease_until, *ids))
    rows = c.execute(
        "SELECT id, portal_id, signup_id, recipient, message, message_id, attempts, created_at "
        f"FROM mail_outbox WHERE id IN ({marks}) ORDER BY id",
        ids,
    ).fetchall()
    return [QueuedMail(r[0], r[1], r[2], r[3], bytes(r[4]), *r[5:8]) for r in rows]


def _prune(c: Conn, before: int) -> int:
    c.execute(
        "DELETE FROM mail_outbox WHERE signup_id IN (SELECT id FROM signups WHERE expires_at < ?)",
        (before,),
    )
    return int(c.execute("DELETE FROM signups WHERE expires_at < ?", (before,)).rowcount)
