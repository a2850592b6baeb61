"""The rules of a mail provider's configuration (`domain.feedback_providers`), the bounce
mark in exports and imports (`domain.bounces`), and where an SNS SubscribeURL may lead
(`provider_auth.check_subscribe_url`)."""

from __future__ import annotations

import pytest

from commpref.domain import bounces
from commpref.domain import feedback_providers as fp
from commpref.domain.erasure import suppressed_subscriber
from commpref.domain.feedback import Provider
from commpref.domain.imports import ImportRow, ReportRow, Verdict
from commpref.domain.model import Bounce, Subscriber
from commpref.errors import ValidationError
from commpref.services.provider_auth import BadSignature, check_subscribe_url

ALLOWED = ("sns.*.amazonaws.com", "http://127.0.0.1:8123")


def test_a_configuration_keeps_only_the_providers_fields_trimmed() -> None:
    assert fp.clean(Provider.SES, {}) == {}
    arn = "arn:aws:sns:us-east-1:123456789012:bounces.fifo"
    assert fp.clean(Provider.SES, {"topicArn": f" {arn} "}) == {"topicArn": arn}
    assert fp.clean(Provider.POSTMARK, {"username": "pm", "password": " 16 characters.. "}) == {
        "username": "pm",
        "password": " 16 characters.. ",  # a password keeps its spaces
    }
    assert fp.clean(Provider.MAILGUN, {"signingKey": "k", "topicArn": ""}) == {"signingKey": "k"}


@pytest.mark.parametrize(
    ("provider", "given", "field"),
    [
        (Provider.SENDGRID, {}, "publicKey"),
        (Provider.MAILGUN, {"signingKey": "  "}, "signingKey"),
        (Provider.POSTMARK, {"username": "pm"}, "password"),
        (Provider.POSTMARK, {"username": "pm", "password": "x" * 15}, "password"),
        (Provider.POSTMARK, {"username": "p:m", "password": "x" * 16}, "username"),
        (Provider.SES, {"topicArn": "arn:aws:sqs:us-east-1:123456789012:q"}, "topicArn"),
        (Provider.SES, {"publicKey": "k"}, "publicKey"),
        (Provider.MAILGUN, {"signingKey": 42}, "signingKey"),
        (Provider.MAILGUN, {"signingKey": "a\nb"}, "signingKey"),
        (Provider.MAILGUN, {"signingKey": "k" * 5000}, "signingKey"),
    ],
)
def test_a_bad_configuration_names_its_field(
    provider: Provider, given: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        fp.clean(provider, given)
    assert raised.value.errors == [{"message": raised.value.message, "in": field}]


def test_secrets_are_never_shown_and_providers_are_named() -> None:
    config = {"username": "u", "password": "p", "signingKey": "s", "topicArn": "t"}
    assert fp.public_view(config) == {"topicArn": "t"}
    assert fp.provider("ses") is Provider.SES
    with pytest.raises(ValidationError, match="use one of ses, sendgrid, postmark, mailgun"):
        fp.provider("SES ")


def test_a_bounced_record_reads_and_applies() -> None:
    record = {"email": " Ada@Example.com", "subscription_id": "bounced", "timestamp": "1000",
              "source": "Hard bounce (ses)", "status": "NOT_SPECIFIED"}  # fmt: skip
    assert bounces.is_bounce_record(record)
    row = bounces.read_record(3, record, now=5)
    assert isinstance(row, ImportRow) and bounces.is_bounce_row(row)
    assert (row.email, row.timestamp, row.source) == ("ada@example.com", 1000, "Hard bounce (ses)")
    sub = Subscriber("ada@example.com")
    assert bounces.apply_row(sub, row) == (Verdict.APPLIED, [bounces.BOUNCE_CHANGE], "")
    assert sub.bounce == Bounce(1000, "Hard bounce (ses)")
    assert bounces.apply_row(sub, row)[0] is Verdict.UNCHANGED
    older = row._replace(timestamp=999)
    assert bounces.apply_row(sub, older)[0] is Verdict.STALE
    erased = suppressed_subscriber("ada@example.com", 10, [1], [0])
    assert bounces.apply_row(erased, row)[0] is Verdict.STALE and erased.bounce is None
    assert bounces.export_record(sub) is not None and bounces.export_record(erased) is None


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"email": "nope"}, "Invalid email address"),
        ({"email": "a@example.com", "timestamp": "yesterday"}, "Invalid timestamp"),
        ({"email": "a@example.com", "source": "x" * 1001}, "at most 1000"),
    ],
)
def test_a_bad_bounced_record_is_rejected(record: dict[str, str], reason: str) -> None:
    row = bounces.read_record(1, {**record, "subscription_id": "BOUNCED"}, now=5)
    assert isinstance(row, ReportRow) and reason in row.reason


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
        "http://127.0.0.1:8123/confirm?Token=x",
    ],
)
def test_a_subscribe_url_on_an_allowed_host_passes(url: str) -> None:
    check_subscribe_url(url, ALLOWED)


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",  # not https
        "https://sns.us-east-1.amazonaws.com.evil.example/",
        "https://sns.us-east-1.amazonaws.com@evil.example/",
        "https://sns.s3-us-west-2.amazonaws.com/",  # an S3 bucket named sns
        "https://evil.example/confirm",
        "http://127.0.0.1:8124/confirm",
        "https://sns.us-east-1.amazonaws.com/#x",
        "https://sns.us-east-1.amazonaws.com:99999/",
    ],
)
def test_a_subscribe_url_elsewhere_is_refused(url: str) -> None:
    with pytest.raises(BadSignature):
        check_subscribe_url(url, ALLOWED)
