"""Handing a message to the SMTP relay named by `COMMPREF_SMTP_URL`, with the standard
library's smtplib.

The URL (see `Relay.from_url`):

    smtp://[user:password@]host[:port]     STARTTLS, required (default port 587)
    smtps://[user:password@]host[:port]    implicit TLS (default port 465)
    smtp://host[:port]?tls=none            no encryption at all, for a local test relay
                                           (default port 25; no credentials allowed)

    query parameters: timeout=SECONDS (per network operation, default 30),
                      ca=/path/to/ca.pem (a CA trusted in addition to the system's),
                      helo=NAME (the name said in EHLO, default the machine's FQDN)

Encryption is the default and never silently dropped: a relay that does not offer
STARTTLS is an error, not a reason to carry on in plaintext (that is exactly what an
attacker stripping STARTTLS would want), and credentials are never sent unencrypted.
Certificates are verified against the system trust store; a test relay's CA is trusted
only when named (`ca=`), never by turning verification off.

`send` blocks (smtplib); the outbox job runs it with `asyncio.to_thread`. It raises a
`MailError` that says whether trying again later can help:

    TemporaryFailure   keep the message and retry later
        - the relay cannot be reached: connection refused, unknown host, reset, timeout
        - TLS fails: handshake, untrusted certificate, wrong host name; no STARTTLS
        - anything refused before the transaction, whatever the code: greeting, EHLO,
          STARTTLS, AUTH (535: wrong user or password; AUTH not offered)
        - a 4xx reply to MAIL FROM, RCPT TO or DATA (421, 450, 451, 452...)
    PermanentFailure   give the message up
        - a 5xx reply to MAIL FROM, RCPT TO or DATA (550 unknown recipient, 553, 554...)
        - the relay took the message for some recipients but not all (a retry would
          deliver it twice to the others)
        - the message cannot be sent at all: no single From address, no recipient, or
          it needs SMTPUTF8 and the relay lacks it

A refused login (535) and anything else that goes wrong before the transaction starts
is temporary whatever its code: it says nothing about the message, only that the
operator's configuration (password, certificate, host) needs fixing, and the
confirmations waiting in the outbox should go out once it is fixed rather than be
thrown away. Within the transaction the reply code decides (RFC 5321: 4xx transient,
5xx permanent).
"""

from __future__ import annotations

import math
import re
import smtplib
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from commpref.mail.relay_errors import (
    CONTROL,
    MailError,
    PermanentFailure,
    TemporaryFailure,
    one_line,
    reason,
)

__all__ = ["MailError", "PermanentFailure", "Relay", "Security", "TemporaryFailure"]

DEFAULT_TIMEOUT = 30.0
_REDACTED = "***"


class Security(StrEnum):
    """How the connection to the relay is protected."""

    STARTTLS = "starttls"  # smtp://: plain connection, upgraded before anything is sent
    TLS = "tls"  # smtps://: TLS from the first byte
    NONE = "none"  # smtp://...?tls=none: a local test relay only

    @property
    def default_port(self) -> int:
        """The port of RFC 6409 (submission), RFC 8314 (submissions) or plain SMTP."""
        return {Security.STARTTLS: 587, Security.TLS: 465, Security.NONE: 25}[self]


