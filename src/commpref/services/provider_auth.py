"""Is a mailbox-feedback delivery really from its provider? Signatures and credentials.

Nothing in a delivery is trusted before its check here passes, and every failure raises
the one `BadSignature`, whatever went wrong (a forged signature, a malformed header, a
misconfigured key): the caller answers all of them alike and learns nothing to probe with.

* Amazon SNS (`ses`): an RSA signature over a string built from the message's fields
  (`sns_string_to_sign`), SHA1 for SignatureVersion 1 and SHA256 for 2, checked with the
  certificate at `SigningCertURL`. That URL comes from the sender, so only certificates
  from allowed hosts are fetched (`check_cert_url`), over HTTPS, without following
  redirects (`fetch_cert`).
* SendGrid: ECDSA P-256 with SHA256 over the timestamp header followed by the raw body.
* Mailgun: HMAC-SHA256 of the timestamp followed by the token, under the signing key.
* Postmark signs nothing: its webhook URL carries HTTP basic credentials we chose.

Freshness (refusing old or replayed deliveries) and de-duplication are the service's,
from `domain.feedback.payload_times` and the events' ids.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

# Where Amazon SNS serves its signing certificates: `*` stands for one region name.
DEFAULT_SNS_CERT_HOSTS = ("sns.*.amazonaws.com", "sns.*.amazonaws.com.cn")

# A region name: us-east-1, eu-central-1, us-gov-west-1, cn-north-1, … Narrower than "any
# label" on purpose: S3 serves buckets at hosts such as sns.s3-us-west-2.amazonaws.com,
# and whoever owns a bucket named "sns" could otherwise serve a certificate there.
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")

MAX_CERT_BYTES = 16 * 1024  # an SNS certificate is under 2 KiB
CERT_TIMEOUT = 10.0  # seconds to fetch a certificate
MAX_CACHED_CERTS = 64  # SNS rotates its certificate rarely; each URL names one for good

SNS_SIGNED_FIELDS = {
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
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SNS_HASHES: dict[str, type[hashes.SHA1] | type[hashes.SHA256]] = {
    "1": hashes.SHA1,
    "2": hashes.SHA256,
}


class BadSignature(Exception):
    """The delivery's signature or credentials do not check out (a 401)."""


class CertUnavailable(BadSignature):
    """The signing certificate could not be fetched. Still a `BadSignature` (the delivery
    is not verified), but one the sender did not necessarily cause: a service may answer
    it so that SNS retries (a 5xx) rather than drop the notification."""


# --- SendGrid ---------------------------------------------------------------------------


