"""Mailbox feedback: what mail providers report about an address, normalised.

`POST /commpref/v1/feedback/{provider}` receives complaint and bounce webhooks from four
providers. Each speaks its own JSON; this module turns an already-authenticated body into
`FeedbackEvent`s of one shape, so the rest of commpref never sees a provider's fields.
Authentication is not done here (no cryptography, no I/O): `services.provider_auth`
checks signatures and credentials before any of this is trusted.

Every parser reads only the fields it needs and ignores the rest: providers add fields
without notice. What is missing or of the wrong type raises `UnknownPayload`, naming the
field, and becomes a 400.

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

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import msgspec

from commpref.domain import emails

MAX_DETAIL = 500  # characters of a provider's explanation kept with an event


class UnknownPayload(ValueError):
    """A body that is not the documented shape of its provider's webhook (a 400)."""


class Provider(StrEnum):
    SES = "ses"
    SENDGRID = "sendgrid"
    POSTMARK = "postmark"
    MAILGUN = "mailgun"


class Kind(StrEnum):
    COMPLAINT = "COMPLAINT"  # the recipient reported the mail as spam
    HARD_BOUNCE = "HARD_BOUNCE"  # the address cannot receive mail
    SOFT_BOUNCE = "SOFT_BOUNCE"  # this delivery failed; a later one may not
    OTHER = "OTHER"  # deliveries, opens, clicks, …: not acted on


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    provider: str
    event_id: str  # the provider's id for this event and address: deliveries repeat
    kind: Kind
    email: str  # normalised; "" only for an OTHER event that names no address
    occurred_at: int  # epoch ms; 0 only for an OTHER event that carries no time
    detail: str  # the provider's explanation, at most MAX_DETAIL characters


@dataclass(frozen=True, slots=True)
class PayloadTimes:
    """The times a delivery carries, for refusing old or replayed deliveries.

    `signed_at` is the time the provider's signature covers, when it travels in the body
    (SNS `Timestamp`, Mailgun `signature.timestamp`); SendGrid signs a header instead
    (`epoch_seconds`) and Postmark signs nothing. `occurred` are the events' own times,
    which retries keep: a provider retrying for hours sends old ones legitimately.
    """

    signed_at: int | None
    occurred: tuple[int, ...]

    @property
    def reference(self) -> int | None:
        """The time to judge the delivery's age by: the signed one, else the newest event."""
        if self.signed_at is not None:
            return self.signed_at
        return max(self.occurred) if self.occurred else None


class SnsType(StrEnum):
    NOTIFICATION = "Notification"
    SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
    UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"


@dataclass(frozen=True, slots=True)
class SnsEnvelope:
    """The SNS message around an SES notification: what the service checks before parsing
    (the signature over `fields`, the topic) and what a confirmation needs."""

    type: SnsType
    message_id: str
    topic_arn: str
    timestamp: int  # epoch ms
    signing_cert_url: str
    subscribe_url: str | None  # confirmations only: visiting it confirms the subscription
    fields: dict[str, Any]  # the decoded message, as `provider_auth.verify_sns` takes it


@dataclass(frozen=True, slots=True)
class MailgunSignature:
    timestamp: str
    token: str
    signature: str


Body = bytes | str | Mapping[str, Any] | list[Any]


# --- reading JSON ---------------------------------------------------------------------


def decode(body: Body) -> Any:
    """The JSON value of a body; bytes and str are JSON text, anything else is taken as
    already decoded (no top-level JSON string is a valid payload)."""
    if isinstance(body, bytes | str):
        try:
            return msgspec.json.decode(body)
        except msgspec.DecodeError as e:
            raise UnknownPayload(f"The body is not JSON: {e}") from None
    return body


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UnknownPayload(f"{where} is not a JSON object")
    return value


