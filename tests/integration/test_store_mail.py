"""Storage contract: sign-ups and the mail outbox — a sign-up's rows in one transaction,
the throttle read under the address's lock, confirmation once, claims with leases, outcomes.
Runs on every backend."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from commpref.domain.model import Change, ChangeKind, Event, Status, Subscriber
from commpref.domain.signups import MailState, SignupState, token_hash
from commpref.storage.mail import NewSignup, OutgoingMail, SignupDecision
from commpref.storage.store import Store
from commpref.storage.subscribers import Outcome
from tests.integration.test_store_ledger import NOW, A, B, new_portal, writes

DAY = 86_400_000


def draft(token: str, ids: tuple[int, ...], at: int = NOW) -> NewSignup:
    return NewSignup(0, ids, "de", "Footer form", token_hash(token), at, at + 7 * DAY, "cid-1")


def message(to: str) -> OutgoingMail:
    return OutgoingMail(to, f"To: {to}\r\n\r\nhello\r\n".encode(), "<m1@example.com>")


def asking(d: int, token: str, at: int = NOW, *, fail: bool = False, saw: list[int] | None = None):  # type: ignore[no-untyped-def]
    """A plan recording a sign-up of `d` with a CONFIRMATION entry; mails unless one was
    queued in the window it is given (how many: appended to `saw`)."""

    def plan(subs: dict[str, Subscriber], sent: Sequence[int]) -> Outcome[SignupDecision]:
        (email,) = subs
        sub = subs[email]
        sub.created_at = sub.created_at or at
        if fail:
            raise RuntimeError("plan failed")
        change = Change(ChangeKind.CONFIRMATION, d, Status.NOT_SPECIFIED, Status.NOT_SPECIFIED)
        event = Event(email, (change,), "Sign-up", "token:1", "cid-1", at)
        mail = None if sent else message(email)
        if saw is not None:
            saw.append(len(sent))
        return Outcome(SignupDecision(draft(token, (d,), at), mail), {email}, [event])

    return plan


async def test_sign_up_saves_its_rows_together(store: Store) -> None:
    portal, ids = await new_portal(store)
    saw: list[int] = []
    done = await store.sign_up(portal.id, A, asking(ids[0], "t1", saw=saw), since=NOW - DAY)
    assert saw == [0]
    s = await store.get_signup(portal.id, done.signup_id)
    assert s is not None
    assert (s.email, s.subscription_ids, s.language, s.source, s.confirmed_at) == (
        A, (ids[0],), "de", "Footer form", None,
    )  # fmt: skip
    assert s.state(NOW) is SignupState.PENDING and s.state(NOW + 7 * DAY) is SignupState.EXPIRED
    assert s.direct is False
    assert await store.signup_by_token(token_hash("t1")) == s
    assert await store.signup_by_token(token_hash("t2")) is None
    delivery = await store.signup_delivery(portal.id, s.id)
    assert delivery is not None and delivery.state is MailState.PENDING
    entries = await store.events(portal.id, email=A)
    assert [e.event.changes[0].kind for e in entries] == [ChangeKind.CONFIRMATION]
    # another portal sees nothing
    other, _ = await new_portal(store, "Other")
    assert await store.get_signup(other.id, s.id) is None
    assert await store.list_signups(other.id) == []
    assert [x[0].id for x in await store.list_signups(portal.id)] == [s.id]


async def test_a_failing_plan_writes_nothing(store: Store) -> None:
    portal, ids = await new_portal(store)
    with pytest.raises(RuntimeError):
        await store.sign_up(portal.id, A, asking(ids[0], "t1", fail=True), since=NOW - DAY)
    assert await store.signup_by_token(token_hash("t1")) is None
    assert await store.list_signups(portal.id) == []
    assert await store.read_subscribers(portal.id, [A]) == {}


async def test_the_plan_sees_the_emails_of_its_address_in_the_window(store: Store) -> None:
    portal, ids = await new_portal(store)
    saw: list[int] = []
    await store.sign_up(portal.id, A, asking(ids[0], "t1", saw=saw), since=NOW - DAY)
    second = await store.sign_up(
        portal.id, A, asking(ids[0], "t2", NOW + 1, saw=saw), since=NOW - DAY
    )
    await store.sign_up(portal.id, B, asking(ids[0], "t3", NOW + 2, saw=saw), since=NOW - DAY)
    await store.sign_up(portal.id, A, asking(ids[0], "t4", NOW + 3, saw=saw), since=NOW + 1)
    assert saw == [0, 1, 0, 0]
    assert await store.signup_delivery(portal.id, second.signup_id) is None


async def test_concurrent_sign_ups_of_one_address_mail_once(store: Store) -> None:
    portal, ids = await new_portal(store)
    done = await asyncio.gather(
        *(store.sign_up(portal.id, A, asking(ids[0], f"t{i}"), since=NOW - DAY) for i in range(5))
    )
    mailed = [d for d in done if d.decision.mail is not None]
    assert len(mailed) == 1
    assert len(await store.claim_mail(now=NOW, lease_until=NOW + 60_000, limit=10)) == 1


async def test_a_direct_sign_up_is_recorded_as_such(store: Store) -> None:
    portal, ids = await new_portal(store)

    def plan(subs: dict[str, Subscriber], sent: Sequence[int]) -> Outcome[SignupDecision]:
        outcome = writes(ids[0], A, status=Status.SUBSCRIBED)(subs)
        direct = replace(draft("t1", (ids[0],)), expires_at=NOW, direct=True)
        return Outcome(SignupDecision(direct), outcome.touched, outcome.events)

    done = await store.sign_up(portal.id, A, plan, since=NOW - DAY)
    [(s, delivery)] = await store.list_signups(portal.id)
    assert (s.id, s.direct, s.state(NOW), delivery) == (
        done.signup_id, True, SignupState.SUBSCRIBED, None,
    )  # fmt: skip
    assert await store.get_signup(portal.id, done.signup_id) == s
    subs = await store.read_subscribers(portal.id, [A])
    assert subs[A].types[ids[0]].status is Status.SUBSCRIBED


async def test_confirmation_runs_once_and_not_after_expiry(store: Store) -> None:
    portal, ids = await new_portal(store)
    done = await store.sign_up(portal.id, A, asking(ids[0], "t1"), since=NOW - DAY)
    subscribe = writes(ids[0], A, status=Status.SUBSCRIBED, at=NOW + 5)

    def plan(subs: dict[str, Subscriber]) -> Outcome[bool]:
        done = subscribe(subs)
        return Outcome(True, done.touched, done.events)

    late = await store.confirm_signup(portal.id, done.signup_id, A, plan, now=NOW + 7 * DAY)
    assert late is None
    results = await asyncio.gather(
        *(store.confirm_signup(portal.id, done.signup_id, A, plan, now=NOW + 5) for _ in range(3))
    )
    assert sorted(r is None for r in results) == [False, True, True]
    s = await store.get_signup(portal.id, done.signup_id)
    assert s is not None and s.confirmed_at == NOW + 5
    assert len(await store.events(portal.id, email=A)) == 2  # the request, one confirmation


async def test_claims_lease_and_outcomes(store: Store) -> None:
    portal, ids = await new_portal(store)
    done = await store.sign_up(portal.id, A, asking(ids[0], "t1"), since=NOW - DAY)
    assert await store.mail_backlog() == 1
    claimed = await store.claim_mail(now=NOW, lease_until=NOW + 60_000, limit=10)
    assert [(m.recipient, m.message_id, m.attempts, m.signup_id) for m in claimed] == [
        (A, "<m1@example.com>", 0, done.signup_id)
    ]
    assert claimed[0].message.startswith(b"To: a@example.com")
    # leased: nobody else gets it until the lease lapses
    assert await store.claim_mail(now=NOW + 1, lease_until=NOW + 60_000, limit=10) == []
    again = await store.claim_mail(now=NOW + 60_000, lease_until=NOW + 120_000, limit=10)
    assert [m.id for m in again] == [claimed[0].id]
    await store.finish_mail(claimed[0].id, state=MailState.PENDING, attempts=1,
                            next_attempt_at=NOW + 200_000, error="451 try later",
                            now=NOW + 60_000)  # fmt: skip
    assert await store.claim_mail(now=NOW + 199_999, lease_until=NOW + 300_000, limit=9) == []
    delivery = await store.signup_delivery(portal.id, done.signup_id)
    assert delivery is not None
    assert (delivery.state, delivery.attempts, delivery.last_error) == (
        MailState.PENDING, 1, "451 try later",
    )  # fmt: skip
    await store.finish_mail(
        claimed[0].id, state=MailState.SENT, attempts=2, next_attempt_at=NOW + 200_000,
        error=None, now=NOW + 200_000,
    )  # fmt: skip
    delivery = await store.signup_delivery(portal.id, done.signup_id)
    assert delivery is not None
    assert (delivery.state, delivery.attempts, delivery.sent_at) == (
        MailState.SENT, 2, NOW + 200_000,
    )  # fmt: skip
    assert await store.mail_backlog() == 0
    assert await store.claim_mail(now=NOW + 999_999, lease_until=NOW + 2_000_000, limit=9) == []
    listed = await store.list_signups(portal.id)
    assert listed[0][1] == delivery


async def test_a_finished_email_keeps_no_link(store: Store, database_url: str) -> None:
    """SENT and FAILED empty the message (its link); a retry keeps it to send again."""
    portal, ids = await new_portal(store)
    for n, state in enumerate((MailState.PENDING, MailState.SENT, MailState.FAILED)):
        email = f"m{n}@example.com"
        await store.sign_up(portal.id, email, asking(ids[0], f"t{n}"), since=NOW - DAY)
        [mail] = await store.claim_mail(now=NOW, lease_until=NOW + 1, limit=9)
        await store.finish_mail(mail.id, state=state, attempts=1, next_attempt_at=NOW + DAY,
                                error=None, now=NOW)  # fmt: skip
    sizes = await raw(database_url, "SELECT recipient, length(message) FROM mail_outbox")
    assert sorted(sizes) == [
        ("m0@example.com", len(message("m0@example.com").message)),
        ("m1@example.com", 0),
        ("m2@example.com", 0),
    ]


async def test_sign_ups_are_pruned_by_expiry_with_their_emails(
    store: Store, database_url: str
) -> None:
    portal, ids = await new_portal(store)
    old = await store.sign_up(portal.id, A, asking(ids[0], "t1"), since=NOW - DAY)
    new = await store.sign_up(portal.id, B, asking(ids[0], "t2", NOW + 2 * DAY), since=NOW + DAY)
    expires = NOW + 7 * DAY
    assert await store.prune_signups(before=expires) == 0  # the link expires at, not before
    assert await store.prune_signups(before=expires + 1) == 1
    assert await store.get_signup(portal.id, old.signup_id) is None
    assert await store.signup_by_token(token_hash("t1")) is None
    assert await store.get_signup(portal.id, new.signup_id) is not None
    assert await raw(database_url, "SELECT recipient FROM mail_outbox") == [(B,)]
    assert await store.prune_signups(before=expires + 1) == 0
    # The ledger keeps what the sign-up proved.
    assert [e.event.changes[0].kind for e in await store.events(portal.id, email=A)] == [
        ChangeKind.CONFIRMATION
    ]


async def raw(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows read past the store: what it keeps, not what it answers."""
    if database_url.startswith("sqlite:"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            return [tuple(r) for r in db.execute(sql)]
    con = await asyncpg.connect(database_url)
    try:
        return [tuple(r) for r in await con.fetch(sql)]
    finally:
        await con.close()


async def test_erasure_deletes_sign_ups_and_their_emails(store: Store) -> None:
    portal, ids = await new_portal(store)
    mine = await store.sign_up(portal.id, A, asking(ids[0], "t1"), since=NOW - DAY)
    other = await store.sign_up(portal.id, B, asking(ids[0], "t2"), since=NOW - DAY)
    await store.erase(portal.id, A, actor="cli", correlation_id="c", source="Erasure", now=NOW)
    assert await store.get_signup(portal.id, mine.signup_id) is None
    assert await store.signup_by_token(token_hash("t1")) is None
    assert await store.signup_delivery(portal.id, mine.signup_id) is None
    assert [m.recipient for m in await store.claim_mail(now=NOW, lease_until=NOW + 1, limit=9)] == [
        B
    ]
    assert await store.get_signup(portal.id, other.signup_id) is not None  # B's stays
    # erased again (already suppressed): a sign-up made since goes too
    again = await store.sign_up(portal.id, A, asking(ids[0], "t3", NOW + 1), since=NOW - DAY)
    await store.erase(portal.id, A, actor="cli", correlation_id="c", source="Erasure", now=NOW + 2)
    assert await store.get_signup(portal.id, again.signup_id) is None