def verify_sendgrid(public_key_b64: str, signature_b64: str, timestamp: str, body: bytes) -> None:
    """`X-Twilio-Email-Event-Webhook-Signature` over `X-Twilio-Email-Event-Webhook-Timestamp`
    followed by the raw body, under the key SendGrid shows (base64 DER SubjectPublicKeyInfo;
    a PEM block is accepted too)."""
    key = _sendgrid_key(public_key_b64)
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise BadSignature("The SendGrid timestamp is not a number")
    signature = _b64(signature_b64, "SendGrid signature")
    try:
        key.verify(signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise BadSignature("The SendGrid signature does not match") from None


def _sendgrid_key(text: str) -> ec.EllipticCurvePublicKey:
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(_b64(text, "SendGrid public key"))
    except (ValueError, TypeError, UnicodeError):
        raise BadSignature("The SendGrid public key is not a public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise BadSignature("The SendGrid public key is not an ECDSA P-256 key")
    return key


# --- Mailgun ----------------------------------------------------------------------------


def verify_mailgun(signing_key: str, timestamp: str, token: str, signature_hex: str) -> None:
    """`signature.signature`: hex HMAC-SHA256 of `timestamp` + `token` under the webhook
    signing key, compared in constant time."""
    if not signing_key:
        raise BadSignature("No Mailgun signing key is configured")
    if not (timestamp.isascii() and timestamp.isdigit()) or not token:
        raise BadSignature("The Mailgun timestamp or token is malformed")
    expected = hmac.new(
        signing_key.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature_hex.lower().encode()):
        raise BadSignature("The Mailgun signature does not match")


# --- Postmark ---------------------------------------------------------------------------


def verify_postmark(authorization_header: str | None, username: str, password: str) -> None:
    """HTTP basic credentials (RFC 7617, UTF-8) equal to the configured pair; both halves
    are compared in constant time, and both always, so timing tells nothing of which
    differed."""
    if not username or not password:
        raise BadSignature("No Postmark credentials are configured")
    scheme, _, encoded = (authorization_header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        raise BadSignature("The request carries no basic credentials")
    try:
        given_user, sep, given_password = (
            _b64(encoded.strip(), "credentials").decode().partition(":")
        )
    except UnicodeDecodeError:
        raise BadSignature("The basic credentials are not UTF-8") from None
    user_ok = hmac.compare_digest(given_user.encode(), username.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    if not (sep and user_ok and password_ok):
        raise BadSignature("The basic credentials do not match")


# --- Amazon SNS -------------------------------------------------------------------------


def sns_string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The bytes SNS signs: for each field its type signs, in that (byte-sorted) order,
    the name, a newline, the value, a newline. `Subject` only when the notification has
    one. Values are taken as decoded from the JSON (escapes already resolved)."""
    sns_type = message.get("Type")
    fields = SNS_SIGNED_FIELDS.get(sns_type) if isinstance(sns_type, str) else None
    if fields is None:
        raise BadSignature("Unknown SNS message Type")
    out: list[str] = []
    for name in fields:
        value = message.get(name)
        if name == "Subject" and value is None:
            continue
        if not isinstance(value, str):
            raise BadSignature(f"The SNS message has no {name}")
        out.append(f"{name}\n{value}\n")
    return "".join(out).encode()


def verify_sns(message: Mapping[str, Any], cert_pem: bytes) -> None:
    """The message's `Signature` under the certificate's RSA key, PKCS #1 v1.5 with SHA1
    (SignatureVersion 1) or SHA256 (2). The certificate must come from `fetch_cert`: its
    trust is that of the allowed host it was fetched from over HTTPS."""
    version = message.get("SignatureVersion")
    hash_type = _SNS_HASHES.get(version) if isinstance(version, str) else None
    if hash_type is None:
        raise BadSignature("Unknown SNS SignatureVersion")
    signature_b64 = message.get("Signature")
    if not isinstance(signature_b64, str):
        raise BadSignature("The SNS message has no Signature")
    signature = _b64(signature_b64, "SNS signature")
    data = sns_string_to_sign(message)
    key = _sns_key(cert_pem)
    try:
        key.verify(signature, data, padding.PKCS1v15(), hash_type())
    except InvalidSignature:
        raise BadSignature("The SNS signature does not match") from None


def _sns_key(cert_pem: bytes) -> rsa.RSAPublicKey:
    try:
        key = x509.load_pem_x509_certificate(cert_pem).public_key()
    except ValueError:
        raise BadSignature("The SNS signing certificate is not a certificate") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadSignature("The SNS signing certificate does not hold an RSA key")
    return key


def check_cert_url(url: str, allowed: Sequence[str]) -> None:
    """Refuse a `SigningCertURL` that is not on an allowed host.

    An allowed entry is either a host pattern, matched over HTTPS on the default port
    (`sns.*.amazonaws.com`, `*` standing for one AWS region name), or a full origin
    (`http://127.0.0.1:8123`), matched exactly: scheme, host and port. Refused whatever
    the entries: user info (`https://sns.us-east-1.amazonaws.com@evil.example/`), a
    fragment, a host that only starts or ends like an allowed one, and a path that does
    not name a `.pem` file.
    """
    _check_sns_url(url, allowed, "The signing certificate URL", pem=True)


def check_subscribe_url(url: str, allowed: Sequence[str]) -> None:
    """Refuse an SNS `SubscribeURL` that is not on an allowed host (the entries of
    `check_cert_url`, with the same refusals but any path): visiting it is a GET the sender
    chose, so it goes nowhere but to SNS."""
    _check_sns_url(url, allowed, "The SubscribeURL", pem=False)


def _check_sns_url(url: str, allowed: Sequence[str], what: str, *, pem: bool) -> None:
    """`check_cert_url`'s refusals; the `.pem` path only when `pem`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadSignature(f"{what} is malformed") from None
    host = parts.hostname or ""
    if (
        not url.isascii()
        or not url.isprintable()
        or " " in url
        or "\\" in url
        or "@" in parts.netloc
        or parts.fragment
        or not host
        or (pem and not parts.path.endswith(".pem"))
    ):
        raise BadSignature(f"{what} is malformed")
    scheme = parts.scheme.lower()
    effective_port = port if port is not None else {"https": 443, "http": 80}.get(scheme)
    for entry in allowed:
        if "://" in entry:
            if _same_origin(entry, scheme, host, effective_port):
                return
        elif scheme == "https" and effective_port == 443 and _host_matches(entry, host):
            return
    raise BadSignature(f"{what} is not on an allowed host")


def _same_origin(entry: str, scheme: str, host: str, port: int | None) -> bool:
    try:
        origin = urlsplit(entry)
        origin_port = origin.port
    except ValueError:
        return False
    origin_scheme = origin.scheme.lower()
    if origin_port is None:
        origin_port = {"https": 443, "http": 80}.get(origin_scheme)
    return (origin_scheme, origin.hostname, origin_port) == (scheme, host, port)


def _host_matches(pattern: str, host: str) -> bool:
    want = pattern.lower().split(".")
    have = host.split(".")
    if len(want) != len(have):
        return False
    for w, h in zip(want, have, strict=True):
        if w == "*":
            if not _REGION.fullmatch(h):
                return False
        elif w != h or not _LABEL.fullmatch(h):
            return False
    return True


# url → PEM bytes; insertion order is age, the oldest entry leaves first.
_cert_cache: OrderedDict[str, bytes] = OrderedDict()


def clear_cert_cache() -> None:
    _cert_cache.clear()


async def fetch_cert(url: str, allowed: Sequence[str], client: httpx.AsyncClient) -> bytes:
    """The PEM certificate at an allowed `SigningCertURL`, from this process's cache or
    fetched once: no redirect followed (it could lead off the allowed hosts), at most
    `MAX_CERT_BYTES`, and only a body that parses as a certificate is kept."""
    check_cert_url(url, allowed)
    cached = _cert_cache.get(url)
    if cached is not None:
        return cached
    try:
        async with client.stream(
            "GET", url, follow_redirects=False, timeout=CERT_TIMEOUT
        ) as response:
            if response.status_code != 200:
                raise CertUnavailable(
                    f"Fetching the signing certificate answered {response.status_code}"
                )
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_CERT_BYTES:
                    raise BadSignature("The signing certificate is too large")
    except httpx.HTTPError as e:
        raise CertUnavailable(
            f"Fetching the signing certificate failed: {type(e).__name__}"
        ) from None
    pem = bytes(body)
    _sns_key(pem)  # refuse what is not an RSA certificate before caching it
    _cert_cache[url] = pem
    while len(_cert_cache) > MAX_CACHED_CERTS:
        _cert_cache.popitem(last=False)
    return pem


# --- shared -----------------------------------------------------------------------------


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeError, ValueError):
        raise BadSignature(f"The {what} is not base64") from None
