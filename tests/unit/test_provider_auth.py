"""Mailbox-feedback authentication (services/provider_auth.py): what passes, what is forged."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from commpref.domain import feedback
from commpref.services import provider_auth as auth
from commpref.services.provider_auth import BadSignature, CertUnavailable
from tests.support import feedback_samples as s
from tests.support.feedback_signing import (
    SnsSigner,
    basic_authorization,
    mailgun_body,
    mailgun_signature,
    self_signed_certificate,
    sendgrid_headers,
    sendgrid_keypair,
    sendgrid_signature,
)

SNS_HOSTS = list(auth.DEFAULT_SNS_CERT_HOSTS)


@pytest.fixture(scope="module")
def signer() -> SnsSigner:
    return SnsSigner()


@pytest.fixture(scope="module")
def other_signer() -> SnsSigner:
    return SnsSigner()


@pytest.fixture(autouse=True)
def empty_cert_cache() -> Iterator[None]:
    auth.clear_cert_cache()
    yield
    auth.clear_cert_cache()


def flip(text: str) -> str:
    """A base64 signature with one bit of its bytes changed."""
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# --- SendGrid ---------------------------------------------------------------------------

SG_BODY = json.dumps([s.SENDGRID_BOUNCE, s.SENDGRID_SPAMREPORT]).encode()


@pytest.fixture(scope="module")
def sendgrid_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    return sendgrid_keypair()


def test_sendgrid_signed_delivery_passes(
    sendgrid_key: tuple[ec.EllipticCurvePrivateKey, str],
) -> None:
    private, public = sendgrid_key
    headers = sendgrid_headers(private, SG_BODY, timestamp=1700000000)
    auth.verify_sendgrid(
        public,
        headers["X-Twilio-Email-Event-Webhook-Signature"],
        headers["X-Twilio-Email-Event-Webhook-Timestamp"],
        SG_BODY,
    )


def test_sendgrid_own_test_vector_passes() -> None:
    """A signature SendGrid's libraries test against: made by other code than ours."""
    auth.verify_sendgrid(
        s.SENDGRID_KNOWN_PUBLIC_KEY,
        s.SENDGRID_KNOWN_SIGNATURE,
        s.SENDGRID_KNOWN_TIMESTAMP,
        s.SENDGRID_KNOWN_BODY,
    )
    with pytest.raises(BadSignature):  # their "bad payload" case
        auth.verify_sendgrid(
            s.SENDGRID_KNOWN_PUBLIC_KEY,
            s.SENDGRID_KNOWN_SIGNATURE,
            s.SENDGRID_KNOWN_TIMESTAMP,
            s.SENDGRID_KNOWN_BODY.rstrip(),
        )


def test_sendgrid_pem_key_is_accepted(
    sendgrid_key: tuple[ec.EllipticCurvePrivateKey, str],
) -> None:
    private, _ = sendgrid_key
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    auth.verify_sendgrid(pem, sendgrid_signature(private, "1", SG_BODY), "1", SG_BODY)


def _rsa_public_b64() -> str:
    der = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(der).decode()


def _p384_public_b64() -> str:
    der = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(der).decode()


SendgridCase = Callable[[ec.EllipticCurvePrivateKey, str, str, str], tuple[str, str, str, bytes]]
SENDGRID_FORGERIES: dict[str, SendgridCase] = {
    "forged signature": lambda k, pub, sig, ts: (pub, flip(sig), ts, SG_BODY),
    "a changed byte of the body": lambda k, pub, sig, ts: (
        pub,
        sig,
        ts,
        SG_BODY.replace(b"alex@", b"alez@"),
    ),
    "a byte added to the body": lambda k, pub, sig, ts: (pub, sig, ts, SG_BODY + b"\n"),
    "wrong key": lambda k, pub, sig, ts: (sendgrid_keypair()[1], sig, ts, SG_BODY),
    "wrong timestamp": lambda k, pub, sig, ts: (pub, sig, str(int(ts) + 1), SG_BODY),
    "timestamp not a number": lambda k, pub, sig, ts: (pub, sig, "timestamp", SG_BODY),
    "signature not base64": lambda k, pub, sig, ts: (pub, "not base64!", ts, SG_BODY),
    "empty signature": lambda k, pub, sig, ts: (pub, "", ts, SG_BODY),
    "signature of another body": lambda k, pub, sig, ts: (
        pub,
        sendgrid_signature(k, ts, b"[]"),
        ts,
        SG_BODY,
    ),
    "key not base64": lambda k, pub, sig, ts: ("%%%", sig, ts, SG_BODY),
    "key not a key": lambda k, pub, sig, ts: (
        base64.b64encode(b"hello").decode(),
        sig,
        ts,
        SG_BODY,
    ),
    "an RSA key": lambda k, pub, sig, ts: (_rsa_public_b64(), sig, ts, SG_BODY),
    "a P-384 key": lambda k, pub, sig, ts: (_p384_public_b64(), sig, ts, SG_BODY),
    "no key configured": lambda k, pub, sig, ts: ("", sig, ts, SG_BODY),
}