@dataclass(frozen=True, slots=True, repr=False)
class Relay:
    """An SMTP relay to hand messages to.

    Built from `COMMPREF_SMTP_URL` with `Relay.from_url`, or directly (tests, tools).
    `port=0` means the security's standard port. The password never appears in `repr`,
    `str` or an error message: `redacted()` is the URL to log.
    """

    host: str
    port: int = 0
    security: Security = Security.STARTTLS
    username: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    ca_file: Path | None = None
    helo: str | None = None

    def __post_init__(self) -> None:
        # Every mistake is reported when the relay is configured, at start-up, rather
        # than by the first confirmation that fails to go out.
        if not self.host or CONTROL.search(self.host) or " " in self.host:
            raise ValueError("the SMTP relay needs a host name")
        if self.port == 0:
            object.__setattr__(self, "port", self.security.default_port)
        if not 0 < self.port < 65536:
            raise ValueError(f"the SMTP port must be between 1 and 65535, not {self.port}")
        credentials = (self.username, self.password)
        if credentials.count(None) == 1 or "" in credentials:
            raise ValueError("SMTP credentials need both a user name and a password")
        for secret in credentials:
            if secret is not None and CONTROL.search(secret):
                raise ValueError("SMTP credentials may not contain control characters")
        if self.username is not None and self.security is Security.NONE:
            raise ValueError(
                "refusing to send SMTP credentials over an unencrypted connection "
                "(use smtp:// with STARTTLS or smtps://, not tls=none)"
            )
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ValueError("the SMTP timeout must be a positive number of seconds")
        if self.helo is not None and (not self.helo or re.search(r"[\s\x00-\x1f]", self.helo)):
            raise ValueError("the EHLO name must be a host name")
        if self.ca_file is not None:
            if self.security is Security.NONE:
                raise ValueError("a CA file means nothing without TLS (tls=none)")
            self.tls_context()  # reads the CA file now: a wrong path fails at start-up

    @classmethod
    def from_url(cls, url: str) -> Relay:
        """Parse `COMMPREF_SMTP_URL`: `smtp://` (STARTTLS required, or `?tls=none`) or
        `smtps://` (implicit TLS), credentials percent-encoded (`p%40ss` for `p@ss`).
        Unknown query parameters are refused, so a typo never silently weakens security.
        Error messages never quote the URL, which holds the password."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port or 0
            query = parse_qsl(parts.query, keep_blank_values=True)
        except ValueError:
            raise ValueError("COMMPREF_SMTP_URL is not a valid URL") from None
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps"):
            raise ValueError("COMMPREF_SMTP_URL must start with smtp:// or smtps://")
        if parts.path not in ("", "/") or parts.fragment:
            raise ValueError("COMMPREF_SMTP_URL takes no path: smtp://user:password@host:port")
        params: dict[str, str] = {}
        for key, value in query:
            if key not in ("tls", "timeout", "ca", "helo"):
                raise ValueError(
                    f"COMMPREF_SMTP_URL: unknown parameter {key!r} (known: tls, timeout, ca, helo)"
                )
            if key in params:
                raise ValueError(f"COMMPREF_SMTP_URL: {key!r} is given twice")
            params[key] = value
        security = Security.TLS if scheme == "smtps" else Security.STARTTLS
        if "tls" in params:
            if scheme == "smtps" or params["tls"] not in ("starttls", "none"):
                raise ValueError(
                    "COMMPREF_SMTP_URL: tls= is 'starttls' (the default) or 'none', "
                    "and only for smtp:// (smtps:// is always TLS)"
                )
            security = Security(params["tls"])
        timeout = DEFAULT_TIMEOUT
        if "timeout" in params:
            try:
                timeout = float(params["timeout"])
            except ValueError:
                raise ValueError("COMMPREF_SMTP_URL: timeout= is a number of seconds") from None
        has_credentials = parts.username is not None or parts.password is not None
        return cls(
            host=parts.hostname or "",
            port=port,
            security=security,
            username=unquote(parts.username or "") if has_credentials else None,
            password=unquote(parts.password or "") if has_credentials else None,
            timeout=timeout,
            ca_file=Path(params["ca"]) if params.get("ca") else None,
            helo=params.get("helo") or None,
        )

    def redacted(self) -> str:
        """The relay as a URL fit for logs: the password replaced by `***`."""
        scheme = "smtps" if self.security is Security.TLS else "smtp"
        user = f"{quote(self.username, safe='')}:{_REDACTED}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        params: dict[str, str] = {}
        if self.security is Security.NONE:
            params["tls"] = "none"
        if self.timeout != DEFAULT_TIMEOUT:
            params["timeout"] = f"{self.timeout:g}"
        if self.ca_file is not None:
            params["ca"] = str(self.ca_file)
        if self.helo is not None:
            params["helo"] = self.helo
        query = f"?{urlencode(params, safe='/')}" if params else ""
        return f"{scheme}://{user}{host}:{self.port}{query}"

    def __repr__(self) -> str:
        return f"Relay({self.redacted()!r})"

    def __str__(self) -> str:
        return self.redacted()

    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name verification with the system's trust store, plus the
        `ca_file` when one is named. Built for each connection, so a renewed CA bundle is
        picked up without a restart."""
        context = ssl.create_default_context()
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.ca_file is not None:
            try:
                context.load_verify_locations(cafile=str(self.ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(
                    f"cannot read the SMTP CA file {self.ca_file}: {reason(exc)}"
                ) from None
        return context

    def send(self, message: EmailMessage) -> None:
        """Hand `message` to the relay: EHLO, STARTTLS, AUTH (with credentials), then
        MAIL FROM the From address, RCPT TO every To/Cc/Bcc address (Bcc is not sent).

        Blocking; raises `TemporaryFailure` or `PermanentFailure` (see the module's doc).
        Once the relay has accepted the message, nothing after it (QUIT) raises: a retry
        then would deliver it twice.
        """
        sender, recipients = _envelope(message)
        client: smtplib.SMTP | None = None
        try:
            with self._classified(transaction=False):
                client = self._connect()
                self._secure_and_login(client)
            with self._classified(transaction=True):
                refused = client.send_message(message, from_addr=sender, to_addrs=recipients)
            if refused:
                # Some recipients took it: retrying would send it to them again.
                code, reply = next(iter(refused.values()))
                raise PermanentFailure(
                    code,
                    f"the relay accepted the message for some recipients only "
                    f"({len(refused)} refused): {self._text(reply)}",
                )
            with suppress(smtplib.SMTPException, OSError):
                client.quit()
        finally:
            if client is not None:
                client.close()

    def _connect(self) -> smtplib.SMTP:
        """Connect and read the greeting. The host goes to the constructor, not to
        `connect()`: smtplib verifies the certificate against the host it was constructed
        with (STARTTLS and implicit TLS alike)."""
        if self.security is Security.TLS:
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.helo,
                timeout=self.timeout,
                context=self.tls_context(),
            )
        return smtplib.SMTP(self.host, self.port, local_hostname=self.helo, timeout=self.timeout)

    def _secure_and_login(self, client: smtplib.SMTP) -> None:
        """EHLO, STARTTLS and AUTH; every failure here is temporary."""
        client.ehlo_or_helo_if_needed()
        if self.security is Security.STARTTLS:
            if not client.has_extn("starttls"):
                raise TemporaryFailure(
                    None,
                    f"{self._where} does not offer STARTTLS: refusing to go on unencrypted "
                    "(use smtps:// for implicit TLS, or tls=none for a local test relay)",
                )
            client.starttls(context=self.tls_context())
            client.ehlo_or_helo_if_needed()  # what it offered before TLS is void (RFC 3207)
        if self.username is not None and self.password is not None:
            if not isinstance(client.sock, ssl.SSLSocket):  # __post_init__ rules it out
                raise TemporaryFailure(None, "refusing to log in over an unencrypted connection")
            try:
                client.login(self.username, self.password)
            except smtplib.SMTPAuthenticationError as exc:
                raise TemporaryFailure(
                    exc.smtp_code,
                    f"{self._where} refused the login of user {self.username!r} "
                    f"(check the SMTP user and password): {self._text(exc.smtp_error)}",
                ) from None
            except smtplib.SMTPNotSupportedError:
                raise TemporaryFailure(
                    None, f"{self._where} offers no AUTH: remove the credentials or fix the relay"
                ) from None

    @contextmanager
    def _classified(self, *, transaction: bool) -> Iterator[None]:
        """Turn what smtplib, ssl and socket raise into a `MailError`. In the transaction
        (MAIL, RCPT, DATA) a 5xx reply is permanent; before it, everything is temporary.
        `from None`: the original exceptions' text may quote the relay's replies in full."""
        try:
            yield
        except MailError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            replies = list(exc.recipients.values())
            temporary = [(c, r) for c, r in replies if not 500 <= c < 600]
            code, reply = (temporary or replies or [(0, b"no recipient")])[0]
            kind = TemporaryFailure if temporary or not replies else PermanentFailure
            raise kind(
                code or None, f"{self._where}: recipient refused: {self._text(reply)}"
            ) from None
        except smtplib.SMTPResponseException as exc:
            # SMTPSenderRefused (MAIL), SMTPDataError (DATA), SMTPConnectError,
            # SMTPHeloError and a refused STARTTLS are all SMTPResponseExceptions.
            stage = {
                smtplib.SMTPSenderRefused: "sender refused",
                smtplib.SMTPDataError: "message refused",
                smtplib.SMTPHeloError: "EHLO refused",
                smtplib.SMTPConnectError: "connection refused",
            }.get(type(exc), "refused")
            code = exc.smtp_code
            kind = PermanentFailure if transaction and 500 <= code < 600 else TemporaryFailure
            raise kind(code, f"{self._where}: {stage}: {self._text(exc.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError as exc:
            # In the transaction: the message needs SMTPUTF8, which this relay lacks.
            kind = PermanentFailure if transaction else TemporaryFailure
            raise kind(None, f"{self._where}: {reason(exc)}") from None
        except smtplib.SMTPServerDisconnected as exc:
            if isinstance(exc.__context__, TimeoutError):  # smtplib's word for a timeout
                raise self._timed_out() from None
            raise TemporaryFailure(
                None, f"{self._where} closed the connection: {reason(exc)}"
            ) from None
        except smtplib.SMTPException as exc:
            raise TemporaryFailure(None, f"{self._where}: {reason(exc)}") from None
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise TemporaryFailure(None, f"TLS with {self._where} failed: {reason(exc)}") from None
        except TimeoutError:
            raise self._timed_out() from None
        except OSError as exc:  # refused, unreachable, unknown host, reset...
            raise TemporaryFailure(None, f"cannot talk to {self._where}: {reason(exc)}") from None

    def _timed_out(self) -> TemporaryFailure:
        return TemporaryFailure(None, f"{self._where} did not answer within {self.timeout:g} s")

    @property
    def _where(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"the SMTP relay {host}:{self.port}"

    def _text(self, reply: bytes | str) -> str:
        """A server's reply, made safe to log (one line, short, the password scrubbed)."""
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        if self.password:
            text = text.replace(self.password, _REDACTED)
        return one_line(text)


def _envelope(message: EmailMessage) -> tuple[str, list[str]]:
    """The envelope sender (the From address, which is where bounces should go) and the
    recipients. A message without them can never be sent: that is permanent."""
    senders = _addresses(message.get_all("From", []))
    if len(senders) != 1:
        raise PermanentFailure(None, "the message needs exactly one From address")
    recipients = _addresses(
        [*message.get_all("To", []), *message.get_all("Cc", []), *message.get_all("Bcc", [])]
    )
    if not recipients:
        raise PermanentFailure(None, "the message has no recipient")
    return senders[0], recipients


def _addresses(values: Iterable[str]) -> list[str]:
    return [address for _, address in getaddresses([str(v) for v in values]) if "@" in address]
