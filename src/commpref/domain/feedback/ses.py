"""Amazon SES notifications, inside an SNS message (see the package's docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec

from commpref.domain import emails
from commpref.domain.feedback.events import (
    Body,
    FeedbackEvent,
    Kind,
    PayloadTimes,
    Provider,
    UnknownPayload,
)
from commpref.domain.feedback.fields import (
    address,
    as_array,
    as_object,
    decode,
    detail_of,
    event_of,
    iso_ms,
    occurred_times,
    optional_text,
    required_text,
)


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


def sns_envelope(body: Body) -> SnsEnvelope:
    """The SNS message of a `ses` delivery, checked for the fields every type carries."""
    obj = as_object(decode(body), "The SNS message")
    where = "The SNS message"
    raw_type = required_text(obj, "Type", where)
    try:
        sns_type = SnsType(raw_type)
    except ValueError:
        raise UnknownPayload(f"Unknown SNS message Type {raw_type[:60]!r}") from None
    subscribe_url = None
    if sns_type is not SnsType.NOTIFICATION:
        subscribe_url = required_text(obj, "SubscribeURL", where)
        required_text(obj, "Token", where)
    required_text(obj, "Message", where)
    return SnsEnvelope(
        type=sns_type,
        message_id=required_text(obj, "MessageId", where),
        topic_arn=required_text(obj, "TopicArn", where),
        timestamp=iso_ms(obj.get("Timestamp"), f"{where}.Timestamp"),
        signing_cert_url=required_text(obj, "SigningCertURL", where),
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
    note = as_object(notification, "The SES notification")
    ses_type = note.get("notificationType", note.get("eventType"))
    if not isinstance(ses_type, str) or not ses_type:
        raise UnknownPayload("The SES notification has no notificationType or eventType")
    mail = as_object(note.get("mail", {}), "The SES notification's mail")
    if ses_type == "Bounce":
        return _ses_bounce(envelope, as_object(note.get("bounce"), "bounce"))
    if ses_type == "Complaint":
        return _ses_complaint(envelope, as_object(note.get("complaint"), "complaint"))
    if ses_type == "DeliveryDelay":
        return _ses_delay(envelope, as_object(note.get("deliveryDelay"), "deliveryDelay"))
    return _ses_other(envelope, ses_type, note, mail)


def _ses_id(envelope: SnsEnvelope, detail: Mapping[str, Any], email: str) -> str:
    feedback_id = detail.get("feedbackId")
    base = feedback_id if isinstance(feedback_id, str) and feedback_id else envelope.message_id
    return f"{base}:{email}"


def _ses_recipients(detail: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    recipients = as_array(detail.get(key), f"{where}.{key}")
    if not recipients:
        raise UnknownPayload(f"{where}.{key} is empty")
    return [as_object(r, f"{where}.{key}[{i}]") for i, r in enumerate(recipients)]


def _ses_bounce(envelope: SnsEnvelope, bounce: Mapping[str, Any]) -> list[FeedbackEvent]:
    bounce_type = required_text(bounce, "bounceType", "bounce")
    sub_type = optional_text(bounce, "bounceSubType")
    at = iso_ms(bounce.get("timestamp"), "bounce.timestamp")
    events = []
    for i, recipient in enumerate(_ses_recipients(bounce, "bouncedRecipients", "bounce")):
        email = address(recipient, "emailAddress", f"bounce.bouncedRecipients[{i}]")
        kind = _SES_BOUNCE_KINDS.get(bounce_type, Kind.SOFT_BOUNCE)
        status = optional_text(recipient, "status")
        if kind is Kind.HARD_BOUNCE and (
            optional_text(recipient, "action") == "delayed" or status.startswith("4.")
        ):
            kind = Kind.SOFT_BOUNCE
        detail = detail_of(
            f"{bounce_type}/{sub_type}" if sub_type else bounce_type,
            status,
            optional_text(recipient, "diagnosticCode"),
        )
        events.append(
            event_of(Provider.SES, _ses_id(envelope, bounce, email), kind, email, at, detail)
        )
    return events


def _ses_complaint(envelope: SnsEnvelope, complaint: Mapping[str, Any]) -> list[FeedbackEvent]:
    feedback_type = optional_text(complaint, "complaintFeedbackType")
    kind = Kind.OTHER if feedback_type == "not-spam" else Kind.COMPLAINT
    at = iso_ms(complaint.get("timestamp"), "complaint.timestamp")
    detail = detail_of(
        feedback_type or "complaint",
        optional_text(complaint, "complaintSubType"),
        optional_text(complaint, "userAgent"),
    )
    recipients = _ses_recipients(complaint, "complainedRecipients", "complaint")
    events = []
    for i, recipient in enumerate(recipients):
        email = address(recipient, "emailAddress", f"complaint.complainedRecipients[{i}]")
        events.append(
            event_of(Provider.SES, _ses_id(envelope, complaint, email), kind, email, at, detail)
        )
    return events


def _ses_delay(envelope: SnsEnvelope, delay: Mapping[str, Any]) -> list[FeedbackEvent]:
    at = iso_ms(delay.get("timestamp"), "deliveryDelay.timestamp")
    delay_type = optional_text(delay, "delayType")
    events = []
    recipients = _ses_recipients(delay, "delayedRecipients", "deliveryDelay")
    for i, recipient in enumerate(recipients):
        email = address(recipient, "emailAddress", f"deliveryDelay.delayedRecipients[{i}]")
        detail = detail_of(
            delay_type or "DeliveryDelay",
            optional_text(recipient, "status"),
            optional_text(recipient, "diagnosticCode"),
        )
        events.append(
            event_of(
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
                at = iso_ms(candidate, "timestamp")
                break
            except UnknownPayload:
                continue
    recipients = detail_obj.get("recipients", mail.get("destination"))
    addresses = [emails.normalise(r) for r in (recipients if isinstance(recipients, list) else [])]
    addresses = [a for a in addresses if a] or [""]
    detail = detail_of(ses_type)
    return [
        event_of(Provider.SES, f"{envelope.message_id}:{a}", Kind.OTHER, a, at, detail)
        for a in addresses
    ]


def ses_times(body: Body) -> PayloadTimes:
    events = parse_ses(body)
    return PayloadTimes(sns_envelope(body).timestamp, occurred_times(events))