def _array(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise UnknownPayload(f"{where} is not a JSON array")
    return value


def _text(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise UnknownPayload(f"{where}.{key} is missing or not a non-empty string")
    return value


def _optional_text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _address(obj: Mapping[str, Any], key: str, where: str) -> str:
    email = emails.normalise(_text(obj, key, where))
    if not email:
        raise UnknownPayload(f"{where}.{key} is blank")
    return email


def _number(value: Any) -> float | None:
    # bool is an int to Python but never a time to a provider
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _seconds_ms(value: Any, where: str) -> int:
    seconds = _number(value)
    if seconds is None or not 0 <= seconds < 1e11:
        raise UnknownPayload(f"{where} is missing or not seconds since the epoch")
    return round(seconds * 1000)


_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?",
    re.ASCII,
)


def _iso_ms(value: Any, where: str) -> int:
    """ISO 8601 as providers write it: any number of fractional digits (Postmark sends
    seven), `Z` or a numeric offset, with or without a space before it (SES's examples)."""
    match = _ISO.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise UnknownPayload(f"{where} is missing or not an ISO 8601 time")
    year, month, day, hour, minute, second, fraction, _z, sign, off_h, off_m = match.groups()
    try:
        tz = UTC
        if sign is not None:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            tz = timezone(-offset if sign == "-" else offset)
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz
        )
    except ValueError:
        raise UnknownPayload(f"{where} is not a valid date and time") from None
    ms = int((fraction or "0")[:3].ljust(3, "0"))
    return int(moment.timestamp()) * 1000 + ms


def epoch_seconds(text: str) -> int:
    """A signature timestamp in seconds (SendGrid's header, Mailgun's field), as epoch ms."""
    if not (text.isascii() and text.isdigit()) or len(text) > 11:
        raise UnknownPayload(f"{text[:40]!r} is not a timestamp in seconds")
    return int(text) * 1000


def _detail(*parts: Any) -> str:
    kept = (str(p).strip() for p in parts if isinstance(p, str | int) and not isinstance(p, bool))
    text = ": ".join(p for p in kept if p)
    return text[:MAX_DETAIL]


def _event(
    provider: Provider, event_id: str, kind: Kind, email: str, occurred_at: int, detail: str
) -> FeedbackEvent:
    return FeedbackEvent(provider.value, event_id, kind, email, occurred_at, detail)


# --- ses --------------------------------------------------------------------------------


def sns_envelope(body: Body) -> SnsEnvelope:
    """The SNS message of a `ses` delivery, checked for the fields every type carries."""
    obj = _object(decode(body), "The SNS message")
    where = "The SNS message"
    raw_type = _text(obj, "Type", where)
    try:
        sns_type = SnsType(raw_type)
    except ValueError:
        raise UnknownPayload(f"Unknown SNS message Type {raw_type[:60]!r}") from None
    subscribe_url = None
    if sns_type is not SnsType.NOTIFICATION:
        subscribe_url = _text(obj, "SubscribeURL", where)
        _text(obj, "Token", where)
    _text(obj, "Message", where)
    return SnsEnvelope(
        type=sns_type,
        message_id=_text(obj, "MessageId", where),
        topic_arn=_text(obj, "TopicArn", where),
        timestamp=_iso_ms(obj.get("Timestamp"), f"{where}.Timestamp"),
        signing_cert_url=_text(obj, "SigningCertURL", where),
        subscribe_url=subscribe_url,
        fields=dict(obj),
    )


# The object that holds an SES event's details, by its notificationType / eventType.
_SES_DETAIL_KEYS = {
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Delivery": "delivery",
    "DeliveryDelay": "deliveryDelay",
    "Send": "send",
    "Reject": "reject",
    "Open": "open",
    "Click": "click",
    "Rendering Failure": "failure",
    "Subscription": "subscription",
}
_SES_BOUNCE_KINDS = {
    "Permanent": Kind.HARD_BOUNCE,
    "Transient": Kind.SOFT_BOUNCE,
    "Undetermined": Kind.SOFT_BOUNCE,
}


def parse_ses(body: Body) -> list[FeedbackEvent]:
    envelope = sns_envelope(body)
    if envelope.type is not SnsType.NOTIFICATION:
        return []
    try:
        notification = msgspec.json.decode(envelope.fields["Message"])
    except msgspec.DecodeError:
        raise UnknownPayload("The SNS Message is not an SES notification (not JSON)") from None
    note = _object(notification, "The SES notification")
    ses_type = note.get("notificationType", note.get("eventType"))
    if not isinstance(ses_type, str) or not ses_type:
        raise UnknownPayload("The SES notification has no notificationType or eventType")
    mail = _object(note.get("mail", {}), "The SES notification's mail")
    if ses_type == "Bounce":
        return _ses_bounce(envelope, _object(note.get("bounce"), "bounce"))
    if ses_type == "Complaint":
        return _ses_complaint(envelope, _object(note.get("complaint"), "complaint"))
    if ses_type == "DeliveryDelay":
        return _ses_delay(envelope, _object(note.get("deliveryDelay"), "deliveryDelay"))
    return _ses_other(envelope, ses_type, note, mail)


