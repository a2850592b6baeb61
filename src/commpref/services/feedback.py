"""Mailbox feedback: a provider's signed delivery of complaints and bounces, checked and
applied (`POST /commpref/v1/feedback/{provider}`, docs/feedback.md).

The order of `receive`, each step before anything of the next is trusted:

1. the portal and the provider's configuration for it (404 when either is missing);
2. the signature or credentials (`provider_auth`; 401, or 503 when SNS's certificate
   could not be fetched, so that SNS retries), and for SNS the configured topic;
3. the payload's shape (400 naming the problem) and its age: a delivery whose signed time
   (SNS, SendGrid, Mailgun) or, unsigned (Postmark), newest event is older than
   `feedback_max_age_hours` or more than `MAX_FUTURE_MS` ahead is refused (400), since
   past that age its id may already be forgotten and a replay would apply again;
4. SNS's subscription handshake, or the events: their ids are recorded and the events
   whose ids were not recorded before applied, in one transaction (`apply`).

Effects (one ledger entry per address and kind, actor `feedback:<provider>`):
COMPLAINT opts the address out of all email of every business unit ("Spam complaint");
HARD_BOUNCE marks it bounced (`Subscriber.bounce`) with one BOUNCE change ("Hard
bounce"); SOFT_BOUNCE adds one SOFT_BOUNCE change ("Soft bounce"); OTHER is ignored. An
erased address stays suppressed: a complaint changes nothing of it, a bounce is not
recorded (it would store the address again).

Applied once: an event's id and its effect commit together (`Store.apply_feedback`), so a
crash loses neither and applies nothing twice, and of two deliveries of one event at once
only the first applies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from commpref.domain import bounces, emails, optout
from commpref.domain import feedback as fb
from commpref.domain.feedback import FeedbackEvent, Kind, Provider
from commpref.domain.feedback_providers import ProviderConfig
from commpref.domain.model import (
    Actor,
    Bounce,
    Change,
    ChangeKind,
    Event,
    PortalContext,
    Status,
    Subscriber,
)
from commpref.errors import AuthenticationError, NotFound, Unavailable, ValidationError
from commpref.services import provider_auth
from commpref.services.context import Call
from commpref.storage.store import Store
from commpref.storage.subscribers import Outcome

MAX_FUTURE_MS = 5 * 60 * 1000  # clocks disagree; a delivery from further ahead is forged
CONFIRM_TIMEOUT = 10.0  # seconds to visit an SNS SubscribeURL
COMPLAINT_SOURCE = "Spam complaint"
HARD_BOUNCE_SOURCE = "Hard bounce"
SOFT_BOUNCE_SOURCE = "Soft bounce"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST as received: the exact body and the headers the checks read."""

    body: bytes
    authorization: str | None = None  # Postmark's basic credentials
    sendgrid_signature: str | None = None
    sendgrid_timestamp: str | None = None


@dataclass(frozen=True, slots=True)
class Received:
    applied: int = 0  # events applied now (an effect that changed nothing counts too)
    duplicates: int = 0  # events whose id was applied before
    ignored: int = 0  # events commpref does not act on (deliveries, opens, …)


def actor(provider: Provider) -> Actor:
    return Actor("feedback", provider.value)


def _provider(name: str) -> Provider:
    try:
        return Provider(name)
    except ValueError:
        raise NotFound(f"No mail provider {name[:40]!r}") from None


def _bad_payload(e: fb.UnknownPayload) -> ValidationError:
    return ValidationError(str(e), errors=[{"message": str(e), "in": "body"}])