@pytest.mark.parametrize("case", sorted(SENDGRID_FORGERIES))
def test_sendgrid_forgeries_are_refused(
    case: str, sendgrid_key: tuple[ec.EllipticCurvePrivateKey, str]
) -> None:
    private, public = sendgrid_key
    timestamp = "1700000000"
    signature = sendgrid_signature(private, timestamp, SG_BODY)
    args = SENDGRID_FORGERIES[case](private, public, signature, timestamp)
    with pytest.raises(BadSignature):
        auth.verify_sendgrid(*args)


# --- Mailgun ----------------------------------------------------------------------------

MG_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


def test_mailgun_signed_delivery_passes() -> None:
    body = mailgun_body(MG_KEY, s.MAILGUN_PERMANENT_FAIL, timestamp=1700000000)
    fields = feedback.mailgun_signature(json.dumps(body))
    auth.verify_mailgun(MG_KEY, fields.timestamp, fields.token, fields.signature)
    auth.verify_mailgun(MG_KEY, fields.timestamp, fields.token, fields.signature.upper())


@pytest.mark.parametrize(
    ("key", "timestamp", "token", "signature"),
    [
        pytest.param("other-key", "1700000000", "t" * 50, None, id="wrong key"),
        pytest.param(MG_KEY, "1700000001", "t" * 50, None, id="wrong timestamp"),
        pytest.param(MG_KEY, "1700000000", "u" * 50, None, id="another token"),
        pytest.param(MG_KEY, "1700000000", "t" * 50, "0" * 64, id="forged signature"),
        pytest.param(MG_KEY, "1700000000", "t" * 50, "", id="empty signature"),
        pytest.param(MG_KEY, "1700000000", "t" * 50, "é" * 64, id="signature not hex"),
        pytest.param("", "1700000000", "t" * 50, None, id="no key configured"),
        pytest.param(MG_KEY, "now", "t" * 50, None, id="timestamp not a number"),
        pytest.param(MG_KEY, "1700000000", "", None, id="empty token"),
    ],
)
def test_mailgun_forgeries_are_refused(
    key: str, timestamp: str, token: str, signature: str | None
) -> None:
    genuine = mailgun_signature(MG_KEY, "1700000000", "t" * 50)
    with pytest.raises(BadSignature):
        auth.verify_mailgun(key, timestamp, token, genuine if signature is None else signature)


def test_mailgun_timestamp_boundary_is_left_to_the_freshness_check() -> None:
    """Mailgun signs `timestamp + token` with no separator: a digit moved from the token
    to the timestamp keeps the signature valid, but makes the timestamp ten times larger,
    centuries ahead. So the service must judge the signed timestamp's age."""
    genuine = mailgun_signature(MG_KEY, "1700000000", "1x")
    auth.verify_mailgun(MG_KEY, "1700000000", "1x", genuine)
    auth.verify_mailgun(MG_KEY, "17000000001", "x", genuine)
    assert feedback.epoch_seconds("17000000001") > 10 * feedback.epoch_seconds("1700000000")


# --- Postmark ---------------------------------------------------------------------------


