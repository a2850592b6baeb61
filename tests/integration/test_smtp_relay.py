"""mail.relay against a real SMTP server (tests/support/smtp.py): COMMPREF_SMTP_URL, the
encryption it insists on, and how each failure is classified for the outbox."""

from __future__ import annotations

import pickle
import socket
import time
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from commpref.mail import compose
from commpref.mail.relay import (
    MailError,
    PermanentFailure,
    Relay,
    Security,
    TemporaryFailure,
)
from tests.support.smtp import HOST, SmtpServer, free_port, smtp_server

USER, PASSWORD = "mailer@acme.test", "s3cr:t@/pw%"  # characters that need percent-encoding
TO = "bob@example.com"
SENDER = "news@acme.test"
CONFIRM_URL = "https://prefs.acme.test/confirm?token=abc.def&lang=de"
DATE_MS = 1_773_415_859_000


@pytest.fixture
def message() -> EmailMessage:
    return compose.confirmation(
        to=TO,
        sender=SENDER,
        sender_name="Acme Newsletters",
        brand="Acme",
        types=[("Newsletter", "Monthly news"), ("Offers", "")],
        confirm_url=CONFIRM_URL,
        language="de",
        expires_at_ms=DATE_MS + 86_400_000,
        message_id="<retry-safe.1@acme.test>",
        date_ms=DATE_MS,
    )


def only_message(server: SmtpServer) -> EmailMessage:
    [received] = server.messages
    assert received.mail_from == SENDER
    assert received.rcpt_tos == [TO]
    return received.message


# --- delivery ----------------------------------------------------------------------------


def test_delivers_over_starttls_with_auth(tmp_path: Path, message: EmailMessage) -> None:
    with smtp_server(tls="starttls", auth=(USER, PASSWORD), directory=tmp_path) as server:
        relay = Relay.from_url(server.url())
        assert relay.security is Security.STARTTLS
        assert (relay.username, relay.password) == (USER, PASSWORD)  # percent-decoded
        relay.send(message)
        [received] = server.messages
        assert received.tls and received.user == USER
        assert server.logins == [USER]
        got = only_message(server)

    # What arrived is the composed message, intact.
    assert got.get_content_type() == "multipart/alternative"
    for header in ("Message-ID", "Date", "Subject", "From", "To", "Auto-Submitted"):
        assert got[header] == message[header], header
    assert got["Message-ID"] == "<retry-safe.1@acme.test>"
    assert got["Auto-Submitted"] == "auto-generated"
    assert got["From"].addresses[0].display_name == "Acme Newsletters"
    assert got["From"].addresses[0].addr_spec == SENDER
    assert got["To"].addresses[0].addr_spec == TO
    assert "Acme" in got["Subject"]
    assert parsedate_to_datetime(got["Date"]).timestamp() == DATE_MS / 1000
    assert "List-Unsubscribe" not in got
    parts = [part for part in got.iter_parts() if isinstance(part, EmailMessage)]
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    text, html = (p.get_content() for p in parts)
    assert "Acme" in text and "Newsletter" in text
    assert text.count(CONFIRM_URL) == 1
    assert html.count(CONFIRM_URL.replace("&", "&amp;")) == 1
    assert '<html lang="de">' in html


def test_delivers_over_implicit_tls(tmp_path: Path, message: EmailMessage) -> None:
    with smtp_server(tls="implicit", auth=(USER, PASSWORD), directory=tmp_path) as server:
        relay = Relay.from_url(server.url())
        assert relay.security is Security.TLS
        relay.send(message)
        [received] = server.messages
        assert received.tls and received.user == USER
        assert only_message(server)["Message-ID"] == message["Message-ID"]


def test_plain_smtp_is_used_only_when_the_url_says_tls_none(message: EmailMessage) -> None:
    with smtp_server(tls="none") as server:
        # smtp:// means STARTTLS, required: a relay without it gets nothing.
        required = Relay.from_url(server.url().replace("tls=none", "tls=starttls"))
        with pytest.raises(TemporaryFailure, match="does not offer STARTTLS") as caught:
            required.send(message)
        assert caught.value.code is None
        assert server.messages == []

        Relay.from_url(server.url()).send(message)  # ?tls=none: the local test relay
        [received] = server.messages
        assert not received.tls
        assert only_message(server)["Message-ID"] == message["Message-ID"]