async def receive(
    *,
    store: Store,
    client: httpx.AsyncClient,
    provider_name: str,
    portal_id: int,
    delivery: Delivery,
    cert_hosts: Sequence[str],
    max_age_hours: int,
    now: int,
    correlation_id: str,
) -> Received:
    """Check one delivery and apply its events (the steps of the module docstring)."""
    provider = _provider(provider_name)
    ctx = await store.portal_context(portal_id)  # NotFound for an unknown portal
    config = await store.get_feedback_provider(portal_id, provider)
    if config is None:
        raise NotFound(f"Portal {portal_id} takes no feedback from {provider.value}")
    try:
        envelope = await _verify(provider, config, delivery, cert_hosts, client)
        times = fb.payload_times(provider.value, delivery.body)
        events = fb.parse(provider.value, delivery.body)
        signed_at = times.signed_at
        if provider is Provider.SENDGRID and delivery.sendgrid_timestamp is not None:
            signed_at = fb.epoch_seconds(delivery.sendgrid_timestamp)  # the signed header
    except provider_auth.CertUnavailable as e:
        raise Unavailable(f"{e}; try again later") from None
    except provider_auth.BadSignature as e:
        raise AuthenticationError(f"The delivery is not signed by {provider.value}: {e}") from None
    except fb.UnknownPayload as e:
        raise _bad_payload(e) from None
    _check_age(signed_at if signed_at is not None else times.reference, now, max_age_hours)
    if envelope is not None and envelope.type is fb.SnsType.SUBSCRIPTION_CONFIRMATION:
        assert envelope.subscribe_url is not None  # `sns_envelope` requires it
        await _confirm(envelope.subscribe_url, cert_hosts, client)
        return Received()
    if envelope is not None and envelope.type is fb.SnsType.UNSUBSCRIBE_CONFIRMATION:
        return Received()  # SNS tells that the subscription ended: nothing to do
    call = Call(ctx, actor(provider), provider.value, correlation_id, now)
    return await apply(store=store, call=call, provider=provider, events=events)


async def _verify(
    provider: Provider,
    config: ProviderConfig,
    delivery: Delivery,
    cert_hosts: Sequence[str],
    client: httpx.AsyncClient,
) -> fb.SnsEnvelope | None:
    """Raise `BadSignature` unless the delivery is the provider's; SNS's envelope."""
    if provider is Provider.SENDGRID:
        if not delivery.sendgrid_signature or not delivery.sendgrid_timestamp:
            raise provider_auth.BadSignature("The SendGrid signature headers are missing")
        provider_auth.verify_sendgrid(
            config.get("publicKey"),
            delivery.sendgrid_signature,
            delivery.sendgrid_timestamp,
            delivery.body,
        )
        return None
    if provider is Provider.POSTMARK:
        provider_auth.verify_postmark(
            delivery.authorization, config.get("username"), config.get("password")
        )
        return None
    if provider is Provider.MAILGUN:
        fb.decode(delivery.body)  # not JSON: a 400, not a missing signature
        try:
            sig = fb.mailgun_signature(delivery.body)
        except fb.UnknownPayload as e:
            raise provider_auth.BadSignature(str(e)) from None
        provider_auth.verify_mailgun(
            config.get("signingKey"), sig.timestamp, sig.token, sig.signature
        )
        return None
    envelope = fb.sns_envelope(delivery.body)
    cert = await provider_auth.fetch_cert(envelope.signing_cert_url, cert_hosts, client)
    provider_auth.verify_sns(envelope.fields, cert)
    topic = config.get("topicArn")
    if topic and envelope.topic_arn != topic:
        raise provider_auth.BadSignature("The SNS message is of another topic")
    return envelope


def _check_age(reference: int | None, now: int, max_age_hours: int) -> None:
    if reference is None:
        return  # no time at all: only events that are ignored carry none
    if reference < now - max_age_hours * 3_600_000:
        message = f"The delivery is older than {max_age_hours} hours: refused as a replay"
    elif reference > now + MAX_FUTURE_MS:
        message = "The delivery's time is more than 5 minutes ahead: refused"
    else:
        return
    raise ValidationError(message, errors=[{"message": message, "in": "timestamp"}])


async def _confirm(url: str, cert_hosts: Sequence[str], client: httpx.AsyncClient) -> None:
    """Visit SNS's SubscribeURL once (a GET, no redirect followed): the subscription is
    confirmed. A failure is a 503, so that SNS sends the confirmation again."""
    try:
        provider_auth.check_subscribe_url(url, cert_hosts)
    except provider_auth.BadSignature as e:
        raise AuthenticationError(str(e)) from None
    try:
        # Streamed and never read: only the status matters, whatever size the body is.
        async with client.stream(
            "GET", url, follow_redirects=False, timeout=CONFIRM_TIMEOUT
        ) as response:
            status = response.status_code
    except httpx.HTTPError as e:
        raise Unavailable(f"Confirming the subscription failed: {type(e).__name__}") from None
    if status != 200:
        raise Unavailable(f"Confirming the subscription answered {status}")


