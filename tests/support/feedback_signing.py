"""Signing mailbox-feedback deliveries the way each provider does, with keys made here.

For unit tests of `services.provider_auth` and for end-to-end tests that post to
`/commpref/v1/feedback/{provider}`: an SNS signer with its own RSA key and self-signed
certificate (serve `signer.cert_pem` at `signer.cert_url`), an ECDSA P-256 key for
SendGrid, HMAC for Mailgun, basic credentials for Postmark.

The SNS string to sign is built here independently of `provider_auth.sns_string_to_sign`,
so a mistake there cannot hide by signing with the same mistake.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

JSON = dict[str, Any]

DEFAULT_CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
DEFAULT_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:commpref-feedback"

SENDGRID_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SIGNED["UnsubscribeConfirmation"] = _SIGNED["SubscriptionConfirmation"]


def iso_now(offset_seconds: float = 0) -> str:
    """A time as SNS writes it: UTC, milliseconds, `Z`."""
    moment = datetime.now(UTC) + timedelta(seconds=offset_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def self_signed_certificate(
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    common_name: str = "sns.amazonaws.com",
) -> bytes:
    """A PEM certificate for `private_key`, valid from a day ago to a day ahead."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(private_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


class SnsSigner:
    """Signs SNS messages as SNS does, with a key and certificate of its own."""

    def __init__(self, cert_url: str = DEFAULT_CERT_URL, topic_arn: str = DEFAULT_TOPIC_ARN):
        self.cert_url = cert_url
        self.topic_arn = topic_arn
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.cert_pem = self_signed_certificate(self.private_key)

    @staticmethod
    def string_to_sign(message: Mapping[str, Any]) -> bytes:
        fields = _SIGNED[message["Type"]]
        return "".join(
            f"{name}\n{message[name]}\n"
            for name in fields
            if not (name == "Subject" and message.get("Subject") is None)
        ).encode()

    def sign(self, message: Mapping[str, Any], *, version: str = "2") -> JSON:
        """A copy of `message` with SignatureVersion, SigningCertURL and Signature set."""
        signed = dict(message)
        signed["SignatureVersion"] = version
        signed["SigningCertURL"] = self.cert_url
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.private_key.sign(self.string_to_sign(signed), padding.PKCS1v15(), digest)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed

    def notification(
        self,
        message: str,
        *,
        subject: str | None = None,
        message_id: str | None = None,
        timestamp: str | None = None,
        version: str = "2",
    ) -> JSON:
        note: JSON = {
            "Type": "Notification",
            "MessageId": message_id or str(uuid.uuid4()),
            "TopicArn": self.topic_arn,
            "Message": message,
            "Timestamp": timestamp or iso_now(),
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
            f"&SubscriptionArn={self.topic_arn}:{uuid.uuid4()}",
        }
        if subject is not None:
            note["Subject"] = subject
        return self.sign(note, version=version)

    def ses_notification(self, ses: Mapping[str, Any], **kwargs: Any) -> JSON:
        """An SES notification (a dict such as the documented samples) inside a signed SNS
        `Notification`."""
        return self.notification(json.dumps(ses), **kwargs)

    def confirmation(
        self,
        *,
        subscribe_url: str,
        unsubscribe: bool = False,
        token: str | None = None,
        message_id: str | None = None,
        timestamp: str | None = None,
        version: str = "2",
    ) -> JSON:
        """A signed `SubscriptionConfirmation` (or `UnsubscribeConfirmation`)."""
        kind = "UnsubscribeConfirmation" if unsubscribe else "SubscriptionConfirmation"
        message: JSON = {
            "Type": kind,
            "MessageId": message_id or str(uuid.uuid4()),
            "Token": token or secrets.token_hex(64),
            "TopicArn": self.topic_arn,
            "Message": f"You have chosen to subscribe to the topic {self.topic_arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message.",
            "SubscribeURL": subscribe_url,
            "Timestamp": timestamp or iso_now(),
        }
        return self.sign(message, version=version)


def sendgrid_keypair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key and its public half as SendGrid shows it (base64 DER SubjectPublicKeyInfo)."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_key, base64.b64encode(der).decode()


def sendgrid_signature(private_key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    signature = private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


def sendgrid_headers(
    private_key: ec.EllipticCurvePrivateKey, body: bytes, *, timestamp: int | str | None = None
) -> dict[str, str]:
    """The two headers SendGrid signs an Event Webhook delivery with."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        SENDGRID_SIGNATURE_HEADER: sendgrid_signature(private_key, stamp, body),
        SENDGRID_TIMESTAMP_HEADER: stamp,
    }


def mailgun_signature(signing_key: str, timestamp: str, token: str) -> str:
    return hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def mailgun_body(
    signing_key: str,
    event_data: Mapping[str, Any],
    *,
    timestamp: int | str | None = None,
    token: str | None = None,
) -> JSON:
    """A Mailgun delivery: `event-data` and a `signature` object signed with `signing_key`."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    token = token or secrets.token_hex(25)
    return {
        "signature": {
            "timestamp": stamp,
            "token": token,
            "signature": mailgun_signature(signing_key, stamp, token),
        },
        "event-data": dict(event_data),
    }


def basic_authorization(username: str, password: str) -> str:
    """An `Authorization` header value with HTTP basic credentials (UTF-8)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def postmark_headers(username: str, password: str) -> dict[str, str]:
    """What Postmark sends for a webhook URL with credentials in it."""
    return {"Authorization": basic_authorization(username, password)}
