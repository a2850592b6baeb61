"""Mailbox feedback (domain/feedback/): the providers' documented samples, normalised."""

from __future__ import annotations

import contextlib
import copy
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commpref.domain import feedback
from commpref.domain.feedback import FeedbackEvent, Kind, PayloadTimes, UnknownPayload
from tests.support import feedback_samples as s

HARD, SOFT, COMPLAINT, OTHER = Kind.HARD_BOUNCE, Kind.SOFT_BOUNCE, Kind.COMPLAINT, Kind.OTHER
SES_TIME = 1453906778237  # 2016-01-27T14:59:38.237Z, every SES notification example
SG_TIME = 1513299569000  # the SendGrid reference's timestamp
PM_TIME = 1572971634907  # 2019-11-05T16:33:54.9070259Z, Postmark's examples


def ses(notification: dict[str, Any], **kwargs: Any) -> bytes:
    return json.dumps(s.sns_notification(notification, **kwargs)).encode()


def mailgun(event_data: dict[str, Any]) -> bytes:
    return json.dumps(s.mailgun_body(event_data)).encode()


# --- Amazon SES -------------------------------------------------------------------------


def test_ses_bounce_with_dsn() -> None:
    assert feedback.parse("ses", ses(s.SES_BOUNCE_WITH_DSN)) == [
        FeedbackEvent(
            "ses",
            "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000:jane@example.com",
            HARD,
            "jane@example.com",
            SES_TIME,
            "Permanent/General: 5.1.1: smtp; 550 5.1.1 <jane@example.com>... User",
        )
    ]


def test_ses_bounce_of_several_recipients_is_one_event_each() -> None:
    events = feedback.parse_ses(ses(s.SES_BOUNCE_WITHOUT_DSN))
    feedback_id = "00000137860315fd-869464a4-8680-4114-98d3-716fe35851f9-000000"
    assert [(e.email, e.kind, e.event_id) for e in events] == [
        ("jane@example.com", HARD, f"{feedback_id}:jane@example.com"),
        ("richard@example.com", HARD, f"{feedback_id}:richard@example.com"),
    ]
    assert {e.occurred_at for e in events} == {SES_TIME}
    assert {e.detail for e in events} == {"Permanent/General"}


def test_ses_bounce_recipient_only_delayed_is_soft() -> None:
    """The bounce object of SES's notification contents: one recipient failed, one was
    only delayed; the delayed one is not suppressed on a permanent bounce."""
    events = feedback.parse_ses(ses(s.SES_BOUNCE_OBJECT_EXAMPLE))
    assert [(e.email, e.kind) for e in events] == [
        ("recipient1@example.com", HARD),
        ("recipient2@example.com", SOFT),
    ]
    assert events[0].occurred_at == 1337957978605


@pytest.mark.parametrize(
    ("bounce_type", "kind"),
    [("Permanent", HARD), ("Transient", SOFT), ("Undetermined", SOFT), ("Novel", SOFT)],
)
def test_ses_bounce_types(bounce_type: str, kind: Kind) -> None:
    note = copy.deepcopy(s.SES_BOUNCE_WITHOUT_DSN)
    note["bounce"]["bounceType"] = bounce_type
    assert {e.kind for e in feedback.parse_ses(ses(note))} == {kind}


def test_ses_complaints() -> None:
    with_report = feedback.parse_ses(ses(s.SES_COMPLAINT_WITH_FEEDBACK))
    assert with_report == [
        FeedbackEvent(
            "ses",
            "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000:richard@example.com",
            COMPLAINT,
            "richard@example.com",
            SES_TIME,
            "abuse: AnyCompany Feedback Loop (V0.01)",
        )
    ]
    without = feedback.parse_ses(ses(s.SES_COMPLAINT_WITHOUT_FEEDBACK))
    assert [(e.kind, e.email, e.detail) for e in without] == [
        (COMPLAINT, "richard@example.com", "complaint")
    ]


def test_ses_not_spam_report_is_not_a_complaint() -> None:
    note = copy.deepcopy(s.SES_COMPLAINT_WITH_FEEDBACK)
    note["complaint"]["complaintFeedbackType"] = "not-spam"
    assert [e.kind for e in feedback.parse_ses(ses(note))] == [OTHER]


