"""Sign-ups: subscribe an address at once, or ask it to confirm first (double opt-in), and
the confirmation that follows (docs/signups.md).

The confirmation email is rendered by the caller (the HTTP handler, with `mail.compose`:
Jinja2 is no import of this layer) and handed down as bytes, so the outbox holds the
message exactly as it will be sent, and a retry sends the same Message-ID. A sign-up's
subscriber, ledger entry, sign-up row and email are one transaction (`Store.sign_up`).

The answer never tells whether an address is known: it depends on the business unit's
setting only. With double opt-in every sign-up answers PENDING_CONFIRMATION; without it
every sign-up answers ACCEPTED, whether the address was subscribed at once or, having
opted out of all, asked to confirm. Every sign-up is recorded (a subscribed-at-once one
as `direct`), so each answer names one, and its state is read with another scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from commpref.domain import rules, signups
from commpref.domain.model import (
    Actor,
    Change,
    Definition,
    Event,
    LegalBasis,
    PortalContext,
    Status,
    Subscriber,
)
from commpref.domain.signups import Delivery, Signup
from commpref.errors import Conflict, NotFound, ValidationError
from commpref.services.context import Call
from commpref.services.statuses import require_email
from commpref.services.validation import clean_language, clean_text
from commpref.storage.mail import NewSignup, OutgoingMail, SignupDecision
from commpref.storage.store import Store
from commpref.storage.subscribers import Outcome

DIRECT_EXPLANATION = "Sign-up"
NO_SENDER = (
    "Double opt-in needs a From address for its confirmation emails: set the portal's "
    "mail_from or COMMPREF_MAIL_FROM"
)
MAX_SOURCE = 200
MAX_EXPLANATION = 1000


class Answer(StrEnum):
    PENDING_CONFIRMATION = "PENDING_CONFIRMATION"  # the unit asks every sign-up to confirm
    ACCEPTED = "ACCEPTED"  # subscribed at once, or asked to confirm: the sign-up's state says


@dataclass(frozen=True, slots=True)
class SignupRequest:
    """A validated sign-up: a normalised address and active types of one business unit."""

    email: str
    business_unit_id: int
    definitions: tuple[Definition, ...]
    language: str
    source: str
    legal_basis: str
    legal_basis_explanation: str


@dataclass(frozen=True, slots=True)
class Limits:
    confirm_days: int
    resend_minutes: int
    daily_emails: int


@dataclass(frozen=True, slots=True)
class SignupAnswer:
    answer: Answer
    signup_id: int


def _bad(message: str, field: str) -> ValidationError:
    return ValidationError(message, errors=[{"message": message, "in": field}])


def validate(
    *,
    ctx: PortalContext,
    email: str,
    subscription_ids: Sequence[int],
    business_unit_id: int,
    language: str | None,
    source: str | None,
    legal_basis: str | None,
    legal_basis_explanation: str | None,
) -> SignupRequest:
    """The request's checks, before anything is read or written (400s)."""
    address = require_email(email, "email")
    if business_unit_id not in ctx.business_units:
        raise _bad(f"Business unit {business_unit_id} does not exist", "businessUnitId")
    if not subscription_ids:
        raise _bad("Name at least one subscription type", "subscriptionIds")
    active = {d.id: d for d in ctx.active(business_unit_id)}
    chosen: dict[int, Definition] = {}
    for sid in subscription_ids:
        if sid not in active:
            message = f"Subscription type {sid} is not an active type of this business unit"
            raise _bad(message, "subscriptionIds")
        chosen[sid] = active[sid]
    basis = legal_basis or LegalBasis.CONSENT_WITH_NOTICE.value
    if basis not in LegalBasis.__members__:
        raise _bad(f"Unknown legal basis {basis}", "legalBasis")
    text = clean_text((source or "").strip(), "source", limit=MAX_SOURCE)
    text = text or signups.DEFAULT_SOURCE
    explanation = clean_text(
        (legal_basis_explanation or "").strip(), "legalBasisExplanation", limit=MAX_EXPLANATION
    )
    explanation = explanation or f"{DIRECT_EXPLANATION}: {text}"
    chosen_language = (
        clean_language(language, "language") if language else ctx.portal.default_language
    )
    return SignupRequest(
        address, business_unit_id, tuple(chosen.values()), chosen_language, text, basis,
        explanation,
    )  # fmt: skip


async def double_opt_in(*, store: Store, ctx: PortalContext, business_unit_id: int) -> bool:
    """Whether the unit asks every sign-up to confirm (its own setting, else the portal's)."""
    units = await store.list_business_units(ctx.portal.id)
    unit = next((u for u in units if u.id == business_unit_id), None)
    return signups.double_opt_in(ctx.portal, unit)


