"""The mail job: sends what the outbox holds through the SMTP relay, retried with backoff.

Rows are queued by a sign-up's transaction, already rendered (`http/api/signups.py`), and
claimed here with a lease, so any number of processes may run the job; a row whose worker
died is claimed again once its lease lapses (at least once: the fixed Message-ID lets a
relay or mailbox recognise a repeat). smtplib blocks, so each send runs in a thread.

- The relay accepts → SENT.
- `TemporaryFailure` (unreachable, TLS, a refused login, a 4xx) → PENDING again, at the
  next time of `Backoff`; FAILED once its retry window is over or MAX_ATTEMPTS were made.
- `PermanentFailure` (a 5xx to the transaction) → FAILED at once.
- No relay configured (`COMMPREF_SMTP_URL` unset): nothing is claimed, the rows wait, and
  the job says so once in the log.

Every BACKLOG_EVERY_MS the job reports how many rows wait (`on_backlog`: /metrics'
`commpref_mail_backlog`), with a relay or without: without one is when they pile up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from commpref.domain.signups import MailState
from commpref.domain.webhooks import Backoff
from commpref.errors import Unavailable
from commpref.http import logs
from commpref.jobs.imports import pause
from commpref.jobs.webhooks import BACKLOG_EVERY_MS
from commpref.mail.relay import MailError, PermanentFailure, Relay
from commpref.services.context import now_ms
from commpref.settings import Settings
from commpref.storage.mail import QueuedMail
from commpref.storage.store import Store

BATCH = 10  # rows claimed at once (sent one after the other: one SMTP connection each)
MAX_ATTEMPTS = 12
BACKOFF = Backoff(initial_ms=30_000, max_ms=3_600_000, window_ms=24 * 3_600_000)
MAX_ERROR = 500
LOG = logging.getLogger("commpref.mail")
NO_RELAY = "COMMPREF_SMTP_URL is not set: confirmation emails wait in the outbox"


def parse(message: bytes) -> EmailMessage:
    """The queued bytes as the message `Relay.send` takes (headers kept as rendered)."""
    parsed = BytesParser(policy=policy.default).parsebytes(message)
    assert isinstance(parsed, EmailMessage)
    return parsed


class MailWorker:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        relay: Relay | None = None,
        backoff: Backoff = BACKOFF,
        warn: Callable[[str], None] | None = None,
        on_backlog: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.poll_s = settings.job_poll_ms / 1000
        # `from_url` was checked at start-up (`app.create_app`); here it cannot fail.
        self.relay = relay or (Relay.from_url(settings.smtp_url) if settings.smtp_url else None)
        self.backoff = backoff
        self.lease_ms = int((self.relay.timeout if self.relay else 30) * 1000) * 4 + 30_000
        self.warn = warn or LOG.warning
        self._warned = False
        self.on_backlog = on_backlog
        self._backlog_at = 0

    async def send(self, relay: Relay, mail: QueuedMail) -> None:
        attempts = mail.attempts + 1
        error: str | None = None
        state = MailState.SENT
        try:
            await asyncio.to_thread(relay.send, parse(mail.message))
        except PermanentFailure as exc:
            state, error = MailState.FAILED, str(exc)[:MAX_ERROR]
        except MailError as exc:
            state, error = MailState.PENDING, str(exc)[:MAX_ERROR]
        now = now_ms()
        next_at = now
        if state is MailState.PENDING:
            retry = self.backoff.next_attempt(
                attempts=attempts, created_at=mail.created_at, now=now
            )
            if retry is None or attempts >= MAX_ATTEMPTS:
                state = MailState.FAILED
            else:
                next_at = retry
        await self.store.finish_mail(
            mail.id, state=state, attempts=attempts, next_attempt_at=next_at, error=error, now=now
        )

    async def report_backlog(self, now: int) -> None:
        if self.on_backlog is not None and now - self._backlog_at >= BACKLOG_EVERY_MS:
            self._backlog_at = now
            self.on_backlog(await self.store.mail_backlog())

    async def send_due(self) -> int:
        """Send every row due now (one claim); returns how many were claimed."""
        now = now_ms()
        if self.relay is None:
            if not self._warned:
                self._warned = True
                self.warn(NO_RELAY)
            await self.report_backlog(now)
            return 0
        claimed = await self.store.claim_mail(now=now, lease_until=now + self.lease_ms, limit=BATCH)
        for mail in claimed:
            await self.send(self.relay, mail)
        await self.report_backlog(now)
        return len(claimed)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sent = 0
            try:
                sent = await self.send_due()
            except Unavailable:
                pass
            except Exception as exc:  # never let the worker die
                logs.error("mail worker error", None, exc)
            if not sent:
                await pause(stop, self.poll_s)