def test_ses_event_publishing_form() -> None:
    [event] = feedback.parse_ses(ses(s.SES_EVENT_PUBLISHING_BOUNCE))
    assert (event.kind, event.email, event.occurred_at) == (
        HARD,
        "recipient@example.com",
        1501893662669,
    )
    assert event.event_id.startswith("01000157c44f053b-61b59c11")


def test_ses_delivery_delay_is_soft() -> None:
    note = {
        "eventType": "DeliveryDelay",
        "mail": {"messageId": "m-1", "destination": ["late@example.com"]},
        "deliveryDelay": {
            "timestamp": "2020-06-16T00:15:40.641Z",
            "delayType": "TransientCommunicationFailure",
            "delayedRecipients": [
                {"emailAddress": "Late@Example.com", "status": "4.4.1", "diagnosticCode": "x"}
            ],
        },
    }
    [event] = feedback.parse_ses(ses(note, message_id="sns-1"))
    assert (event.kind, event.email, event.event_id) == (
        SOFT,
        "late@example.com",
        "sns-1:late@example.com",
    )


def test_ses_delivery_is_other() -> None:
    events = feedback.parse_ses(ses(s.SES_DELIVERY, message_id="sns-2"))
    assert [(e.kind, e.email, e.event_id, e.occurred_at) for e in events] == [
        (OTHER, "jane@example.com", "sns-2:jane@example.com", SES_TIME)
    ]


def test_ses_unknown_notification_type_is_other() -> None:
    note = {"eventType": "Open", "mail": {"destination": ["a@example.com"]}, "open": {}}
    assert [e.kind for e in feedback.parse_ses(ses(note))] == [OTHER]


@pytest.mark.parametrize(
    "example", [s.SNS_SUBSCRIPTION_CONFIRMATION_EXAMPLE, s.SNS_UNSUBSCRIBE_CONFIRMATION_EXAMPLE]
)
def test_sns_confirmations_carry_no_feedback(example: dict[str, Any]) -> None:
    assert feedback.parse("ses", json.dumps(example)) == []
    envelope = feedback.sns_envelope(json.dumps(example))
    assert envelope.type.value == example["Type"]
    assert envelope.subscribe_url == example["SubscribeURL"]
    assert envelope.topic_arn == s.SNS_TOPIC_ARN
    assert envelope.fields == example


def test_sns_envelope_of_a_notification() -> None:
    envelope = feedback.sns_envelope(json.dumps(s.SNS_NOTIFICATION_EXAMPLE).encode())
    assert (envelope.type, envelope.message_id, envelope.timestamp, envelope.subscribe_url) == (
        feedback.SnsType.NOTIFICATION,
        "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        1335920046655,
        None,
    )
    assert envelope.signing_cert_url == s.SNS_CERT_URL


def test_sns_notification_that_is_not_ses_is_refused() -> None:
    # SNS's own example notification says "Hello world!": not an SES notification
    with pytest.raises(UnknownPayload, match="not an SES notification"):
        feedback.parse("ses", json.dumps(s.SNS_NOTIFICATION_EXAMPLE))


# --- SendGrid ---------------------------------------------------------------------------


def test_sendgrid_reference_batch_of_each_event_type() -> None:
    events = feedback.parse("sendgrid", json.dumps(s.SENDGRID_EACH_EVENT_TYPE).encode())
    kinds = {e.detail.split(":")[0]: e.kind for e in events}
    assert kinds == {
        "processed": OTHER,
        "deferred": SOFT,
        "delivered": OTHER,
        "open": OTHER,
        "click": OTHER,
        "bounce": HARD,
        "dropped": OTHER,
        "spamreport": COMPLAINT,
        "unsubscribe": OTHER,
        "group_unsubscribe": OTHER,
        "group_resubscribe": OTHER,
    }
    assert {e.email for e in events} == {"example@test.com"}
    assert {e.occurred_at for e in events} == {SG_TIME}