def test_credentials_are_never_sent_unencrypted(message: EmailMessage) -> None:
    with pytest.raises(ValueError, match="unencrypted"):
        Relay.from_url(f"smtp://{USER}:pw@{HOST}:2525?tls=none")
    with pytest.raises(ValueError, match="unencrypted"):
        Relay(HOST, security=Security.NONE, username=USER, password="pw")

    # A relay offering AUTH but no STARTTLS (as after a STARTTLS-stripping attack):
    # the client stops before saying anything about the password.
    with smtp_server(tls="none", auth=(USER, PASSWORD), auth_require_tls=False) as server:
        relay = Relay.from_url(server.url().replace("&tls=none", ""))
        assert relay.security is Security.STARTTLS
        with pytest.raises(TemporaryFailure, match="STARTTLS"):
            relay.send(message)
        assert server.logins == []
        assert server.messages == []


def test_a_refused_login_is_temporary_and_its_error_tells_no_secret(
    tmp_path: Path, message: EmailMessage
) -> None:
    wrong = "not-the-password-4711"
    with smtp_server(tls="starttls", auth=(USER, PASSWORD), directory=tmp_path) as server:
        relay = Relay.from_url(server.url(password=wrong))
        with pytest.raises(TemporaryFailure) as caught:
            relay.send(message)
        assert set(server.logins) == {USER}  # smtplib tries PLAIN, then LOGIN
        assert server.messages == []
    error = caught.value
    assert error.code == 535
    assert "password" in error.message  # it says what to check...
    for text in (str(error), repr(error), error.message, str(relay), repr(relay)):
        assert wrong not in text  # ...and not what it was
        assert "\n" not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    copy = pickle.loads(pickle.dumps(error))  # it can cross a process or a queue
    assert (type(copy), copy.code, copy.message) == (TemporaryFailure, 535, error.message)


def test_an_untrusted_certificate_is_a_temporary_tls_failure(
    tmp_path: Path, message: EmailMessage
) -> None:
    with smtp_server(tls="starttls", directory=tmp_path) as server:
        with pytest.raises(TemporaryFailure, match="certificate verify failed"):
            Relay.from_url(server.url(trust=False)).send(message)  # system CAs only
        assert server.messages == []
    with smtp_server(tls="implicit", directory=tmp_path) as server:
        with pytest.raises(TemporaryFailure, match="certificate verify failed"):
            Relay.from_url(server.url(trust=False)).send(message)
        assert server.messages == []


def test_the_certificate_must_name_the_relay(tmp_path: Path, message: EmailMessage) -> None:
    with smtp_server(tls="starttls", directory=tmp_path, cert_names=("mail.other.test",)) as s:
        with pytest.raises(TemporaryFailure, match="mismatch"):
            Relay.from_url(s.url()).send(message)  # the CA is trusted, the name is wrong
        assert s.messages == []


@pytest.mark.parametrize(
    ("replies", "expected", "code"),
    [
        ({"rcpt_reply": "450 4.2.1 Mailbox busy, try later"}, TemporaryFailure, 450),
        ({"rcpt_reply": "550 5.1.1 No such user here"}, PermanentFailure, 550),
        ({"mail_reply": "421 4.3.2 Shutting down"}, TemporaryFailure, 421),
        ({"mail_reply": "553 5.7.1 Sender not allowed"}, PermanentFailure, 553),
        ({"data_reply": "451 4.3.0 Queue full"}, TemporaryFailure, 451),
        ({"data_reply": "554 5.7.1 Rejected as spam"}, PermanentFailure, 554),
    ],
)
def test_reply_codes_in_the_transaction_are_classified(
    message: EmailMessage, replies: dict[str, str], expected: type[MailError], code: int
) -> None:
    with smtp_server(tls="none", **replies) as server:
        with pytest.raises(expected) as caught:
            Relay.from_url(server.url()).send(message)
        assert server.messages == []
    assert type(caught.value) is expected
    assert caught.value.code == code
    reply_text = next(iter(replies.values()))[4:]
    assert reply_text in str(caught.value)


