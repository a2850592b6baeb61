"""Sign-ups under `/commpref/v1` (docs/signups.md).

- `POST signups`: subscribe an address at once, or ask it to confirm by email first
  (double opt-in, or an address opted out of all). The answer depends on the business
  unit's setting alone, never on the address: 202 PENDING_CONFIRMATION with double opt-in,
  202 ACCEPTED without it; each names the recorded sign-up.
- `GET signups/{id}`: a sign-up's state and its confirmation email's delivery.

The confirmation email is rendered here, before the transaction, with `mail.compose`
(Jinja2 is no import of the services): the outbox stores the finished bytes, so every
retry of the mail job sends the same message with the same Message-ID.
"""

from __future__ import annotations

import msgspec

from commpref.domain import signups as rules
from commpref.domain.model import Definition, Portal
from commpref.domain.signups import Delivery, Signup
from commpref.errors import Conflict, ValidationError
from commpref.http.api.handlers import path_id
from commpref.http.operation import Reply, Request
from commpref.http.values import DateTime, Int64, iso
from commpref.mail import compose
from commpref.services import signups
from commpref.storage.mail import OutgoingMail

CONFIRM_PATH = "/hs/manage-preferences/confirm"
UNSENDABLE = "This address cannot be sent a confirmation email"


class SignupCreate(msgspec.Struct, kw_only=True, gc=False):
    email: str
    subscriptionIds: list[Int64]
    language: str | None = None
    source: str | None = None
    businessUnitId: Int64 = 0
    legalBasis: str | None = None
    legalBasisExplanation: str | None = None


class SignupAnswer(msgspec.Struct, kw_only=True, gc=False):
    status: str  # PENDING_CONFIRMATION | ACCEPTED
    # The sign-up to follow with GET signups/{id} (another scope): every sign-up has one,
    # subscribed, asked to confirm, mailed or throttled, so it tells nothing of the address.
    id: Int64


class EmailDelivery(msgspec.Struct, kw_only=True, gc=False):
    state: str  # PENDING | SENT | FAILED
    attempts: int
    lastError: str | None
    queuedAt: DateTime
    sentAt: DateTime | None


class SignupView(msgspec.Struct, kw_only=True, gc=False):
    id: Int64
    email: str
    businessUnitId: Int64
    subscriptionIds: list[Int64]
    language: str
    source: str
    state: str  # SUBSCRIBED | PENDING | CONFIRMED | EXPIRED
    requestedAt: DateTime
    expiresAt: DateTime | None  # None: subscribed at once, no link to expire
    confirmedAt: DateTime | None
    email_: EmailDelivery | None = msgspec.field(name="confirmationEmail")  # None: not sent


def delivery_view(d: Delivery | None) -> EmailDelivery | None:
    if d is None:
        return None
    sent = None if d.sent_at is None else iso(d.sent_at)
    return EmailDelivery(state=d.state.value, attempts=d.attempts, lastError=d.last_error,
                         queuedAt=iso(d.created_at), sentAt=sent)  # fmt: skip


def signup_view(s: Signup, d: Delivery | None, now: int) -> SignupView:
    return SignupView(
        id=s.id, email=s.email, businessUnitId=s.business_unit_id,
        subscriptionIds=list(s.subscription_ids), language=s.language, source=s.source,
        state=s.state(now).value, requestedAt=iso(s.requested_at),
        expiresAt=None if s.direct else iso(s.expires_at),
        confirmedAt=None if s.confirmed_at is None else iso(s.confirmed_at),
        email_=delivery_view(d),
    )  # fmt: skip


def localised(d: Definition, language: str) -> tuple[str, str]:
    """A type's name and description in `language` when it has that translation."""
    code = compose.language_of(language)
    for t in d.translations:
        if t.language_code.lower().replace("_", "-").split("-")[0] == code:
            return t.name, t.description
    return d.name, d.description


def sender(portal: Portal, default: str | None) -> str | None:
    return portal.mail_from or default or None


def confirmation_mail(
    rq: Request, request: signups.SignupRequest, token: str, from_address: str
) -> OutgoingMail:
    """The confirmation email, rendered now and queued as bytes."""
    rt, portal = rq.runtime, rq.call.ctx.portal
    brand = portal.brand_name or portal.name
    domain = from_address.rpartition("@")[2]
    expires = rq.now + rt.settings.signup_confirm_days * rules.DAY_MS
    message_id = compose.new_message_id(domain)
    message = compose.confirmation(
        to=request.email,
        sender=from_address,
        sender_name=brand,
        brand=brand,
        types=[localised(d, request.language) for d in request.definitions],
        confirm_url=f"{rt.base_url.rstrip('/')}{CONFIRM_PATH}?t={token}",
        language=request.language,
        expires_at_ms=expires,
        message_id=message_id,
        date_ms=rq.now,
    )
    return OutgoingMail(request.email, message.as_bytes(), message_id)


async def create_signup(rq: Request) -> Reply:
    """Subscribe at once, or ask the address to confirm first (docs/signups.md)."""
    body: SignupCreate = rq.body
    rt, ctx = rq.runtime, rq.call.ctx
    request = signups.validate(
        ctx=ctx,
        email=body.email,
        subscription_ids=body.subscriptionIds,
        business_unit_id=body.businessUnitId,
        language=body.language,
        source=body.source,
        legal_basis=body.legalBasis,
        legal_basis_explanation=body.legalBasisExplanation,
    )
    always = await signups.double_opt_in(
        store=rt.store, ctx=ctx, business_unit_id=request.business_unit_id
    )
    token = rules.new_token()
    from_address = sender(ctx.portal, rt.settings.mail_from)
    try:
        mail = None if from_address is None else confirmation_mail(rq, request, token, from_address)
    except ValueError as exc:  # what compose refuses to put in a header or a link
        if "recipient" not in str(exc):
            raise Conflict(f"No confirmation email can be made: {exc}") from None
        if always:  # every sign-up of the unit needs the email this address cannot get
            problem = [{"message": UNSENDABLE, "in": "email"}]
            raise ValidationError(UNSENDABLE, errors=problem) from None
        mail = None  # subscribed at once, unless opted out: then asked, as when throttled
    s = rt.settings
    answer = await signups.sign_up(
        store=rt.store,
        call=rq.call,
        request=request,
        token_hash=rules.token_hash(token),
        mail=mail,
        limits=signups.Limits(
            s.signup_confirm_days, s.signup_resend_minutes, s.signup_daily_emails
        ),
        always_confirm=always,
    )
    return 202, SignupAnswer(status=answer.answer.value, id=answer.signup_id)


async def get_signup(rq: Request) -> Reply:
    found, delivery = await signups.get(
        store=rq.runtime.store, portal_id=rq.call.ctx.portal.id, signup_id=path_id(rq, "Sign-up")
    )
    return 200, signup_view(found, delivery, rq.now)