def _ses_id(envelope: SnsEnvelope, detail: Mapping[str, Any], email: str) -> str:
    feedback_id = detail.get("feedbackId")
    base = feedback_id if isinstance(feedback_id, str) and feedback_id else envelope.message_id
    return f"{base}:{email}"


def _ses_recipients(detail: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    recipients = _array(detail.get(key), f"{where}.{key}")
    if not recipients:
        raise UnknownPayload(f"{where}.{key} is empty")
    return [_object(r, f"{where}.{key}[{i}]") for i, r in enumerate(recipients)]


def _ses_bounce(envelope: SnsEnvelope, bounce: Mapping[str, Any]) -> list[FeedbackEvent]:
    bounce_type = _text(bounce, "bounceType", "bounce")
    sub_type = _optional_text(bounce, "bounceSubType")
    at = _iso_ms(bounce.get("timestamp"), "bounce.timestamp")
    events = []
    for i, recipient in enumerate(_ses_recipients(bounce, "bouncedRecipients", "bounce")):
        email = _address(recipient, "emailAddress", f"bounce.bouncedRecipients[{i}]")
        kind = _SES_BOUNCE_KINDS.get(bounce_type, Kind.SOFT_BOUNCE)
        status = _optional_text(recipient, "status")
        if kind is Kind.HARD_BOUNCE and (
            _optional_text(recipient, "action") == "delayed" or status.startswith("4.")
        ):
            kind = Kind.SOFT_BOUNCE
        detail = _detail(
            f"{bounce_type}/{sub_type}" if sub_type else bounce_type,
            status,
            _optional_text(recipient, "diagnosticCode"),
        )
        events.append(
            _event(Provider.SES, _ses_id(envelope, bounce, email), kind, email, at, detail)
        )
    return events


def _ses_complaint(envelope: SnsEnvelope, complaint: Mapping[str, Any]) -> list[FeedbackEvent]:
    feedback_type = _optional_text(complaint, "complaintFeedbackType")
    kind = Kind.OTHER if feedback_type == "not-spam" else Kind.COMPLAINT
    at = _iso_ms(complaint.get("timestamp"), "complaint.timestamp")
    detail = _detail(
        feedback_type or "complaint",
        _optional_text(complaint, "complaintSubType"),
        _optional_text(complaint, "userAgent"),
    )
    recipients = _ses_recipients(complaint, "complainedRecipients", "complaint")
    events = []
    for i, recipient in enumerate(recipients):
        email = _address(recipient, "emailAddress", f"complaint.complainedRecipients[{i}]")
        events.append(
            _event(Provider.SES, _ses_id(envelope, complaint, email), kind, email, at, detail)
        )
    return events


def _ses_delay(envelope: SnsEnvelope, delay: Mapping[str, Any]) -> list[FeedbackEvent]:
    at = _iso_ms(delay.get("timestamp"), "deliveryDelay.timestamp")
    delay_type = _optional_text(delay, "delayType")
    events = []
    recipients = _ses_recipients(delay, "delayedRecipients", "deliveryDelay")
    for i, recipient in enumerate(recipients):
        email = _address(recipient, "emailAddress", f"deliveryDelay.delayedRecipients[{i}]")
        detail = _detail(
            delay_type or "DeliveryDelay",
            _optional_text(recipient, "status"),
            _optional_text(recipient, "diagnosticCode"),
        )
        events.append(
            _event(
                Provider.SES, f"{envelope.message_id}:{email}", Kind.SOFT_BOUNCE, email, at, detail
            )
        )
    return events


def _ses_other(
    envelope: SnsEnvelope, ses_type: str, note: Mapping[str, Any], mail: Mapping[str, Any]
) -> list[FeedbackEvent]:
    """Deliveries, opens, clicks, …: one OTHER event per recipient, leniently read."""
    detail_obj = note.get(_SES_DETAIL_KEYS.get(ses_type, ""))
    detail_obj = detail_obj if isinstance(detail_obj, Mapping) else {}
    at = envelope.timestamp
    for candidate in (detail_obj.get("timestamp"), mail.get("timestamp")):
        if isinstance(candidate, str):
            try:
                at = _iso_ms(candidate, "timestamp")
                break
            except UnknownPayload:
                continue
    recipients = detail_obj.get("recipients", mail.get("destination"))
    addresses = [emails.normalise(r) for r in (recipients if isinstance(recipients, list) else [])]
    addresses = [a for a in addresses if a] or [""]
    detail = _detail(ses_type)
    return [
        _event(Provider.SES, f"{envelope.message_id}:{a}", Kind.OTHER, a, at, detail)
        for a in addresses
    ]


def _ses_times(body: Body) -> PayloadTimes:
    events = parse_ses(body)
    return PayloadTimes(sns_envelope(body).timestamp, _occurred(events))


# --- sendgrid ---------------------------------------------------------------------------


def parse_sendgrid(body: Body) -> list[FeedbackEvent]:
    batch = _array(decode(body), "The SendGrid body (an array of events)")
    return [
        _sendgrid_event(_object(e, f"event [{i}]"), f"event [{i}]") for i, e in enumerate(batch)
    ]


def _sendgrid_event(event: Mapping[str, Any], where: str) -> FeedbackEvent:
    name = _text(event, "event", where)
    at = _seconds_ms(event.get("timestamp"), f"{where}.timestamp")
    bounce_type = _optional_text(event, "type")
    if name == "spamreport":
        kind = Kind.COMPLAINT
    elif name == "bounce":
        kind = Kind.HARD_BOUNCE if bounce_type in ("", "bounce") else Kind.SOFT_BOUNCE
    elif name == "deferred":
        kind = Kind.SOFT_BOUNCE
    else:
        kind = Kind.OTHER
    if kind is Kind.OTHER:
        email = emails.normalise(_optional_text(event, "email"))
        event_id = _optional_text(event, "sg_event_id")
    else:
        email = _address(event, "email", where)
        event_id = _text(event, "sg_event_id", where)
    detail = _detail(
        f"{name}/{bounce_type}" if bounce_type else name,
        _optional_text(event, "bounce_classification"),
        _optional_text(event, "status"),
        _optional_text(event, "reason") or _optional_text(event, "response"),
    )
    return _event(Provider.SENDGRID, event_id, kind, email, at, detail)


def _sendgrid_times(body: Body) -> PayloadTimes:
    return PayloadTimes(None, _occurred(parse_sendgrid(body)))


# --- postmark ---------------------------------------------------------------------------

_POSTMARK_HARD = frozenset({"HardBounce", "BadEmailAddress"})
_POSTMARK_SOFT = frozenset(
    {"SoftBounce", "Transient", "DnsError", "Blocked", "SpamNotification", "Unknown"}
)
_POSTMARK_TIMES = ("BouncedAt", "DeliveredAt", "ReceivedAt", "ChangedAt")


def parse_postmark(body: Body) -> list[FeedbackEvent]:
    record = _object(decode(body), "The Postmark body")
    where = "The Postmark record"
    record_type = record.get("RecordType", "Bounce")  # the older bounce hook sends none
    if not isinstance(record_type, str):
        raise UnknownPayload(f"{where}.RecordType is not a string")
    bounce_type = _optional_text(record, "Type")
    if record_type == "SpamComplaint" or (
        record_type == "Bounce" and bounce_type == "SpamComplaint"
    ):
        kind = Kind.COMPLAINT
    elif record_type == "Bounce":
        bounce_type = _text(record, "Type", where)
        if bounce_type in _POSTMARK_HARD:
            kind = Kind.HARD_BOUNCE
        elif bounce_type in _POSTMARK_SOFT:
            kind = Kind.SOFT_BOUNCE
        else:
            kind = Kind.OTHER
    else:
        return [_postmark_other(record, record_type)]
    record_id = record.get("ID")
    if isinstance(record_id, bool) or not isinstance(record_id, int | str) or record_id == "":
        raise UnknownPayload(f"{where}.ID is missing or not a number")
    detail = _detail(
        bounce_type or record_type,
        _optional_text(record, "Description"),
        _optional_text(record, "Details"),
    )
    return [
        _event(
            Provider.POSTMARK,
            str(record_id),
            kind,
            _address(record, "Email", where),
            _iso_ms(record.get("BouncedAt"), f"{where}.BouncedAt"),
            detail,
        )
    ]


def _postmark_other(record: Mapping[str, Any], record_type: str) -> FeedbackEvent:
    """Deliveries, opens, clicks, subscription changes: read leniently, not acted on."""
    email = emails.normalise(_optional_text(record, "Email") or _optional_text(record, "Recipient"))
    at = 0
    for key in _POSTMARK_TIMES:
        if isinstance(record.get(key), str):
            at = _iso_ms(record[key], key)
            break
    message_id = _optional_text(record, "MessageID")
    event_id = f"{record_type}:{message_id}" if message_id else ""
    return _event(Provider.POSTMARK, event_id, Kind.OTHER, email, at, _detail(record_type))


def _postmark_times(body: Body) -> PayloadTimes:
    return PayloadTimes(None, _occurred(parse_postmark(body)))


# --- mailgun ----------------------------------------------------------------------------

_MAILGUN_NOT_THE_MAILBOX = frozenset({"suppress-unsubscribe", "suppress-complaint"})


def mailgun_signature(body: Body) -> MailgunSignature:
    """The `signature` object Mailgun puts in the body, for `verify_mailgun`."""
    root = _object(decode(body), "The Mailgun body")
    sig = _object(root.get("signature"), "The Mailgun body's signature")
    where = "signature"
    return MailgunSignature(
        _text(sig, "timestamp", where), _text(sig, "token", where), _text(sig, "signature", where)
    )


def parse_mailgun(body: Body) -> list[FeedbackEvent]:
    root = _object(decode(body), "The Mailgun body")
    data = _object(root.get("event-data"), "The Mailgun body's event-data")
    where = "event-data"
    name = _text(data, "event", where)
    at = _seconds_ms(data.get("timestamp"), f"{where}.timestamp")
    severity = _optional_text(data, "severity")
    reason = _optional_text(data, "reason")
    if name == "complained":
        kind = Kind.COMPLAINT
    elif name == "failed":
        if severity == "permanent":
            if reason in _MAILGUN_NOT_THE_MAILBOX:
                kind = Kind.OTHER
            elif reason == "old":
                kind = Kind.SOFT_BOUNCE
            else:
                kind = Kind.HARD_BOUNCE
        else:
            kind = Kind.SOFT_BOUNCE
    else:
        kind = Kind.OTHER
    raw_id = _optional_text(data, "id") if kind is Kind.OTHER else _text(data, "id", where)
    if kind is Kind.OTHER:
        email = emails.normalise(_optional_text(data, "recipient"))
    else:
        email = _address(data, "recipient", where)
    status = data.get("delivery-status")
    status = status if isinstance(status, Mapping) else {}
    detail = _detail(
        "/".join(p for p in (name, severity, reason) if p),
        status.get("code"),
        _optional_text(status, "description") or _optional_text(status, "message"),
    )
    event_id = f"{raw_id}:{at}" if raw_id else ""
    return [_event(Provider.MAILGUN, event_id, kind, email, at, detail)]


def _mailgun_times(body: Body) -> PayloadTimes:
    events = parse_mailgun(body)
    return PayloadTimes(epoch_seconds(mailgun_signature(body).timestamp), _occurred(events))


# --- by provider ------------------------------------------------------------------------

PARSERS: dict[Provider, Callable[[Body], list[FeedbackEvent]]] = {
    Provider.SES: parse_ses,
    Provider.SENDGRID: parse_sendgrid,
    Provider.POSTMARK: parse_postmark,
    Provider.MAILGUN: parse_mailgun,
}
_TIMES: dict[Provider, Callable[[Body], PayloadTimes]] = {
    Provider.SES: _ses_times,
    Provider.SENDGRID: _sendgrid_times,
    Provider.POSTMARK: _postmark_times,
    Provider.MAILGUN: _mailgun_times,
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


def _occurred(events: list[FeedbackEvent]) -> tuple[int, ...]:
    return tuple(e.occurred_at for e in events if e.occurred_at)