@pytest.mark.parametrize(
    ("sample", "kind", "detail"),
    [
        (
            s.SENDGRID_BOUNCE,
            HARD,
            "bounce/bounce: Invalid Address: 5.0.0: 500 unknown recipient",
        ),
        (
            s.SENDGRID_BLOCKED,
            SOFT,
            "bounce/blocked: Invalid Address: 5.0.0: 500 unknown recipient",
        ),
        (s.SENDGRID_DEFERRED, SOFT, "deferred: 400 try again later"),
        (s.SENDGRID_DROPPED, OTHER, "dropped: 5.0.0: Bounced Address"),
        (s.SENDGRID_SPAMREPORT, COMPLAINT, "spamreport"),
    ],
)
def test_sendgrid_reference_events(sample: dict[str, Any], kind: Kind, detail: str) -> None:
    [event] = feedback.parse_sendgrid(json.dumps([sample]))
    assert event == FeedbackEvent(
        "sendgrid", sample["sg_event_id"], kind, "alex@example.com", SG_TIME, detail
    )


def test_sendgrid_bounce_without_type_is_hard() -> None:
    [event] = feedback.parse_sendgrid([s.SENDGRID_EACH_EVENT_TYPE[5]])
    assert (event.kind, event.event_id) == (HARD, "sg_event_id")


def test_sendgrid_account_event_names_no_address() -> None:
    [event] = feedback.parse_sendgrid([s.SENDGRID_ACCOUNT_STATUS_CHANGE])
    assert (event.kind, event.email, event.occurred_at) == (OTHER, "", 1709142428000)


def test_sendgrid_addresses_are_normalised() -> None:
    sample = {**s.SENDGRID_SPAMREPORT, "email": "  Alex@Example.COM\t"}
    [event] = feedback.parse_sendgrid([sample])
    assert event.email == "alex@example.com"


def test_sendgrid_empty_batch() -> None:
    assert feedback.parse("sendgrid", b"[]") == []


# --- Postmark ---------------------------------------------------------------------------


def test_postmark_bounce_webhook_example() -> None:
    assert feedback.parse("postmark", json.dumps(s.POSTMARK_BOUNCE).encode()) == [
        FeedbackEvent(
            "postmark",
            "4323372036854775807",
            HARD,
            "john@example.com",
            PM_TIME,
            "HardBounce: The server was unable to deliver your message (ex: unknown user, "
            "mailbox not found).: Test bounce details",
        )
    ]


def test_postmark_spam_complaint_webhook_example() -> None:
    [event] = feedback.parse_postmark(json.dumps(s.POSTMARK_SPAM_COMPLAINT))
    assert (event.kind, event.event_id, event.email, event.occurred_at) == (
        COMPLAINT,
        "42",
        "john@example.com",
        PM_TIME,
    )


def test_postmark_older_bounce_hook_without_record_type() -> None:
    [event] = feedback.parse_postmark(s.POSTMARK_BOUNCE_WITHOUT_RECORD_TYPE)
    # 2014-08-01T13:28:10.2735393-04:00
    assert (event.kind, event.occurred_at) == (HARD, 1406914090273)


@pytest.mark.parametrize(
    ("bounce_type", "code", "kind"),
    [
        ("HardBounce", 1, HARD),
        ("BadEmailAddress", 100000, HARD),
        ("SoftBounce", 4096, SOFT),
        ("Transient", 2, SOFT),
        ("DnsError", 256, SOFT),
        ("Blocked", 100006, SOFT),
        ("SpamNotification", 512, SOFT),
        ("Unknown", 2048, SOFT),
        ("SpamComplaint", 100001, COMPLAINT),
        ("ManuallyDeactivated", 100002, OTHER),
        ("AutoResponder", 64, OTHER),
        ("Unsubscribe", 16, OTHER),
        ("ChallengeVerification", 16384, OTHER),
        ("DMARCPolicy", 100009, OTHER),
        ("SomethingNew", 1 << 30, OTHER),
    ],
)
def test_postmark_bounce_types(bounce_type: str, code: int, kind: Kind) -> None:
    [event] = feedback.parse_postmark(s.postmark_bounce_of_type(bounce_type, code))
    assert event.kind is kind


def test_postmark_delivery_record_is_other() -> None:
    [event] = feedback.parse_postmark(s.POSTMARK_DELIVERY)
    assert (event.kind, event.email, event.occurred_at) == (
        OTHER,
        "john@example.com",
        1613925292000,
    )