def test_postmark_credentials_pass() -> None:
    auth.verify_postmark(
        basic_authorization("hook", "s3cret:with:colons"), "hook", "s3cret:with:colons"
    )
    auth.verify_postmark("basic " + basic_authorization("ü", "pässword")[6:], "ü", "pässword")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        basic_authorization("hook", "wrong"),
        basic_authorization("other", "s3cret"),
        basic_authorization("hook", "s3cret") + "x",
        "Bearer " + basic_authorization("hook", "s3cret")[6:],
        "Basic",
        "Basic !!!",
        "Basic " + base64.b64encode(b"hooks3cret").decode(),
        "Basic " + base64.b64encode(b"hook:\xff").decode(),
        basic_authorization("hook", "s3cret "),
    ],
)
def test_postmark_wrong_credentials_are_refused(header: str | None) -> None:
    with pytest.raises(BadSignature):
        auth.verify_postmark(header, "hook", "s3cret")


@pytest.mark.parametrize(("username", "password"), [("", "s3cret"), ("hook", ""), ("", "")])
def test_postmark_without_configured_credentials_refuses_everything(
    username: str, password: str
) -> None:
    with pytest.raises(BadSignature):
        auth.verify_postmark(basic_authorization(username, password), username, password)


# --- SNS: string to sign ----------------------------------------------------------------


def test_sns_string_to_sign_of_the_documented_notification() -> None:
    message = s.SNS_STRING_TO_SIGN_SOURCES["Notification"]
    assert auth.sns_string_to_sign(message) == s.SNS_STRING_TO_SIGN_NOTIFICATION.encode()


def test_sns_string_to_sign_of_the_documented_subscription_confirmation() -> None:
    message = s.SNS_STRING_TO_SIGN_SOURCES["SubscriptionConfirmation"]
    assert auth.sns_string_to_sign(message) == s.SNS_STRING_TO_SIGN_SUBSCRIPTION.encode()


def test_sns_string_to_sign_leaves_out_a_missing_subject() -> None:
    message = dict(s.SNS_STRING_TO_SIGN_SOURCES["Notification"])
    del message["Subject"]
    assert auth.sns_string_to_sign(message) == (
        s.SNS_STRING_TO_SIGN_NOTIFICATION.replace("Subject\nMy subject\n", "").encode()
    )


def test_sns_string_to_sign_of_an_unsubscribe_confirmation() -> None:
    m = s.SNS_UNSUBSCRIBE_CONFIRMATION_EXAMPLE
    names = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
    expected = "".join(f"{name}\n{m[name]}\n" for name in names)
    assert auth.sns_string_to_sign(m) == expected.encode()
    assert b".\nTo cancel this operation" in auth.sns_string_to_sign(m)  # the JSON escape, decoded


@pytest.mark.parametrize(
    "message",
    [
        {**s.SNS_NOTIFICATION_EXAMPLE, "Type": "Other"},
        {k: v for k, v in s.SNS_NOTIFICATION_EXAMPLE.items() if k != "Type"},
        {k: v for k, v in s.SNS_NOTIFICATION_EXAMPLE.items() if k != "Message"},
        {k: v for k, v in s.SNS_SUBSCRIPTION_CONFIRMATION_EXAMPLE.items() if k != "Token"},
        {**s.SNS_NOTIFICATION_EXAMPLE, "Timestamp": 1335920046},
    ],
)
def test_sns_string_to_sign_needs_every_signed_field(message: dict[str, Any]) -> None:
    with pytest.raises(BadSignature):
        auth.sns_string_to_sign(message)


# --- SNS: signatures --------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_sns_notification_signed_passes(signer: SnsSigner, version: str) -> None:
    message = signer.ses_notification(s.SES_BOUNCE_WITH_DSN, subject="Bounce", version=version)
    auth.verify_sns(message, signer.cert_pem)
    auth.verify_sns(signer.ses_notification(s.SES_COMPLAINT_WITH_FEEDBACK), signer.cert_pem)


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("unsubscribe", [False, True])
def test_sns_confirmation_signed_passes(signer: SnsSigner, version: str, unsubscribe: bool) -> None:
    message = signer.confirmation(
        subscribe_url="https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t",
        unsubscribe=unsubscribe,
        version=version,
    )
    auth.verify_sns(message, signer.cert_pem)


def test_sns_documented_examples_signed_anew_pass(signer: SnsSigner) -> None:
    for example in (
        s.SNS_NOTIFICATION_EXAMPLE,
        s.SNS_SUBSCRIPTION_CONFIRMATION_EXAMPLE,
        s.SNS_UNSUBSCRIBE_CONFIRMATION_EXAMPLE,
    ):
        auth.verify_sns(signer.sign(example, version="1"), signer.cert_pem)
        with pytest.raises(BadSignature):  # as published, "EXAMPLE…" is no signature
            auth.verify_sns(example, signer.cert_pem)