async def bounce_of(*, store: Store, portal_id: int, email: str) -> Bounce | None:
    """The address's bounce mark, if a hard bounce set one."""
    sub = (await store.read_subscribers(portal_id, [email])).get(email)
    return None if sub is None else sub.bounce


async def prune(*, store: Store, now: int, max_age_hours: int) -> int:
    """Forget applied event ids older than any delivery still taken (`_check_age` refuses
    those first, so a replay of a forgotten id is refused, not applied again). The margin:
    a delivery may carry a time up to `MAX_FUTURE_MS` past when it was recorded."""
    before = now - max_age_hours * 3_600_000 - MAX_FUTURE_MS
    return await store.prune_feedback_events(before=before)


# --- effects ------------------------------------------------------------------------------


async def apply(
    *, store: Store, call: Call, provider: Provider, events: Sequence[FeedbackEvent]
) -> Received:
    """Apply the events whose ids were not applied before, recording the ids in the same
    transaction (module docstring)."""
    acted = [e for e in events if e.kind is not Kind.OTHER and emails.is_valid(e.email)]
    ignored = len(events) - len(acted)
    if not acted:
        return Received(ignored=ignored)

    def plan(subs: dict[str, Subscriber], new: frozenset[str]) -> Outcome[Received]:
        fresh: dict[str, FeedbackEvent] = {}
        for e in acted:
            if e.event_id in new:
                fresh.setdefault(e.event_id, e)
        out = Outcome(Received(len(fresh), len(acted) - len(fresh), ignored))
        for kind in (Kind.COMPLAINT, Kind.HARD_BOUNCE, Kind.SOFT_BOUNCE):
            of_kind: dict[str, FeedbackEvent] = {}
            for e in fresh.values():
                if e.kind is kind:
                    of_kind.setdefault(e.email, e)  # one entry per address and kind
            _effects(call, provider, kind, of_kind, subs, out)
        return out

    return await store.apply_feedback(
        call.ctx.portal.id, provider, {e.event_id for e in acted}, [e.email for e in acted],
        plan, now=call.now,
    )  # fmt: skip


def _units(ctx: PortalContext) -> list[int]:
    """Every business unit an opt-out of all can name in the portal (`rules.opt_out_unit`)."""
    return sorted(ctx.business_units) if ctx.portal.brands else [0]


def _effects(
    call: Call,
    provider: Provider,
    kind: Kind,
    events: dict[str, FeedbackEvent],
    subs: dict[str, Subscriber],
    out: Outcome[Received],
) -> None:
    """Add the effects of one kind's events (by address) to `out`."""
    source = {
        Kind.COMPLAINT: COMPLAINT_SOURCE,
        Kind.HARD_BOUNCE: HARD_BOUNCE_SOURCE,
        Kind.SOFT_BOUNCE: SOFT_BOUNCE_SOURCE,
    }[kind]
    mark = f"{HARD_BOUNCE_SOURCE} ({provider.value})"
    units = _units(call.ctx)
    for email, event in events.items():
        sub = subs[email]
        changes: list[Change] = []
        if kind is Kind.COMPLAINT:
            for unit in units:
                changes += optout.unsubscribe_all(
                    call.ctx, sub, unit, source=source, now=call.now, verbose=False
                )[1]
        elif bounces.is_erased(sub):
            continue
        elif kind is Kind.HARD_BOUNCE:
            bounce = Bounce(at=event.occurred_at, source=mark)
            if sub.bounce == bounce:
                continue  # the same bounce reported again under another event id
            if sub.bounce is None or sub.bounce.at <= bounce.at:
                sub.bounce = bounce  # the newest bounce is the mark
            changes.append(bounces.BOUNCE_CHANGE)
        else:
            changes.append(_unchanged(ChangeKind.SOFT_BOUNCE))
        if not changes:
            continue
        if sub.created_at is None:
            sub.created_at = call.now
        out.touched.add(email)
        label = call.actor.label()
        out.events.append(
            Event(email, tuple(changes), source, label, call.correlation_id, call.now)
        )


def _unchanged(kind: ChangeKind) -> Change:
    """An entry that changes no status: kept as proof of what the provider reported."""
    return Change(kind, 0, Status.NOT_SPECIFIED, Status.NOT_SPECIFIED)
