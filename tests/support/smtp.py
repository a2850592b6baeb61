"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 in a thread of its own.

    with smtp_server(tls="starttls", auth=("mailer", "s3cret")) as server:
        Relay.from_url(server.url()).send(message)
        [received] = server.messages            # envelope + parsed EmailMessage

`tls` is "starttls" (offered and required before MAIL), "implicit" (TLS from the first
byte) or "none". The certificate is made for the test by a throwaway CA (`cryptography`),
for `localhost` and 127.0.0.1; `url()` names that CA with `ca=`, so the client verifies
the server as it would in production instead of turning verification off.

`auth=(user, password)` offers AUTH (PLAIN, LOGIN), over TLS only unless
`auth_require_tls=False` (a server that would take a password in plaintext, to check
that the client does not give it one). `mail_reply`, `rcpt_reply`, `data_reply` make
the server answer that line (e.g. "450 4.2.0 Mailbox busy") instead of accepting; they
can be changed while the server runs.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"
Tls = Literal["starttls", "implicit", "none"]


@dataclass(frozen=True)
class Received:
    """One message the server accepted, as it arrived."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    tls: bool  # the connection was encrypted when the message came
    user: str | None  # the login it came under, if any


@dataclass(frozen=True)
class Certificates:
    ca: Path  # what a client must trust (PEM)
    cert: Path  # the server's certificate (PEM)
    key: Path  # its private key (PEM, unencrypted)


def make_certificates(
    directory: Path, names: tuple[str, ...] = ("localhost", HOST)
) -> Certificates:
    """A CA and a server certificate it signed, for `names` (DNS names or IP addresses),
    valid from an hour ago for a day. Proper CA and leaf extensions, so that strict
    verification (Python 3.13's VERIFY_X509_STRICT) accepts them too."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "commpref test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certificates(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def free_port() -> int:
    """A port nothing listens on right now (aiosmtpd's Controller needs one up front)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class SmtpServer:
    """A running test server: where it is, what it got, how it answers."""

    port: int
    tls: Tls
    certificates: Certificates | None
    auth: tuple[str, str] | None
    mail_reply: str | None = None
    rcpt_reply: str | None = None
    data_reply: str | None = None
    messages: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)  # every AUTH attempt's user name
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    host = HOST

    def url(
        self,
        *,
        user: str | None = None,
        password: str | None = None,
        credentials: bool = True,
        trust: bool = True,
        timeout: float = 5.0,
    ) -> str:
        """A COMMPREF_SMTP_URL for this server: the server's own credentials (unless
        `credentials=False` or others are given), its CA (unless `trust=False`) and a
        short timeout, so that a failing test fails fast."""
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        if credentials and self.auth is not None:
            user = self.auth[0] if user is None else user
            password = self.auth[1] if password is None else password
        userinfo = ""
        if user is not None or password is not None:
            userinfo = f"{quote(user or '', safe='')}:{quote(password or '', safe='')}@"
        params: dict[str, str] = {"timeout": f"{timeout:g}"}
        if self.tls == "none":
            params["tls"] = "none"
        elif trust and self.certificates is not None:
            params["ca"] = str(self.certificates.ca)
        return f"{scheme}://{userinfo}{self.host}:{self.port}?{urlencode(params, safe='/')}"

    def _received(self, received: Received) -> None:
        with self._lock:
            self.messages.append(received)

    def _login(self, user: str) -> None:
        with self._lock:
            self.logins.append(user)


class _Handler:
    """aiosmtpd's handler hooks: the chosen replies, else accept and keep the message."""

    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.owner.mail_reply is not None:
            return self.owner.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.owner.rcpt_reply is not None:
            return self.owner.rcpt_reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.owner.data_reply is not None:
            return self.owner.data_reply
        raw = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        assert server.transport is not None
        self.owner._received(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                message=message,
                raw=raw,
                tls=server.transport.get_extra_info("ssl_object") is not None,
                user=session.auth_data if isinstance(session.auth_data, str) else None,
            )
        )
        return "250 OK"


@contextmanager
def smtp_server(
    *,
    tls: Tls = "none",
    auth: tuple[str, str] | None = None,
    auth_require_tls: bool = True,
    mail_reply: str | None = None,
    rcpt_reply: str | None = None,
    data_reply: str | None = None,
    directory: Path | None = None,
    cert_names: tuple[str, ...] = ("localhost", HOST),
) -> Iterator[SmtpServer]:
    """Run a test SMTP server for the `with` block (see the module's doc). Certificates go
        to `directory` (e.g. pytest's tmp_path) or to a temporary directory removed after; the
    server's certificate is made out to `cert_names`."""
    with ExitStack() as stack:
        certificates = None
        server_context = None
        if tls != "none":
            if directory is None:
                directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            certificates = make_certificates(directory, cert_names)
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_context.load_cert_chain(certificates.cert, certificates.key)
        server = SmtpServer(
            port=free_port(),
            tls=tls,
            certificates=certificates,
            auth=auth,
            mail_reply=mail_reply,
            rcpt_reply=rcpt_reply,
            data_reply=data_reply,
        )
        options: dict[str, Any] = {}
        if tls == "starttls":
            options.update(tls_context=server_context, require_starttls=True)
        if auth is not None:

            def authenticate(
                smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
            ) -> AuthResult:
                assert isinstance(data, LoginPassword)
                user = data.login.decode("utf-8", "replace")
                server._login(user)
                ok = (user, data.password.decode("utf-8", "replace")) == auth
                return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

            # aiosmtpd counts only STARTTLS as TLS: over implicit TLS, AUTH must be let
            # through explicitly (the connection is encrypted from the first byte).
            options.update(
                authenticator=authenticate,
                auth_require_tls=auth_require_tls and tls != "implicit",
            )
        controller = Controller(
            _Handler(server),
            hostname=HOST,
            port=server.port,
            server_hostname="localhost",  # the name in its greeting
            ssl_context=server_context if tls == "implicit" else None,
            **options,
        )
        controller.start()
        stack.callback(controller.stop)
        yield server