SNS_FORGERIES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "forged signature": lambda m: {**m, "Signature": flip(m["Signature"])},
    "changed message": lambda m: {**m, "Message": m["Message"].replace("jane@", "june@")},
    "subject added": lambda m: {**m, "Subject": "Bounce"},
    "changed message id": lambda m: {**m, "MessageId": m["MessageId"] + "0"},
    "changed timestamp": lambda m: {**m, "Timestamp": "2030-01-01T00:00:00.000Z"},
    "changed topic": lambda m: {**m, "TopicArn": m["TopicArn"] + "-other"},
    "changed type": lambda m: {**m, "Type": "SubscriptionConfirmation"},
    "version 1 claimed for a version 2 signature": lambda m: {**m, "SignatureVersion": "1"},
    "unknown version": lambda m: {**m, "SignatureVersion": "3"},
    "no version": lambda m: {k: v for k, v in m.items() if k != "SignatureVersion"},
    "signature not base64": lambda m: {**m, "Signature": "%%%"},
    "no signature": lambda m: {k: v for k, v in m.items() if k != "Signature"},
}


@pytest.mark.parametrize("case", sorted(SNS_FORGERIES))
def test_sns_forgeries_are_refused(signer: SnsSigner, case: str) -> None:
    message = signer.ses_notification(s.SES_BOUNCE_WITH_DSN, version="2")
    with pytest.raises(BadSignature):
        auth.verify_sns(SNS_FORGERIES[case](message), signer.cert_pem)


def test_sns_signature_of_another_key_is_refused(
    signer: SnsSigner, other_signer: SnsSigner
) -> None:
    message = other_signer.ses_notification(s.SES_BOUNCE_WITH_DSN)
    with pytest.raises(BadSignature):
        auth.verify_sns(message, signer.cert_pem)


def test_sns_certificate_that_is_not_rsa_or_not_one_is_refused(signer: SnsSigner) -> None:
    message = signer.ses_notification(s.SES_BOUNCE_WITH_DSN)
    ec_cert = self_signed_certificate(ec.generate_private_key(ec.SECP256R1()))
    for cert in (ec_cert, b"", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"):
        with pytest.raises(BadSignature):
            auth.verify_sns(message, cert)


# --- SNS: certificate URLs --------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        s.SNS_CERT_URL,
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.ap-southeast-2.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-abc.pem",
        "https://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-abc.pem",
    ],
)
def test_sns_certificate_urls_of_aws_pass(url: str) -> None:
    auth.check_cert_url(url, SNS_HOSTS)


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com@evil.com/SimpleNotificationService-abc.pem",
        "https://evil.com@sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://evil.com/sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://evil.com/?https://sns.us-east-1.amazonaws.com/x.pem",
        "https://evil.com#https://sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com\\@evil.com/x.pem",
        "https://evilsns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns-us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.evil.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://x.sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.s3-us-west-2.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.s3.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.s3-website-us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com./SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.co/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com.cn.evil.com/SimpleNotificationService-abc.pem",
        "https://sns.us-eаst-1.amazonaws.com/SimpleNotificationService-abc.pem",  # Cyrillic а
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.txt",
        "https://sns.us-east-1.amazonaws.com/x.pem#fragment",
        "https://sns.us-east-1.amazonaws.com:notaport/x.pem",
        "https://sns.us-east-1.amazonaws.com/x.pem\n",
        " https://sns.us-east-1.amazonaws.com/x.pem",
        "ftp://sns.us-east-1.amazonaws.com/x.pem",
        "//sns.us-east-1.amazonaws.com/x.pem",
        "sns.us-east-1.amazonaws.com/x.pem",
        "http://127.0.0.1:8123/cert.pem",
        "",
    ],
)
def test_sns_lookalike_certificate_urls_are_refused(url: str) -> None:
    with pytest.raises(BadSignature):
        auth.check_cert_url(url, SNS_HOSTS)