# --- Mailgun ----------------------------------------------------------------------------


def test_mailgun_permanent_fail_sample() -> None:
    assert feedback.parse("mailgun", mailgun(s.MAILGUN_PERMANENT_FAIL)) == [
        FeedbackEvent(
            "mailgun",
            "G9Bn5sl1TC6nu79C8C0bwg:1521233195376",
            HARD,
            "alice@example.com",
            1521233195376,
            "failed/permanent/suppress-bounce: 605: Not delivering to previously bounced address",
        )
    ]


def test_mailgun_temporary_fail_sample() -> None:
    [event] = feedback.parse_mailgun(mailgun(s.MAILGUN_TEMPORARY_FAIL))
    assert (event.kind, event.email, event.occurred_at) == (
        SOFT,
        "alice@example.com",
        1521472262908,
    )
    assert event.detail.startswith("failed/temporary/generic: 452: 4.2.2 The email account")


def test_mailgun_complained_sample() -> None:
    [event] = feedback.parse_mailgun(mailgun(s.MAILGUN_COMPLAINED))
    assert (event.kind, event.event_id, event.email) == (
        COMPLAINT,
        "-Agny091SquKnsrW2NEKUA:1521233123501",
        "alice@example.com",
    )


def test_mailgun_accepted_is_other() -> None:
    [event] = feedback.parse_mailgun(mailgun(s.MAILGUN_ACCEPTED))
    assert (event.kind, event.email) == (OTHER, "recipient@sample.mailgun.com")


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("bounce", HARD),
        ("suppress-bounce", HARD),
        ("generic", HARD),
        ("suppress-unsubscribe", OTHER),
        ("suppress-complaint", OTHER),
        ("old", SOFT),
    ],
)
def test_mailgun_permanent_reasons(reason: str, kind: Kind) -> None:
    [event] = feedback.parse_mailgun(mailgun({**s.MAILGUN_PERMANENT_FAIL, "reason": reason}))
    assert event.kind is kind


def test_mailgun_signature_fields() -> None:
    assert feedback.mailgun_signature(mailgun(s.MAILGUN_COMPLAINED)) == feedback.MailgunSignature(
        "1529006854",
        "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
        "d2271d12299f6592d9d44cd9d250f0704e4674c30d79d07c47a66f95ce71cf55",
    )
    with pytest.raises(UnknownPayload, match="signature"):
        feedback.mailgun_signature({"event-data": s.MAILGUN_COMPLAINED})


# --- times ------------------------------------------------------------------------------


def test_payload_times() -> None:
    assert feedback.payload_times("ses", ses(s.SES_BOUNCE_WITHOUT_DSN)) == PayloadTimes(
        1453906778500, (SES_TIME, SES_TIME)
    )
    confirmation = json.dumps(s.SNS_SUBSCRIPTION_CONFIRMATION_EXAMPLE)
    assert feedback.payload_times("ses", confirmation) == PayloadTimes(1335473104751, ())
    sendgrid = [s.SENDGRID_BOUNCE, {**s.SENDGRID_SPAMREPORT, "timestamp": 1513299600}]
    times = feedback.payload_times("sendgrid", json.dumps(sendgrid))
    assert times == PayloadTimes(None, (SG_TIME, 1513299600000))
    assert times.reference == 1513299600000
    assert feedback.payload_times("postmark", s.POSTMARK_BOUNCE) == PayloadTimes(None, (PM_TIME,))
    mailgun_times = feedback.payload_times("mailgun", mailgun(s.MAILGUN_COMPLAINED))
    assert mailgun_times == PayloadTimes(1529006854000, (1521233123501,))
    assert mailgun_times.reference == 1529006854000
    assert PayloadTimes(None, ()).reference is None


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2019-11-05T16:33:54.9070259Z", PM_TIME),
        ("2019-11-05T18:33:54.907+02:00", PM_TIME),
        ("2019-11-05T11:33:54.907-0500", PM_TIME),
        ("2019-11-05 16:33:54.907 +0000", PM_TIME),
        ("2019-11-05T16:33:54.907", PM_TIME),  # no offset: UTC
        ("2019-11-05T16:33:54.9Z", PM_TIME - 7),
        ("2019-11-05T16:33:54Z", PM_TIME - 907),
    ],
)
def test_iso_times_as_providers_write_them(text: str, ms: int) -> None:
    [event] = feedback.parse_postmark({**s.POSTMARK_BOUNCE, "BouncedAt": text})
    assert event.occurred_at == ms


