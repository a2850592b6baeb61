"""Mailbox feedback: what mail providers report about an address, normalised.

`POST /commpref/v1/feedback/{provider}` receives complaint and bounce webhooks from four
providers. Each speaks its own JSON; this package turns an already-authenticated body into
`FeedbackEvent`s of one shape, so the rest of commpref never sees a provider's fields.
Authentication is not done here (no cryptography, no I/O): `services.provider_auth`
checks signatures and credentials before any of this is trusted.

Every parser reads only the fields it needs and ignores the rest: providers add fields
without notice. What is missing or of the wrong type raises `UnknownPayload`, naming the
field, and becomes a 400.

The event model is `events.py`, reading a provider's JSON `fields.py`, and each provider
has its module (`ses.py`, `sendgrid.py`, `postmark.py`, `mailgun.py`); this one picks
the provider by name.

Classification, per provider:

* **ses** (Amazon SES notifications inside an SNS `Notification`; both the classic
  `notificationType` and the event-publishing `eventType` form). `Bounce`:
  `bounceType` `Permanent` → HARD_BOUNCE, `Transient` and `Undetermined` → SOFT_BOUNCE;
  a recipient of a permanent bounce whose DSN says it was only delayed (`action`
  `delayed` or a 4.x.x `status`, as in SES's own example) is a SOFT_BOUNCE. `Complaint`
  → COMPLAINT, except `complaintFeedbackType` `not-spam`, which withdraws a spam verdict
  (OTHER). `DeliveryDelay` → SOFT_BOUNCE per delayed recipient. Anything else (delivery,
  send, open, click, …) → OTHER. One event per recipient; its id is the SES `feedbackId`
  (the same for every SNS topic and retry that carries it) or, when there is none, the
  SNS `MessageId`, followed by `:` and the address. `SubscriptionConfirmation` and
  `UnsubscribeConfirmation` carry no feedback: they parse to no events, and the service
  handles them through `sns_envelope`.
* **sendgrid** (Event Webhook, an array of events). `spamreport` → COMPLAINT; `bounce`
  with `type` `bounce` (or none: older accounts) → HARD_BOUNCE, with `type` `blocked` →
  SOFT_BOUNCE; `deferred` → SOFT_BOUNCE; `dropped` → OTHER (SendGrid did not try: its
  reason repeats an earlier bounce or complaint, already reported by its own event, or an
  unsubscribe, which is a consent change and not mailbox feedback); the rest → OTHER.
  The id is `sg_event_id`.
* **postmark** (Bounce and Spam Complaint webhooks, one record each). `RecordType` or
  `Type` `SpamComplaint` → COMPLAINT. Bounce `Type`s: `HardBounce`, `BadEmailAddress` →
  HARD_BOUNCE (the address does not exist or is not one); `SoftBounce`, `Transient`,
  `DnsError`, `Blocked`, `SpamNotification`, `Unknown` → SOFT_BOUNCE (a non-delivery that
  may pass). Every other type → OTHER, notably `ManuallyDeactivated` (an operator's action
  in Postmark, not the mailbox's answer), `AutoResponder`, `Unsubscribe`,
  `AddressChange`, `ChallengeVerification` and `DMARCPolicy` (the sender's domain, not
  the address, failed). Other record types (delivery, open, click, …) → OTHER. The id is
  Postmark's bounce `ID`.
* **mailgun** (one event per request, under `event-data`). `complained` → COMPLAINT;
  `failed` with `severity` `permanent` → HARD_BOUNCE, with `temporary` → SOFT_BOUNCE. Three
  permanent reasons are not the mailbox's verdict: `suppress-unsubscribe` and
  `suppress-complaint` (Mailgun did not try because of an unsubscribe or an earlier
  complaint, itself reported by a `complained` event) → OTHER, and `old` (Mailgun gave up
  after hours of temporary failures) → SOFT_BOUNCE. Mailgun promises an event `id` unique
  only within a day, so the id is `id`, `:` and the event's time in milliseconds.

A bounce whose type a provider has not documented is a SOFT_BOUNCE: no address is
suppressed on a guess.

Addresses are normalised as subscriber ids are (`emails.normalise`) but not validated:
an address no subscriber has is simply unknown to the service. Times are milliseconds
since the Unix epoch, UTC (ISO 8601 texts without an offset are read as UTC).
"""

from __future__ import annotations

from collections.abc import Callable

from commpref.domain.feedback.events import (
    MAX_DETAIL,
    Body,
    FeedbackEvent,
    Kind,
    PayloadTimes,
    Provider,
    UnknownPayload,
)
from commpref.domain.feedback.fields import decode, epoch_seconds
from commpref.domain.feedback.mailgun import (
    MailgunSignature,
    mailgun_signature,
    mailgun_times,
    parse_mailgun,
)
from commpref.domain.feedback.postmark import parse_postmark, postmark_times
from commpref.domain.feedback.sendgrid import parse_sendgrid, sendgrid_times
from commpref.domain.feedback.ses import SnsEnvelope, SnsType, parse_ses, ses_times, sns_envelope

__all__ = [
    "MAX_DETAIL",
    "PARSERS",
    "Body",
    "FeedbackEvent",
    "Kind",
    "MailgunSignature",
    "PayloadTimes",
    "Provider",
    "SnsEnvelope",
    "SnsType",
    "UnknownPayload",
    "decode",
    "epoch_seconds",
    "mailgun_signature",
    "parse",
    "parse_mailgun",
    "parse_postmark",
    "parse_sendgrid",
    "parse_ses",
    "payload_times",
    "provider",
    "sns_envelope",
]

PARSERS: dict[Provider, Callable[[Body], list[FeedbackEvent]]] = {
    Provider.SES: parse_ses,
    Provider.SENDGRID: parse_sendgrid,
    Provider.POSTMARK: parse_postmark,
    Provider.MAILGUN: parse_mailgun,
}
_TIMES: dict[Provider, Callable[[Body], PayloadTimes]] = {
    Provider.SES: ses_times,
    Provider.SENDGRID: sendgrid_times,
    Provider.POSTMARK: postmark_times,
    Provider.MAILGUN: mailgun_times,
}


def provider(name: str) -> Provider:
    try:
        return Provider(name)
    except ValueError:
        known = ", ".join(p.value for p in Provider)
        raise UnknownPayload(f"Unknown mail provider {name[:40]!r}: use one of {known}") from None


def parse(name: str, body: Body) -> list[FeedbackEvent]:
    """The events of one authenticated delivery from provider `name`."""
    return PARSERS[provider(name)](decode(body))


def payload_times(name: str, body: Body) -> PayloadTimes:
    """The times one delivery from provider `name` carries (see `PayloadTimes`)."""
    return _TIMES[provider(name)](decode(body))