def test_a_full_origin_allows_that_origin_only() -> None:
    allowed = [*SNS_HOSTS, "http://127.0.0.1:8123"]
    auth.check_cert_url("http://127.0.0.1:8123/cert.pem", allowed)
    auth.check_cert_url("http://127.0.0.1:8123/sns/SimpleNotificationService-x.pem", allowed)
    for url in (
        "http://127.0.0.1:8124/cert.pem",
        "https://127.0.0.1:8123/cert.pem",
        "http://localhost:8123/cert.pem",
        "http://127.0.0.2:8123/cert.pem",
        "http://127.0.0.1/cert.pem",
        "http://user@127.0.0.1:8123/cert.pem",
    ):
        with pytest.raises(BadSignature):
            auth.check_cert_url(url, allowed)


def test_a_host_pattern_never_allows_plain_http() -> None:
    with pytest.raises(BadSignature):
        auth.check_cert_url("http://127.0.0.1:8123/cert.pem", ["127.0.0.1"])


def test_nothing_allowed_allows_nothing() -> None:
    with pytest.raises(BadSignature):
        auth.check_cert_url(s.SNS_CERT_URL, [])


# --- SNS: fetching certificates ---------------------------------------------------------


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_certificate_is_fetched_once_then_cached(signer: SnsSigner) -> None:
    requests: list[httpx.Request] = []

    def serve(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, content=signer.cert_pem)

    async with _client(serve) as client:
        for _ in range(3):
            assert await auth.fetch_cert(signer.cert_url, SNS_HOSTS, client) == signer.cert_pem
    assert [str(r.url) for r in requests] == [signer.cert_url]


async def test_disallowed_certificate_url_is_never_fetched(signer: SnsSigner) -> None:
    requests: list[httpx.Request] = []

    def serve(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, content=signer.cert_pem)

    async with _client(serve) as client:
        with pytest.raises(BadSignature):
            await auth.fetch_cert("https://evil.example/cert.pem", SNS_HOSTS, client)
    assert requests == []


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(302, headers={"Location": "https://evil.example/cert.pem"}),
        httpx.Response(404),
        httpx.Response(500),
    ],
)
async def test_certificate_not_served_is_unavailable(
    signer: SnsSigner, answer: httpx.Response
) -> None:
    followed: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        followed.append(str(request.url))
        return answer

    async with _client(serve) as client:
        with pytest.raises(CertUnavailable):
            await auth.fetch_cert(signer.cert_url, SNS_HOSTS, client)
    assert followed == [signer.cert_url]  # a redirect is not followed


async def test_certificate_fetch_failure_is_unavailable(signer: SnsSigner) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with _client(fail) as client:
        with pytest.raises(CertUnavailable):
            await auth.fetch_cert(signer.cert_url, SNS_HOSTS, client)


@pytest.mark.parametrize(
    "content",
    [
        b"x" * (auth.MAX_CERT_BYTES + 1),
        b"<html>not a certificate</html>",
        self_signed_certificate(ec.generate_private_key(ec.SECP256R1())),
    ],
    ids=["too-large", "not-pem", "ec-key"],  # fixed: a generated certificate differs per run
)
async def test_what_is_not_an_rsa_certificate_is_refused_and_not_cached(
    signer: SnsSigner, content: bytes
) -> None:
    calls = 0

    def serve(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, content=content)

    async with _client(serve) as client:
        for _ in range(2):
            with pytest.raises(BadSignature) as caught:
                await auth.fetch_cert(signer.cert_url, SNS_HOSTS, client)
            assert not isinstance(caught.value, CertUnavailable)
    assert calls == 2


async def test_a_signed_ses_delivery_end_to_end() -> None:
    """What the service will do: read the envelope, fetch the certificate from the test
    origin, verify, then parse."""
    signer = SnsSigner(cert_url="http://127.0.0.1:8123/sns/cert.pem")
    body = json.dumps(signer.ses_notification(s.SES_BOUNCE_WITHOUT_DSN)).encode()

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=signer.cert_pem)

    envelope = feedback.sns_envelope(body)
    async with _client(serve) as client:
        cert = await auth.fetch_cert(
            envelope.signing_cert_url, [*SNS_HOSTS, "http://127.0.0.1:8123"], client
        )
    auth.verify_sns(envelope.fields, cert)
    events = feedback.parse("ses", body)
    assert [(e.kind, e.email) for e in events] == [
        (feedback.Kind.HARD_BOUNCE, "jane@example.com"),
        (feedback.Kind.HARD_BOUNCE, "richard@example.com"),
    ]
