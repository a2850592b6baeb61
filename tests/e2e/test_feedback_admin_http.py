"""Which mail providers a portal takes feedback from, over real HTTP on both backends:
`/commpref/v1/feedback-providers` per scope, `commpref feedback`, the console's page per
role (with its form token), and a bounced address on the console's contact page."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from commpref.domain import scopes
from tests.support import feedback_samples as samples
from tests.support import feedback_signing as signing
from tests.support.console import Operator, operator
from tests.support.server import Portal, Server

V1 = "/commpref/v1"
PASSWORD = "sixteen chars at least"


@pytest.fixture
def ops(server: Server) -> Iterator[dict[str, Operator]]:
    made = {
        role: operator(server, f"{role}-{uuid.uuid4().hex[:8]}@example.com", role)
        for role in ("viewer", "admin")
    }
    yield made
    for op in made.values():
        op.client.close()


def providers(server: Server, portal: Portal) -> dict[str, Any]:
    with server.client(portal.token) as http:
        r = http.get(f"{V1}/feedback-providers")
    assert r.status_code == 200, r.text
    return {p["provider"]: p for p in r.json()["results"]}


def test_the_api_sets_lists_and_removes_providers_per_scope(server: Server, portal: Portal) -> None:
    reader = server.token(portal.id, frozenset({scopes.FEEDBACK_READ}))
    writer = server.token(portal.id, frozenset({scopes.FEEDBACK_WRITE}))
    _, public_key = signing.sendgrid_keypair()
    with server.client(reader) as http:
        assert http.get(f"{V1}/feedback-providers").json() == {"results": []}
        r = http.put(f"{V1}/feedback-providers/mailgun", json={"signingKey": "k"})
        assert r.status_code == 403 and r.json()["category"] == "MISSING_SCOPES"
    with server.client(writer) as http:
        assert http.get(f"{V1}/feedback-providers").status_code == 403
        r = http.put(f"{V1}/feedback-providers/mailgun", json={"signingKey": "secret-key"})
        assert r.status_code == 200, r.text
        assert "signingKey" not in r.text and "secret-key" not in r.text
        assert r.json()["endpoint"].endswith(f"/commpref/v1/feedback/mailgun?portal={portal.id}")
        r = http.put(f"{V1}/feedback-providers/sendgrid", json={"publicKey": public_key})
        assert r.json()["publicKey"] == public_key  # not a secret
        r = http.put(
            f"{V1}/feedback-providers/postmark", json={"username": "pm", "password": PASSWORD}
        )
        assert r.status_code == 200 and PASSWORD not in r.text
        arn = "arn:aws:sns:eu-west-1:123456789012:bounces"
        assert http.put(f"{V1}/feedback-providers/ses", json={"topicArn": arn}).status_code == 200
    listed = providers(server, portal)
    assert sorted(listed) == ["mailgun", "postmark", "sendgrid", "ses"]
    assert listed["ses"]["topicArn"] == arn and all(p["configured"] for p in listed.values())
    assert PASSWORD not in str(listed) and "secret-key" not in str(listed)
    with server.client(writer) as http:
        assert http.delete(f"{V1}/feedback-providers/mailgun").status_code == 200
        assert http.delete(f"{V1}/feedback-providers/mailgun").status_code == 404
    assert "mailgun" not in providers(server, portal)


@pytest.mark.parametrize(
    ("provider", "body", "message"),
    [
        ("sendgrid", {"publicKey": "bm90IGEga2V5"}, "publicKey is not a base64 public key"),
        ("sendgrid", {}, "sendgrid needs publicKey"),
        ("postmark", {"username": "pm", "password": "short"}, "at least 16 characters"),
        ("postmark", {"username": "a:b", "password": PASSWORD}, "cannot contain ':'"),
        ("ses", {"topicArn": "not an arn"}, "not an SNS topic ARN"),
        ("ses", {"signingKey": "x"}, "Unknown field 'signingKey' for ses"),
        ("sparkpost", {}, "Unknown mail provider 'sparkpost'"),
        ("mailgun", {"signingKey": 5}, ""),
    ],
)
def test_invalid_configurations_are_400_with_a_clear_message(
    server: Server, portal: Portal, provider: str, body: dict[str, Any], message: str
) -> None:
    with server.client(portal.token) as http:
        r = http.put(f"{V1}/feedback-providers/{provider}", json=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]
    assert providers(server, portal) == {}


def test_the_cli_sets_lists_and_removes(server: Server, portal: Portal) -> None:
    made = server.cli(
        "feedback", "set", "--portal", str(portal.id), "--provider", "postmark",
        "--username", "pm", "--password", PASSWORD,
    )  # fmt: skip
    assert made.stdout.strip().endswith(f"/commpref/v1/feedback/postmark?portal={portal.id}")
    server.cli("feedback", "set", "--portal", str(portal.id), "--provider", "ses")
    listed = server.cli("feedback", "list", "--portal", str(portal.id)).stdout
    assert [line.split("\t")[0] for line in listed.splitlines()] == ["postmark", "ses"]
    assert PASSWORD not in listed and "pm" not in listed.replace("postmark", "")
    refused = server.cli(
        "feedback", "set", "--portal", str(portal.id), "--provider", "postmark",
        "--username", "pm", "--password", "short", check=False,
    )  # fmt: skip
    assert refused.returncode == 1 and "at least 16 characters" in refused.stderr
    removed = server.cli("feedback", "remove", "--portal", str(portal.id), "--provider", "ses")
    assert removed.returncode == 0
    again = server.cli(
        "feedback", "remove", "--portal", str(portal.id), "--provider", "ses", check=False
    )
    assert again.returncode == 1 and "No ses configuration" in again.stderr
    assert sorted(providers(server, portal)) == ["postmark"]


def test_the_console_page_admins_change_everyone_reads(
    server: Server, portal: Portal, ops: dict[str, Operator]
) -> None:
    target = f"/console/feedback?portal={portal.id}"
    viewer, admin = ops["viewer"], ops["admin"]
    read = viewer.page(target)
    assert read.status_code == 200
    assert f"/commpref/v1/feedback/mailgun?portal={portal.id}" in read.text
    assert 'name="signingKey"' not in read.text  # no form for a viewer
    assert viewer.post(target, {"provider": "mailgun", "action": "save",
                                "signingKey": "k"}).status_code == 403  # fmt: skip
    # A form without its token changes nothing.
    bare = admin.client.post(target, data={"provider": "mailgun", "action": "save",
                                           "signingKey": "k"})  # fmt: skip
    assert bare.status_code in (400, 403)
    assert providers(server, portal) == {}

    saved = admin.post(target, {"provider": "mailgun", "action": "save", "signingKey": "key-1"})
    assert saved.status_code == 303, saved.text
    shown = admin.page(target).text
    assert "key-1" not in shown and 'name="signingKey"' in shown
    # A blank secret keeps the stored one.
    assert admin.post(target, {"provider": "mailgun", "action": "save"}).status_code == 303
    refused = admin.post(target, {"provider": "postmark", "action": "save",
                                  "username": "pm", "password": "short"})  # fmt: skip
    assert refused.status_code == 400 and "at least 16 characters" in refused.text
    assert sorted(providers(server, portal)) == ["mailgun"]
    removed = admin.post(target, {"provider": "mailgun", "action": "remove"})
    assert removed.status_code == 303
    assert providers(server, portal) == {}


def test_a_bounced_address_shows_on_its_contact_page(
    server: Server, portal: Portal, ops: dict[str, Operator]
) -> None:
    key = "mailgun-signing-key"
    with server.client(portal.token) as http:
        http.put(f"{V1}/feedback-providers/mailgun", json={"signingKey": key})
    failed = {**samples.MAILGUN_PERMANENT_FAIL, "reason": "generic"}  # the mailbox's verdict
    body = signing.mailgun_body(key, failed)
    with httpx.Client(base_url=server.base_url) as http:
        r = http.post(f"{V1}/feedback/mailgun", params={"portal": portal.id}, json=body)
    assert r.json()["applied"] == 1, r.text
    shown = ops["viewer"].page(f"/console/contacts/alice@example.com?portal={portal.id}").text
    assert 'id="bounced"' in shown and "Hard bounce (mailgun)" in shown
    assert "hard bounce: marked bounced" in shown  # the timeline's entry
    printed = server.cli("history", "alice@example.com", "--portal", str(portal.id)).stdout
    assert "bounce" in printed and "feedback:mailgun" in printed