@pytest.mark.parametrize(
    "text",
    ["2019-11-05", "2019-11-05T16:33:54+99:00", "2019-02-30T00:00:00Z", "２０１９-11-05T16:33:54Z"],
)
def test_times_that_are_not_are_refused(text: str) -> None:
    with pytest.raises(UnknownPayload, match="BouncedAt"):
        feedback.parse_postmark({**s.POSTMARK_BOUNCE, "BouncedAt": text})


def test_epoch_seconds() -> None:
    assert feedback.epoch_seconds("1600112502") == 1600112502000
    for bad in ("", "-1", "1.5", "١٢٣", "12345678901234", "now"):
        with pytest.raises(UnknownPayload):
            feedback.epoch_seconds(bad)


# --- malformed --------------------------------------------------------------------------


def _without(sample: dict[str, Any], *path: str) -> dict[str, Any]:
    out = copy.deepcopy(sample)
    target = out
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return out


def _with(sample: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    out = copy.deepcopy(sample)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


MALFORMED: list[tuple[str, Any, str]] = [
    ("ses", b"{not json", "not JSON"),
    ("ses", b"[]", "not a JSON object"),
    ("ses", _without(s.SNS_NOTIFICATION_EXAMPLE, "Type"), "Type"),
    ("ses", _with(s.SNS_NOTIFICATION_EXAMPLE, "Bogus", "Type"), "Unknown SNS message Type"),
    ("ses", _without(s.SNS_NOTIFICATION_EXAMPLE, "MessageId"), "MessageId"),
    ("ses", _with(s.SNS_NOTIFICATION_EXAMPLE, "yesterday", "Timestamp"), "Timestamp"),
    ("ses", _without(s.SNS_SUBSCRIPTION_CONFIRMATION_EXAMPLE, "SubscribeURL"), "SubscribeURL"),
    ("ses", s.sns_notification({"mail": {}}), "notificationType"),
    ("ses", s.sns_notification(_without(s.SES_BOUNCE_WITH_DSN, "bounce")), "bounce"),
    (
        "ses",
        s.sns_notification(_with(s.SES_BOUNCE_WITH_DSN, [], "bounce", "bouncedRecipients")),
        "bouncedRecipients is empty",
    ),
    (
        "ses",
        s.sns_notification(_with(s.SES_BOUNCE_WITH_DSN, [{}], "bounce", "bouncedRecipients")),
        "bouncedRecipients[0].emailAddress",
    ),
    (
        "ses",
        s.sns_notification(_without(s.SES_BOUNCE_WITH_DSN, "bounce", "bounceType")),
        "bounceType",
    ),
    (
        "ses",
        s.sns_notification(
            _with(s.SES_COMPLAINT_WITH_FEEDBACK, "2016-13-45T00:00:00Z", "complaint", "timestamp")
        ),
        "not a valid date",
    ),
    ("sendgrid", s.SENDGRID_BOUNCE, "array"),
    ("sendgrid", [1], "event [0] is not a JSON object"),
    ("sendgrid", [_without(s.SENDGRID_BOUNCE, "email")], "email"),
    ("sendgrid", [_with(s.SENDGRID_BOUNCE, "   ", "email")], "blank"),
    ("sendgrid", [_without(s.SENDGRID_BOUNCE, "sg_event_id")], "sg_event_id"),
    ("sendgrid", [_without(s.SENDGRID_DEFERRED, "event")], "event"),
    ("sendgrid", [_with(s.SENDGRID_BOUNCE, "1513299569", "timestamp")], "timestamp"),
    ("sendgrid", [_with(s.SENDGRID_BOUNCE, True, "timestamp")], "timestamp"),
    ("postmark", [s.POSTMARK_BOUNCE], "not a JSON object"),
    ("postmark", _without(s.POSTMARK_BOUNCE, "Email"), "Email"),
    ("postmark", _without(s.POSTMARK_BOUNCE, "ID"), "ID"),
    ("postmark", _with(s.POSTMARK_BOUNCE, True, "ID"), "ID"),
    ("postmark", _without(s.POSTMARK_BOUNCE, "Type"), "Type"),
    ("postmark", _with(s.POSTMARK_BOUNCE, "05/11/2019", "BouncedAt"), "BouncedAt"),
    ("postmark", _with(s.POSTMARK_BOUNCE, 7, "RecordType"), "RecordType"),
    ("mailgun", s.MAILGUN_COMPLAINED, "event-data"),
    ("mailgun", s.mailgun_body(_without(s.MAILGUN_COMPLAINED, "recipient")), "recipient"),
    ("mailgun", s.mailgun_body(_without(s.MAILGUN_COMPLAINED, "id")), "id"),
    ("mailgun", s.mailgun_body(_without(s.MAILGUN_COMPLAINED, "timestamp")), "timestamp"),
    ("mailgun", s.mailgun_body(_without(s.MAILGUN_COMPLAINED, "event")), "event"),
    ("sparkpost", {}, "Unknown mail provider"),
]


@pytest.mark.parametrize(("name", "body", "message"), MALFORMED)
def test_malformed_payloads_are_refused_with_a_reason(name: str, body: Any, message: str) -> None:
    with pytest.raises(UnknownPayload, match=re.escape(message)) as caught:
        feedback.parse(name, body)
    assert isinstance(caught.value, ValueError)


def test_bodies_may_be_bytes_text_or_decoded() -> None:
    body = [s.SENDGRID_SPAMREPORT]
    as_bytes = feedback.parse("sendgrid", json.dumps(body).encode())
    assert feedback.parse("sendgrid", json.dumps(body)) == as_bytes
    assert feedback.parse("sendgrid", body) == as_bytes


def test_detail_is_bounded() -> None:
    sample = {**s.SENDGRID_BOUNCE, "reason": "x" * 5000}
    [event] = feedback.parse_sendgrid([sample])
    assert len(event.detail) == feedback.MAX_DETAIL


# --- anything else: refused, never a crash ----------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.from_regex(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?", fullmatch=True),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Type",
                    "Message",
                    "MessageId",
                    "Timestamp",
                    "TopicArn",
                    "SigningCertURL",
                    "SubscribeURL",
                    "Token",
                    "event",
                    "email",
                    "timestamp",
                    "sg_event_id",
                    "type",
                    "RecordType",
                    "ID",
                    "Email",
                    "BouncedAt",
                    "event-data",
                    "signature",
                    "id",
                    "recipient",
                    "severity",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(name=st.sampled_from([p.value for p in feedback.Provider]), body=json_values)
def test_arbitrary_json_parses_or_is_refused(name: str, body: Any) -> None:
    try:
        events = feedback.parse(name, json.dumps(body))
    except UnknownPayload:
        return
    assert all(isinstance(e, FeedbackEvent) for e in events)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_documented_samples_with_a_field_broken_parse_or_are_refused(data: st.DataObject) -> None:
    name, sample = data.draw(
        st.sampled_from(
            [
                ("postmark", s.POSTMARK_BOUNCE),
                ("postmark", s.POSTMARK_SPAM_COMPLAINT),
                ("mailgun", s.MAILGUN_PERMANENT_FAIL),
                ("sendgrid", s.SENDGRID_BOUNCE),
                ("ses", s.SES_BOUNCE_OBJECT_EXAMPLE),
                ("ses", s.SES_COMPLAINT_WITH_FEEDBACK),
            ]
        )
    )
    broken: dict[str, Any] = copy.deepcopy(sample)
    target: dict[str, Any] = broken
    if name == "ses":  # break a field of the bounce or complaint, not of the envelope
        target = broken["bounce" if "bounce" in broken else "complaint"]
    key = data.draw(st.sampled_from(sorted(target)))
    target[key] = data.draw(json_values)
    body: Any = broken
    if name == "ses":
        body = s.sns_notification(broken)
    elif name == "sendgrid":
        body = [broken]
    elif name == "mailgun":
        body = s.mailgun_body(broken)
    with contextlib.suppress(UnknownPayload):
        feedback.parse(name, body)
