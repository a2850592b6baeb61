"""Which mail providers' feedback a portal takes, and with which keys: the rules of a
provider's configuration (`services.feedback_providers` stores it; `services.feedback`
checks deliveries with it).

* **ses**: `topicArn`, optional. When set, only SNS messages of that topic are taken; the
  signature (SNS's certificate) proves the message came from SNS, the topic that it came
  from this portal's topic.
* **sendgrid**: `publicKey`, the verification key SendGrid shows for its signed Event
  Webhook (base64 DER; that it is an ECDSA P-256 key is checked by the service, which has
  the cryptography).
* **postmark**: `username` and `password`, the HTTP basic credentials the webhook URL
  carries (Postmark signs nothing). The password is at least `MIN_PASSWORD` characters:
  it is the only thing that stands between the URL and anyone who guesses it.
* **mailgun**: `signingKey`, the HTTP webhook signing key of the Mailgun account.

`password` and `signingKey` are secrets: they are never shown back (`public_view`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from commpref.domain.feedback import Provider
from commpref.errors import ValidationError

MIN_PASSWORD = 16
MAX_VALUE = 4096  # characters of any one field: a SendGrid key is about 124
FIELDS: dict[Provider, tuple[str, ...]] = {
    Provider.SES: ("topicArn",),
    Provider.SENDGRID: ("publicKey",),
    Provider.POSTMARK: ("username", "password"),
    Provider.MAILGUN: ("signingKey",),
}
REQUIRED: dict[Provider, tuple[str, ...]] = {
    Provider.SES: (),
    Provider.SENDGRID: ("publicKey",),
    Provider.POSTMARK: ("username", "password"),
    Provider.MAILGUN: ("signingKey",),
}
SECRET_FIELDS = frozenset({"username", "password", "signingKey"})

# arn:<partition>:sns:<region>:<account>:<topic>; a topic name is 1-256 of [A-Za-z0-9_-],
# with `.fifo` at the end of a FIFO topic.
_TOPIC_ARN = re.compile(
    r"arn:aws(?:-cn|-us-gov)?:sns:[a-z]{2}(?:-[a-z]+)+-\d{1,2}:\d{12}:[A-Za-z0-9_-]{1,256}"
    r"(?:\.fifo)?",
    re.ASCII,
)


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One provider configured for one portal."""

    portal_id: int
    provider: Provider
    config: Mapping[str, str]
    updated_at: int

    def get(self, name: str) -> str:
        return self.config.get(name, "")


def invalid(message: str, field: str = "config") -> ValidationError:
    return ValidationError(message, errors=[{"message": message, "in": field}])


def provider(name: str) -> Provider:
    """The provider named in a path or an option; a 400 naming the known ones."""
    try:
        return Provider(name)
    except ValueError:
        known = ", ".join(p.value for p in Provider)
        message = f"Unknown mail provider {name[:40]!r}: use one of {known}"
        raise invalid(message, "provider") from None


def clean(p: Provider, given: Mapping[str, object]) -> dict[str, str]:
    """The configuration to keep, from what was given: only the provider's fields, each a
    string, trimmed, within bounds; raises a 400 naming the field at fault."""
    # Blank fields of other providers are let through: a form sends every field.
    unknown = sorted(k for k, v in given.items() if k not in FIELDS[p] and v not in (None, ""))
    if unknown:
        allowed = ", ".join(FIELDS[p]) or "none"
        raise invalid(f"Unknown field {unknown[0]!r} for {p.value}: use {allowed}", unknown[0])
    out: dict[str, str] = {}
    for name in FIELDS[p]:
        value = given.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise invalid(f"{name} must be a string", name)
        # A password may hold spaces at its ends on purpose; nothing else does.
        text = value if name == "password" else value.strip()
        if len(text) > MAX_VALUE or not text.isprintable():
            raise invalid(f"{name} is too long or holds control characters", name)
        if text:
            out[name] = text
    for name in REQUIRED[p]:
        if name not in out:
            raise invalid(f"{p.value} needs {name}", name)
    if "topicArn" in out and not _TOPIC_ARN.fullmatch(out["topicArn"]):
        raise invalid(
            "topicArn is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)",
            "topicArn",
        )
    if "username" in out and ":" in out["username"]:
        # RFC 7617: the user-id of basic credentials cannot hold a colon.
        raise invalid("username cannot contain ':'", "username")
    if "password" in out and len(out["password"]) < MIN_PASSWORD:
        raise invalid(f"password must be at least {MIN_PASSWORD} characters", "password")
    return out


def public_view(config: Mapping[str, str]) -> dict[str, str]:
    """What may be shown of a configuration: everything but its secrets."""
    return {k: v for k, v in config.items() if k not in SECRET_FIELDS}
