"""The mail job against a real SMTP server (tests/support/smtp.py) and both backends:
sent, retried with backoff, given up, and waiting (with one warning) without a relay."""

from __future__ import annotations

from commpref.domain.signups import MailState
from commpref.domain.webhooks import Backoff
from commpref.jobs.mail import NO_RELAY, MailWorker
from commpref.jobs.pruning import Pruner
from commpref.mail import compose
from commpref.mail.relay import Relay
from commpref.services.context import now_ms
from commpref.settings import Settings
from commpref.storage.mail import OutgoingMail
from commpref.storage.store import Store
from tests.integration.test_store_ledger import A, new_portal
from tests.integration.test_store_mail import asking
from tests.support.smtp import smtp_server

DAY = 86_400_000


def rendered(to: str) -> OutgoingMail:
    message_id = compose.new_message_id("brand.example")
    message = compose.confirmation(
        to=to, sender="news@brand.example", sender_name="Brand", brand="Brand",
        types=[("News", "")], confirm_url="https://x.example/hs/manage-preferences/confirm?t=a",
        language="en", expires_at_ms=now_ms() + DAY, message_id=message_id, date_ms=now_ms(),
    )  # fmt: skip
    return OutgoingMail(to, message.as_bytes(), message_id)


async def queued(store: Store) -> tuple[int, int]:
    portal, ids = await new_portal(store)
    plan = asking(ids[0], "t1", now_ms())

    def with_real_mail(subs, sent):  # type: ignore[no-untyped-def]
        outcome = plan(subs, sent)
        decision = outcome.value
        outcome.value = type(decision)(decision.signup, rendered(A))
        return outcome

    done = await store.sign_up(portal.id, A, with_real_mail, since=now_ms() - DAY)
    return portal.id, done.signup_id


async def test_sent_once_with_its_message_id(store: Store) -> None:
    portal_id, signup_id = await queued(store)
    with smtp_server() as smtp:
        worker = MailWorker(store, Settings(), relay=Relay.from_url(smtp.url()))
        assert await worker.send_due() == 1
        assert await worker.send_due() == 0
        [received] = smtp.messages
    assert received.rcpt_tos == [A]
    delivery = await store.signup_delivery(portal_id, signup_id)
    assert delivery is not None and (delivery.state, delivery.attempts) == (MailState.SENT, 1)
    claimed = received.message["Message-ID"]
    assert claimed and claimed.endswith("@brand.example>")


async def test_temporary_failures_retry_then_fail(store: Store) -> None:
    portal_id, signup_id = await queued(store)
    with smtp_server(rcpt_reply="451 4.3.0 Try later") as smtp:
        worker = MailWorker(store, Settings(), relay=Relay.from_url(smtp.url()),
                            backoff=Backoff(0, 0, DAY))  # fmt: skip
        assert await worker.send_due() == 1
        delivery = await store.signup_delivery(portal_id, signup_id)
        assert delivery is not None
        assert (delivery.state, delivery.attempts) == (MailState.PENDING, 1)
        assert "451" in (delivery.last_error or "")
        gone = MailWorker(store, Settings(), relay=Relay.from_url(smtp.url()),
                          backoff=Backoff(0, 0, 0))  # the retry window is over  # fmt: skip
        assert await gone.send_due() == 1
    delivery = await store.signup_delivery(portal_id, signup_id)
    assert delivery is not None and (delivery.state, delivery.attempts) == (MailState.FAILED, 2)


async def test_a_permanent_failure_fails_at_once(store: Store) -> None:
    portal_id, signup_id = await queued(store)
    with smtp_server(rcpt_reply="550 5.1.1 No such user") as smtp:
        worker = MailWorker(store, Settings(), relay=Relay.from_url(smtp.url()))
        assert await worker.send_due() == 1
    delivery = await store.signup_delivery(portal_id, signup_id)
    assert delivery is not None and (delivery.state, delivery.attempts) == (MailState.FAILED, 1)
    assert "550" in (delivery.last_error or "")


async def test_without_a_relay_rows_wait_and_one_warning_is_logged(store: Store) -> None:
    portal_id, signup_id = await queued(store)
    said: list[str] = []
    worker = MailWorker(store, Settings(), warn=said.append)
    assert worker.relay is None
    assert await worker.send_due() == 0
    assert await worker.send_due() == 0
    assert said == [NO_RELAY]
    delivery = await store.signup_delivery(portal_id, signup_id)
    assert delivery is not None and (delivery.state, delivery.attempts) == (MailState.PENDING, 0)


async def test_the_pruner_deletes_old_sign_ups_and_keeps_recent_ones(store: Store) -> None:
    portal, ids = await new_portal(store)
    now = now_ms()
    old = await store.sign_up(portal.id, A, asking(ids[0], "old", now - 60 * DAY), since=0)
    recent = await store.sign_up(portal.id, "b@example.com", asking(ids[0], "new", now), since=0)
    await Pruner(store, Settings(signup_keep_days=30)).prune()
    assert await store.get_signup(portal.id, old.signup_id) is None
    assert await store.get_signup(portal.id, recent.signup_id) is not None