def test_a_refused_connection_is_temporary(message: EmailMessage) -> None:
    relay = Relay.from_url(f"smtp://{HOST}:{free_port()}?tls=none&timeout=2")
    with pytest.raises(TemporaryFailure) as caught:
        relay.send(message)
    assert caught.value.code is None
    assert "refused" in caught.value.message.lower()


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
def test_a_silent_relay_times_out_temporarily(message: EmailMessage, scheme: str) -> None:
    with socket.socket() as listener:  # accepts connections (the backlog) but never speaks
        listener.bind((HOST, 0))
        listener.listen()
        port = listener.getsockname()[1]
        relay = Relay.from_url(f"{scheme}://{HOST}:{port}?timeout=0.3")
        started = time.monotonic()
        with pytest.raises(TemporaryFailure, match=r"did not answer within 0\.3 s"):
            relay.send(message)
        assert time.monotonic() - started < 3


def test_a_message_that_cannot_be_sent_is_permanent(message: EmailMessage) -> None:
    del message["From"]
    with smtp_server(tls="none") as server:
        with pytest.raises(PermanentFailure, match="From"):
            Relay.from_url(server.url()).send(message)
        assert server.messages == []


# --- COMMPREF_SMTP_URL ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "security", "port"),
    [
        ("smtp://mail.example.com", Security.STARTTLS, 587),
        ("smtp://mail.example.com?tls=starttls", Security.STARTTLS, 587),
        ("smtp://mail.example.com:2587", Security.STARTTLS, 2587),
        ("smtps://mail.example.com", Security.TLS, 465),
        ("smtp://localhost?tls=none", Security.NONE, 25),
        ("SMTP://localhost:1025/?tls=none", Security.NONE, 1025),
    ],
)
def test_url_schemes_and_default_ports(url: str, security: Security, port: int) -> None:
    relay = Relay.from_url(url)
    assert (relay.security, relay.port, relay.timeout) == (security, port, 30.0)
    assert relay.username is None and relay.password is None and relay.ca_file is None
    assert Relay.from_url(relay.redacted()) == relay  # without credentials, it round-trips


def test_url_credentials_options_and_redaction(tmp_path: Path) -> None:
    with smtp_server(tls="starttls", directory=tmp_path) as server:
        assert server.certificates is not None
        ca = server.certificates.ca
    relay = Relay.from_url(
        f"smtp://user%40acme.test:p%40ss%3Aw%2Frd@[::1]:2525?timeout=2.5&ca={ca}&helo=app.acme.test"
    )
    assert (relay.host, relay.port) == ("::1", 2525)
    assert (relay.username, relay.password) == ("user@acme.test", "p@ss:w/rd")
    assert (relay.timeout, relay.ca_file, relay.helo) == (2.5, ca, "app.acme.test")
    for text in (relay.redacted(), str(relay), repr(relay)):
        assert "p@ss" not in text and "p%40ss" not in text
        assert "***" in text
    assert relay.redacted() == (
        f"smtp://user%40acme.test:***@[::1]:2525?timeout=2.5&ca={ca}&helo=app.acme.test"
    )


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://mail.example.com", "smtp:// or smtps://"),
        ("mail.example.com:587", "smtp:// or smtps://"),
        ("smtp://", "host"),
        ("smtp://mail.example.com/inbox", "no path"),
        ("smtp://mail.example.com:99999", "valid URL"),
        ("smtp://mail.example.com?starttls=false", "unknown parameter 'starttls'"),
        ("smtp://mail.example.com?tls=off", "tls="),
        ("smtps://mail.example.com?tls=none", "tls="),
        ("smtp://mail.example.com?timeout=soon", "timeout"),
        ("smtp://mail.example.com?timeout=0", "timeout"),
        ("smtp://mail.example.com?timeout=1&timeout=2", "twice"),
        ("smtp://user@mail.example.com", "user name and a password"),
        ("smtp://:pw@mail.example.com", "user name and a password"),
        ("smtp://user:pw@mail.example.com?tls=none", "unencrypted"),
        ("smtp://mail.example.com?ca=/nonexistent/ca.pem", "CA file"),
        ("smtp://localhost?tls=none&ca=/etc/hostname", "without TLS"),
    ],
)
def test_bad_urls_are_refused_at_configuration(url: str, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("?", r"\?")) as caught:
        Relay.from_url(url)
    assert "pw" not in str(caught.value)