async def sign_up(
    *,
    store: Store,
    call: Call,
    request: SignupRequest,
    token_hash: str,
    mail: OutgoingMail | None,
    limits: Limits,
    always_confirm: bool,
) -> SignupAnswer:
    """Record a sign-up and subscribe at once, or ask the address to confirm
    (`always_confirm`: the unit's double opt-in; an opted-out address is asked to confirm
    whatever it says) and queue `mail` unless the address was mailed too recently.
    `mail` None: no From address, so a sign-up that must be confirmed is refused when the
    unit always confirms (409), and otherwise recorded without an email, so that the
    answer still tells nothing."""
    if mail is None and always_confirm:
        raise Conflict(NO_SENDER)
    portal, now = call.ctx.portal, call.now
    draft = NewSignup(
        business_unit_id=request.business_unit_id,
        subscription_ids=tuple(d.id for d in request.definitions),
        language=request.language,
        source=request.source,
        token_hash=token_hash,
        requested_at=now,
        expires_at=now + limits.confirm_days * signups.DAY_MS,
        correlation_id=call.correlation_id,
    )
    gdpr_basis = request.legal_basis if portal.gdpr else None
    gdpr_explanation = request.legal_basis_explanation if portal.gdpr else None

    def plan(subs: dict[str, Subscriber], sent: Sequence[int]) -> Outcome[SignupDecision]:
        sub = subs[request.email]
        if always_confirm or signups.opted_out(sub, request.business_unit_id):
            changes = signups.confirmation_changes(sub, request.definitions)
            if sub.created_at is None:
                sub.created_at = now  # the entry needs a record to hang from (history)
            event = _event(call, request.email, changes, request.source)
            quiet = signups.throttled(
                sent, now=now, resend_minutes=limits.resend_minutes, daily=limits.daily_emails
            )
            return Outcome(SignupDecision(draft, None if quiet else mail), {request.email}, [event])
        all_changes = []
        for d in request.definitions:
            _, changes = rules.write_status(
                portal, sub, d, Status.SUBSCRIBED, legal_basis=gdpr_basis,
                explanation=gdpr_explanation, source=request.source, now=now,
            )  # fmt: skip
            all_changes += changes
        if sub.created_at is None:
            sub.created_at = now
        events = [_event(call, request.email, all_changes, request.source)] if all_changes else []
        done = replace(draft, expires_at=now, direct=True)  # no link: nothing to confirm
        return Outcome(SignupDecision(done), {request.email}, events)

    since = now - signups.DAY_MS
    result = await store.sign_up(portal.id, request.email, plan, since=since)
    answer = Answer.PENDING_CONFIRMATION if always_confirm else Answer.ACCEPTED
    return SignupAnswer(answer, result.signup_id)


def _event(call: Call, email: str, changes: list[Change], source: str) -> Event:
    return Event(email, tuple(changes), source, call.actor.label(), call.correlation_id, call.now)


async def set_unit_double_opt_in(
    *, store: Store, portal_id: int, business_unit_id: int, value: bool | None
) -> None:
    """A business unit's own double opt-in; None: the portal's setting applies."""
    if not await store.set_unit_double_opt_in(portal_id, business_unit_id, value):
        raise NotFound(f"Business unit {business_unit_id} does not exist")


# --- reading ------------------------------------------------------------------------------


async def get(*, store: Store, portal_id: int, signup_id: int) -> tuple[Signup, Delivery | None]:
    found = await store.get_signup(portal_id, signup_id)
    if found is None:
        raise NotFound(f"Sign-up {signup_id} does not exist")
    return found, await store.signup_delivery(portal_id, signup_id)


async def recent(
    *, store: Store, portal_id: int, limit: int = 100
) -> list[tuple[Signup, Delivery | None]]:
    return await store.list_signups(portal_id, limit=limit)


# --- confirming ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pending:
    """A sign-up opened by its token, with its portal."""

    signup: Signup
    ctx: PortalContext

    def definitions(self) -> list[Definition]:
        """The asked types that still exist (archived ones are shown and confirmed too:
        the address asked for them)."""
        return [d for i in self.signup.subscription_ids if (d := self.ctx.definition(i))]


async def open_token(*, store: Store, token: str) -> Pending:
    """The sign-up of a confirmation token (NotFound for an unknown or malformed one)."""
    if not token or len(token) > 200:
        raise NotFound("This confirmation link is not known")
    found = await store.signup_by_token(signups.token_hash(token))
    if found is None or found.direct:  # a direct sign-up's token was never sent
        raise NotFound("This confirmation link is not known")
    return Pending(found, await store.portal_context(found.portal_id))


async def confirm(
    *, store: Store, pending: Pending, page_language: str, correlation_id: str, now: int
) -> bool:
    """Subscribe the address to exactly the asked types (lifting the unit's opt-out of all)
    with the sign-up's evidence; False when nothing was written: confirmed already, or
    expired (the caller tells the two apart by the sign-up's state, read first)."""
    s = pending.signup
    actor = Actor(signups.ACTOR_KIND, str(s.id))
    call = Call.make(
        pending.ctx, actor, source=signups.CONFIRMED_SOURCE, correlation_id=correlation_id,
        now=now,
    )  # fmt: skip
    explanation = signups.evidence(s, confirmed_at=now, page_language=page_language)
    definitions = pending.definitions()

    def plan(subs: dict[str, Subscriber]) -> Outcome[bool]:
        sub = subs[s.email]
        if sub.created_at is None:
            sub.created_at = now
        changes = []
        for d in definitions:
            _, more = rules.write_status(
                pending.ctx.portal, sub, d, Status.SUBSCRIBED,
                legal_basis=signups.CONFIRMED_LEGAL_BASIS, explanation=explanation,
                source=signups.CONFIRMED_SOURCE, now=now,
            )  # fmt: skip
            changes += more
        events = [_event(call, s.email, changes, signups.CONFIRMED_SOURCE)] if changes else []
        return Outcome(True, {s.email}, events)

    done = await store.confirm_signup(s.portal_id, s.id, s.email, plan, now=now)
    return bool(done)


async def prune(*, store: Store, now: int, keep_days: int) -> int:
    """Delete the sign-ups whose link expired more than `keep_days` ago, with their emails:
    what they proved is in the ledger, and they hold the address itself."""
    return await store.prune_signups(before=now - keep_days * signups.DAY_MS)
