"""Sign-ups and the mail outbox: the part of the storage interface (`store.Store`) that
records a sign-up together with its ledger entry and its confirmation email, confirms it,
and hands the queued emails to the mail job.

Both backends implement it and pass the same contract suite
(tests/integration/test_store_mail.py). Contract:
- `sign_up` is one transaction: the address is locked as `mutate` locks it, the times of
  the confirmation emails queued for it in the last 24 hours are read under that lock (so
  two concurrent sign-ups cannot both pass the throttle), the plan runs as `mutate`'s
  plan, and its outcome, the sign-up and its email are saved together or not at all.
- `confirm_signup` marks a sign-up confirmed and runs the plan in the same transaction,
  only while it is unconfirmed and unexpired: confirming twice runs the plan once.
- Outbox rows are claimed with leases (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite:
  under the single writer), so any number of processes may run the mail job.
- A row's message, which holds the confirmation link, is emptied once the row is SENT or
  FAILED: from then on the database holds no working link, only the token's hash.
- `prune_signups` deletes the sign-ups whose link expired before a time, with their
  outbox rows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from commpref.domain.model import Subscriber
from commpref.domain.signups import Delivery, MailState, Signup, unpack_ids
from commpref.storage.subscribers import Outcome, Plan

T = TypeVar("T")

# The columns both backends select (`s`: signups, `o`: mail_outbox), read by the two
# functions below; a listing selects both, the sign-up's first.
SIGNUP_COLUMNS = (
    "s.id, s.portal_id, s.email, s.business_unit_id, s.subscription_ids, s.language, "
    "s.source, s.requested_at, s.expires_at, s.confirmed_at, s.correlation_id, s.direct"
)
DELIVERY_COLUMNS = "o.id, o.state, o.attempts, o.last_error, o.created_at, o.sent_at"
SIGNUP_WIDTH = 12  # how many of SIGNUP_COLUMNS


def signup_row(r: Sequence[Any]) -> Signup:
    return Signup(
        r[0], r[1], r[2], r[3], unpack_ids(r[4]), r[5], r[6], r[7], r[8], r[9], r[10],
        bool(r[11]),
    )  # fmt: skip


def delivery_row(r: Sequence[Any]) -> Delivery | None:
    if r[0] is None:
        return None
    return Delivery(r[0], MailState(r[1]), r[2], r[3], r[4], r[5])


@dataclass(frozen=True, slots=True)
class NewSignup:
    """A sign-up to record; the token itself is never stored, only its hash."""

    business_unit_id: int
    subscription_ids: tuple[int, ...]
    language: str
    source: str
    token_hash: str
    requested_at: int
    expires_at: int
    correlation_id: str
    direct: bool = False  # subscribed at once: recorded, never to be confirmed


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """A rendered message (RFC 5322 bytes) to queue; its Message-ID is fixed for every try."""

    recipient: str
    message: bytes
    message_id: str


@dataclass(frozen=True, slots=True)
class SignupDecision:
    """What a sign-up plan decided: the sign-up to record and the email to queue with it
    (None: throttled, subscribed at once, or nothing to send it from)."""

    signup: NewSignup
    mail: OutgoingMail | None = None


@dataclass(frozen=True, slots=True)
class SignupResult:
    decision: SignupDecision
    signup_id: int  # the recorded sign-up's id


# The plan gets the locked subscriber (as `mutate`'s) and the queue times of the
# confirmation emails of the address in the last 24 hours.
SignupPlan = Callable[[dict[str, Subscriber], Sequence[int]], Outcome[SignupDecision]]


@dataclass(frozen=True, slots=True)
class QueuedMail:
    """An outbox row leased to the mail job."""

    id: int
    portal_id: int
    signup_id: int | None
    recipient: str
    message: bytes
    message_id: str
    attempts: int
    created_at: int


class MailStore(ABC):
    """Sign-ups and the mail outbox (see the module docstring)."""

    @abstractmethod
    async def sign_up(
        self, portal_id: int, email: str, plan: SignupPlan, *, since: int
    ) -> SignupResult:
        """Run `plan` over `email` with the queue times (> `since`) of its confirmation
        emails, and save its outcome, sign-up and email in one transaction."""

    @abstractmethod
    async def get_signup(self, portal_id: int, signup_id: int) -> Signup | None: ...

    @abstractmethod
    async def signup_by_token(self, token_hash: str) -> Signup | None: ...

    @abstractmethod
    async def list_signups(
        self, portal_id: int, *, limit: int = 100
    ) -> list[tuple[Signup, Delivery | None]]:
        """The newest sign-ups first, each with its confirmation email's delivery."""

    @abstractmethod
    async def signup_delivery(self, portal_id: int, signup_id: int) -> Delivery | None:
        """The newest email queued for a sign-up (None: none was, e.g. throttled)."""

    @abstractmethod
    async def confirm_signup(
        self, portal_id: int, signup_id: int, email: str, plan: Plan[T], *, now: int
    ) -> T | None:
        """Mark the sign-up confirmed at `now` and run `plan` over `email` as `mutate` does,
        in one transaction; None (nothing run) when it is confirmed already or expired."""

    @abstractmethod
    async def set_unit_double_opt_in(
        self, portal_id: int, business_unit_id: int, value: bool | None
    ) -> bool:
        """A business unit's own double opt-in (None: the portal's); False for no such unit."""

    # --- the outbox ------------------------------------------------------------------------
    @abstractmethod
    async def claim_mail(self, *, now: int, lease_until: int, limit: int) -> list[QueuedMail]:
        """Lease PENDING rows due at `now` whose lease has lapsed, oldest due first."""

    @abstractmethod
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
        """Record an attempt's outcome and release the lease (SENT sets `sent_at`; SENT and
        FAILED empty the message)."""

    @abstractmethod
    async def prune_signups(self, *, before: int) -> int:
        """Delete the sign-ups (every portal) whose link expired before `before`, and their
        outbox rows; how many sign-ups were deleted."""

    @abstractmethod
    async def mail_backlog(self) -> int:
        """PENDING outbox rows of every portal."""
