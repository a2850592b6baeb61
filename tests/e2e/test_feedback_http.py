"""Mailbox feedback over HTTP (`POST /commpref/v1/feedback/{provider}`, docs/feedback.md):
each provider's documented sample events, signed with keys made here, against a real
server on each backend. SNS's certificate and SubscribeURL are served by this test on
127.0.0.1, an origin the server is told to allow (`COMMPREF_SNS_CERT_HOSTS`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.support import feedback_samples as samples
from tests.support import feedback_signing as signing
from tests.support.server import Portal, Server, started_server

JSON = dict[str, Any]
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
POSTMARK_USER, POSTMARK_PASSWORD = "postmark", "a long enough password"


class Origin:
    """The test's own HTTP server: SNS's certificate and SubscribeURL."""

    def __init__(self, cert_pem: bytes) -> None:
        self.confirmed: list[str] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/cert.pem":
                    body = cert_pem
                elif self.path.startswith("/confirm"):
                    origin.confirmed.append(self.path)
                    body = b"<ConfirmSubscriptionResponse/>"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def signer() -> signing.SnsSigner:
    return signing.SnsSigner()


@pytest.fixture(scope="module")
def origin(signer: signing.SnsSigner) -> Iterator[Origin]:
    o = Origin(signer.cert_pem)
    signer.cert_url = f"{o.url}/cert.pem"
    yield o
    o.httpd.shutdown()
    o.httpd.server_close()


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, origin: Origin
) -> Iterator[Server]:
    env = {"COMMPREF_SNS_CERT_HOSTS": f"sns.*.amazonaws.com,{origin.url}"}
    with started_server(request.param, tmp_path_factory.mktemp("server"), env) as srv:
        yield srv


@pytest.fixture(scope="module")
def sendgrid_key() -> tuple[Any, str]:
    return signing.sendgrid_keypair()


@pytest.fixture
def configured(server: Server, portal: Portal, sendgrid_key: tuple[Any, str]) -> Portal:
    """The portal takes feedback from every provider."""
    configs: dict[str, JSON] = {
        "ses": {"topicArn": signing.DEFAULT_TOPIC_ARN},
        "sendgrid": {"publicKey": sendgrid_key[1]},
        "postmark": {"username": POSTMARK_USER, "password": POSTMARK_PASSWORD},
        "mailgun": {"signingKey": MAILGUN_KEY},
    }
    with server.client(portal.token) as http:
        for provider, config in configs.items():
            r = http.put(f"/commpref/v1/feedback-providers/{provider}", json=config)
            assert r.status_code == 200, r.text
    return portal


def post(
    server: Server,
    portal: Portal | int,
    provider: str,
    body: bytes | JSON | list[Any],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    portal_id = portal if isinstance(portal, int) else portal.id
    # SNS posts text/plain; the others JSON
    media = "text/plain; charset=UTF-8" if provider == "ses" else "application/json"
    with server.client() as http:
        return http.post(
            f"/commpref/v1/feedback/{provider}",
            params={"portal": portal_id},
            content=raw,
            headers={"Content-Type": media, **(headers or {})},
        )


def history(server: Server, portal: Portal, email: str) -> list[JSON]:
    with server.client(portal.token) as http:
        r = http.get(f"/commpref/v1/subscribers/{email}/history")
    assert r.status_code == 200, r.text
    results: list[JSON] = r.json()["results"]
    return results


def iso_now(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def sendgrid(key: Any, events: list[JSON], **kw: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(events).encode()
    return body, signing.sendgrid_headers(key, body, **kw)


# --- SES over SNS -------------------------------------------------------------------------


def test_ses_complaint_opts_out_of_all_once(
    server: Server, configured: Portal, signer: signing.SnsSigner
) -> None:
    message = signer.ses_notification(samples.SES_COMPLAINT_WITH_FEEDBACK)
    r = post(server, configured, "ses", message)
    assert r.status_code == 200, r.text
    assert r.json() == {"applied": 1, "duplicates": 0, "ignored": 0}
    assert r.headers["x-request-id"]  # the pipeline's correlation id
    events = history(server, configured, "richard@example.com")
    assert events and all(e["source"] == "Spam complaint" for e in events)
    assert {e["actor"] for e in events} == {"feedback:ses"}
    assert any(e["scope"] == "WIDE" and e["newStatus"] == "UNSUBSCRIBED" for e in events)
    with server.client(configured.token) as http:
        v4 = http.get(
            "/communication-preferences/v4/statuses/richard@example.com",
            params={"channel": "EMAIL"},
        ).json()
    assert {s["status"] for s in v4["results"]} == {"UNSUBSCRIBED"}

    again = post(server, configured, "ses", message)  # SNS retries the same message
    assert again.json() == {"applied": 0, "duplicates": 1, "ignored": 0}
    assert len(history(server, configured, "richard@example.com")) == len(events)


def test_ses_hard_bounce_marks_the_address(
    server: Server, configured: Portal, signer: signing.SnsSigner
) -> None:
    r = post(server, configured, "ses", signer.ses_notification(samples.SES_BOUNCE_WITHOUT_DSN))
    assert r.json() == {"applied": 2, "duplicates": 0, "ignored": 0}
    for email in ("jane@example.com", "richard@example.com"):
        (event,) = history(server, configured, email)
        assert (event["scope"], event["source"], event["actor"]) == (
            "BOUNCE",
            "Hard bounce",
            "feedback:ses",
        )
        assert event["oldStatus"] == event["newStatus"] == "NOT_SPECIFIED"
    with server.client(configured.token) as http:
        export = http.get("/commpref/v1/exports", params={"format": "jsonl"}).text
    bounced = [json.loads(line) for line in export.splitlines() if "BOUNCED" in line]
    assert {b["email"] for b in bounced} >= {"jane@example.com", "richard@example.com"}
    assert all(b["source"] == "Hard bounce (ses)" for b in bounced)


def test_ses_delivery_is_ignored_and_other_topics_refused(
    server: Server, configured: Portal, signer: signing.SnsSigner
) -> None:
    r = post(server, configured, "ses", signer.ses_notification(samples.SES_DELIVERY))
    assert r.json() == {"applied": 0, "duplicates": 0, "ignored": 1}
    other = signing.SnsSigner(cert_url=signer.cert_url, topic_arn=signing.DEFAULT_TOPIC_ARN + "x")
    other.private_key, other.cert_pem = signer.private_key, signer.cert_pem
    r = post(server, configured, "ses", other.ses_notification(samples.SES_COMPLAINT_WITH_FEEDBACK))
    assert r.status_code == 401, r.text
    assert history(server, configured, "richard@example.com") == []


def test_sns_subscription_is_confirmed_once(
    server: Server, configured: Portal, signer: signing.SnsSigner, origin: Origin
) -> None:
    before = len(origin.confirmed)
    url = f"{origin.url}/confirm?Action=ConfirmSubscription&Token={configured.id}"
    r = post(server, configured, "ses", signer.confirmation(subscribe_url=url))
    assert r.status_code == 200, r.text
    assert origin.confirmed[before:] == [url.removeprefix(origin.url)]
    # Unsubscribing is only told: nothing is fetched.
    r = post(server, configured, "ses", signer.confirmation(subscribe_url=url, unsubscribe=True))
    assert r.status_code == 200 and len(origin.confirmed) == before + 1
    # A SubscribeURL off the allowed hosts is never visited.
    elsewhere = signer.confirmation(subscribe_url="https://evil.example/confirm")
    assert post(server, configured, "ses", elsewhere).status_code == 401
    assert len(origin.confirmed) == before + 1


def test_sns_forged_or_old_messages_change_nothing(
    server: Server, configured: Portal, signer: signing.SnsSigner
) -> None:
    forged = signer.ses_notification(samples.SES_COMPLAINT_WITH_FEEDBACK)
    forged["Message"] = forged["Message"].replace("richard@", "someone@")
    assert post(server, configured, "ses", forged).status_code == 401
    old = signer.ses_notification(
        samples.SES_COMPLAINT_WITH_FEEDBACK, timestamp=signing.iso_now(-73 * 3600)
    )
    r = post(server, configured, "ses", old)
    assert r.status_code == 400 and "older than 72 hours" in r.json()["message"]
    ahead = signer.ses_notification(
        samples.SES_COMPLAINT_WITH_FEEDBACK, timestamp=signing.iso_now(600)
    )
    assert post(server, configured, "ses", ahead).status_code == 400
    assert history(server, configured, "someone@example.com") == []
    assert history(server, configured, "richard@example.com") == []


def test_an_unavailable_certificate_is_503_so_that_sns_retries(
    server: Server, configured: Portal, signer: signing.SnsSigner, origin: Origin
) -> None:
    elsewhere = signing.SnsSigner(cert_url=f"{origin.url}/missing.pem")
    elsewhere.private_key, elsewhere.cert_pem = signer.private_key, signer.cert_pem
    elsewhere.topic_arn = signer.topic_arn
    message = elsewhere.ses_notification(samples.SES_COMPLAINT_WITH_FEEDBACK)
    r = post(server, configured, "ses", message)
    assert r.status_code == 503 and r.json()["category"] == "SERVICE_UNAVAILABLE"
    assert history(server, configured, "richard@example.com") == []


# --- SendGrid -----------------------------------------------------------------------------


def test_sendgrid_batch(server: Server, configured: Portal, sendgrid_key: tuple[Any, str]) -> None:
    events = [
        samples.SENDGRID_SPAMREPORT,
        samples.SENDGRID_BOUNCE,
        samples.SENDGRID_DEFERRED,
        samples.SENDGRID_DROPPED,
    ]
    body, headers = sendgrid(sendgrid_key[0], events)
    r = post(server, configured, "sendgrid", body, headers)
    assert r.json() == {"applied": 3, "duplicates": 0, "ignored": 1}, r.text
    found = history(server, configured, "alex@example.com")
    assert {e["source"] for e in found} == {"Spam complaint", "Hard bounce", "Soft bounce"}
    assert {e["scope"] for e in found} >= {"WIDE", "BOUNCE", "SOFT_BOUNCE"}
    assert {e["actor"] for e in found} == {"feedback:sendgrid"}
    body, headers = sendgrid(sendgrid_key[0], events)  # a retry, freshly signed
    again = post(server, configured, "sendgrid", body, headers)
    assert again.json() == {"applied": 0, "duplicates": 3, "ignored": 1}
    assert len(history(server, configured, "alex@example.com")) == len(found)


def test_sendgrid_refusals(
    server: Server, configured: Portal, sendgrid_key: tuple[Any, str]
) -> None:
    forger, _ = signing.sendgrid_keypair()
    body, headers = sendgrid(forger, [samples.SENDGRID_SPAMREPORT])
    r = post(server, configured, "sendgrid", body, headers)
    assert r.status_code == 401 and r.json()["category"] == "INVALID_AUTHENTICATION"
    assert post(server, configured, "sendgrid", body).status_code == 401  # no headers
    body, headers = sendgrid(sendgrid_key[0], [samples.SENDGRID_SPAMREPORT], timestamp=1513299569)
    assert post(server, configured, "sendgrid", body, headers).status_code == 400
    body, headers = sendgrid(sendgrid_key[0], [{"event": "bounce"}])
    r = post(server, configured, "sendgrid", body, headers)
    assert r.status_code == 400 and "timestamp" in r.json()["message"]
    assert history(server, configured, "alex@example.com") == []


# --- Postmark -----------------------------------------------------------------------------


def test_postmark_bounce_and_complaint(server: Server, configured: Portal) -> None:
    auth = signing.postmark_headers(POSTMARK_USER, POSTMARK_PASSWORD)
    bounce = {**samples.POSTMARK_BOUNCE, "BouncedAt": iso_now()}
    assert post(server, configured, "postmark", bounce, auth).json()["applied"] == 1
    (event,) = history(server, configured, "john@example.com")
    assert (event["scope"], event["actor"]) == ("BOUNCE", "feedback:postmark")
    spam = {**samples.POSTMARK_SPAM_COMPLAINT, "BouncedAt": iso_now()}
    assert post(server, configured, "postmark", spam, auth).json()["applied"] == 1
    delivery = {**samples.POSTMARK_DELIVERY, "DeliveredAt": iso_now()}
    assert post(server, configured, "postmark", delivery, auth).json() == {
        "applied": 0,
        "duplicates": 0,
        "ignored": 1,
    }


def test_postmark_refusals(server: Server, configured: Portal) -> None:
    bounce = {**samples.POSTMARK_BOUNCE, "BouncedAt": iso_now()}
    wrong = signing.postmark_headers(POSTMARK_USER, "not the password at all")
    assert post(server, configured, "postmark", bounce, wrong).status_code == 401
    assert post(server, configured, "postmark", bounce).status_code == 401
    auth = signing.postmark_headers(POSTMARK_USER, POSTMARK_PASSWORD)
    old = {**samples.POSTMARK_BOUNCE, "BouncedAt": iso_now(hours=-80)}
    assert post(server, configured, "postmark", old, auth).status_code == 400
    assert post(server, configured, "postmark", b"{not json", auth).status_code == 400
    assert history(server, configured, "john@example.com") == []


# --- Mailgun ------------------------------------------------------------------------------


def test_mailgun_events(server: Server, configured: Portal) -> None:
    complained = signing.mailgun_body(MAILGUN_KEY, samples.MAILGUN_COMPLAINED)
    assert post(server, configured, "mailgun", complained).json()["applied"] == 1
    assert post(server, configured, "mailgun", complained).json()["duplicates"] == 1
    soft = signing.mailgun_body(MAILGUN_KEY, samples.MAILGUN_TEMPORARY_FAIL)
    assert post(server, configured, "mailgun", soft).json()["applied"] == 1
    sources = [e["source"] for e in history(server, configured, "alice@example.com")]
    assert "Spam complaint" in sources and sources.count("Soft bounce") == 1
    accepted = signing.mailgun_body(MAILGUN_KEY, samples.MAILGUN_ACCEPTED)
    assert post(server, configured, "mailgun", accepted).json()["ignored"] == 1


def test_mailgun_refusals(server: Server, configured: Portal) -> None:
    forged = signing.mailgun_body("another key", samples.MAILGUN_COMPLAINED)
    assert post(server, configured, "mailgun", forged).status_code == 401
    unsigned = {"event-data": samples.MAILGUN_COMPLAINED}
    assert post(server, configured, "mailgun", unsigned).status_code == 401
    old = signing.mailgun_body(MAILGUN_KEY, samples.MAILGUN_COMPLAINED, timestamp=1521233123)
    assert post(server, configured, "mailgun", old).status_code == 400
    r = post(server, configured, "mailgun", b"\xff not json")
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    broken = signing.mailgun_body(MAILGUN_KEY, {"event": "failed"})
    assert post(server, configured, "mailgun", broken).status_code == 400
    assert history(server, configured, "alice@example.com") == []


# --- what is not configured ---------------------------------------------------------------


def test_unknown_portal_provider_or_configuration_is_404(server: Server, portal: Portal) -> None:
    complained = signing.mailgun_body(MAILGUN_KEY, samples.MAILGUN_COMPLAINED)
    assert post(server, portal, "mailgun", complained).status_code == 404  # not configured
    assert post(server, 987654321, "mailgun", complained).status_code == 404
    assert post(server, portal, "sparkpost", complained).status_code == 404
    with server.client() as http:
        r = http.post("/commpref/v1/feedback/mailgun", json=complained)  # no portal
    assert r.status_code == 400


def test_a_body_over_the_limit_is_413(server: Server, configured: Portal) -> None:
    r = post(server, configured, "mailgun", b"[" + b" " * (5 * 1024 * 1024) + b"]")
    assert r.status_code == 413


# --- event types commpref does not know -------------------------------------------------


def test_an_unknown_event_type_is_ignored_and_changes_nothing(
    server: Server, configured: Portal, signer: signing.SnsSigner, sendgrid_key: tuple[Any, str]
) -> None:
    """Providers add event types; a delivery of one is taken (200, so that the provider
    does not retry it for days or turn the webhook off) and changes nothing."""
    invented = "InventedNotification"
    ses = {**samples.SES_COMPLAINT_WITH_FEEDBACK, "notificationType": invented}
    r = post(server, configured, "ses", signer.ses_notification(ses))
    recipients = len(ses["mail"]["destination"])  # one event per recipient of the mail
    assert r.json() == {"applied": 0, "duplicates": 0, "ignored": recipients}, r.text
    body, headers = sendgrid(sendgrid_key[0], [{**samples.SENDGRID_SPAMREPORT, "event": invented}])
    r = post(server, configured, "sendgrid", body, headers)
    assert r.json() == {"applied": 0, "duplicates": 0, "ignored": 1}, r.text
    auth = signing.postmark_headers(POSTMARK_USER, POSTMARK_PASSWORD)
    postmark = {**samples.POSTMARK_SPAM_COMPLAINT, "RecordType": invented, "BouncedAt": iso_now()}
    r = post(server, configured, "postmark", postmark, auth)
    assert r.json() == {"applied": 0, "duplicates": 0, "ignored": 1}, r.text
    mailgun = signing.mailgun_body(MAILGUN_KEY, {**samples.MAILGUN_COMPLAINED, "event": invented})
    r = post(server, configured, "mailgun", mailgun)
    assert r.json() == {"applied": 0, "duplicates": 0, "ignored": 1}, r.text
    for email in ("richard@example.com", "alex@example.com", "john@example.com",
                  "alice@example.com"):  # fmt: skip
        assert history(server, configured, email) == [], email
