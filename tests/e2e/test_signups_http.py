"""Sign-ups end to end: a real server mailing through a real SMTP server (tests/support/
smtp.py), on both backends. The email arrives, its link opens a page that changes
nothing, the page's button confirms exactly the asked types with evidence in the ledger."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from commpref.domain import scopes
from commpref.domain.model import ChangeKind
from commpref.storage.sqlite.connection import database_path
from tests.e2e.http_helpers import status_of
from tests.support.console import operator
from tests.support.server import COMMPREF, Portal, Server, free_port, until
from tests.support.smtp import SmtpServer

FROM = "news@brand.example"
LINK = re.compile(r"https?://[^\s\"<>]+/hs/manage-preferences/confirm\?t=[A-Za-z0-9_\-]+")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def server(mailing_server: Server) -> Server:
    return mailing_server


@pytest.fixture
def portal(server: Server) -> Portal:
    return server.new_portal(double_opt_in=True, mail_from=FROM, brand_name="Brand")


@pytest.fixture
def api(server: Server, portal: Portal) -> Iterator[httpx.Client]:
    with server.client(portal.token) as client:
        yield client


@pytest.fixture(autouse=True)
def relay_accepts(smtp: SmtpServer) -> Iterator[None]:
    smtp.rcpt_reply = None
    smtp.messages.clear()  # one server per module: each test reads only its own mail
    yield
    smtp.rcpt_reply = None


def sign_up(client: httpx.Client, email: str, ids: list[int], **body: Any) -> httpx.Response:
    return client.post("/commpref/v1/signups", json={"email": email, "subscriptionIds": ids,
                                                     **body})  # fmt: skip


def inbox(smtp: SmtpServer, email: str) -> list[Any]:
    return [m for m in smtp.messages if m.rcpt_tos == [email]]


def link_of(smtp: SmtpServer, email: str) -> str:
    until(lambda: bool(inbox(smtp, email)), f"the email to {email}")
    message = inbox(smtp, email)[-1].message
    text = message.get_body(preferencelist=("plain",)).get_content()
    found = LINK.search(text)
    assert found, text
    return found.group(0)


def run_sql(server: Server, sql: str, *args: Any) -> None:
    if server.database_url.startswith("sqlite"):
        with sqlite3.connect(database_path(server.database_url)) as con:
            con.execute(sql.replace("$1", "?").replace("$2", "?"), args)
        return

    async def pg() -> None:
        con = await asyncpg.connect(server.database_url)
        try:
            await con.execute(sql, *args)
        finally:
            await con.close()

    asyncio.run(pg())


def ledger(server: Server, portal: Portal) -> list[Any]:
    return list(server.admin(lambda store: store.events(portal.id)))


def test_confirm_by_email(
    server: Server, portal: Portal, api: httpx.Client, smtp: SmtpServer
) -> None:
    asked = portal.definitions[:1]
    r = sign_up(api, "new@example.com", asked, source="Footer form", language="de")
    assert r.status_code == 202 and r.json()["status"] == "PENDING_CONFIRMATION", r.text
    signup_id = r.json()["id"]
    url = link_of(smtp, "new@example.com")
    message = inbox(smtp, "new@example.com")[-1].message
    assert message["From"].addresses[0].addr_spec == FROM
    assert url.startswith(server.base_url)
    [requested] = ledger(server, portal)
    assert [c.kind for c in requested.event.changes] == [ChangeKind.CONFIRMATION]
    assert requested.event.actor.startswith("token:")

    page = httpx.get(url)  # a link scanner's GET confirms nothing
    assert page.status_code == 200 and "<form" in page.text
    assert "Abonnement" in page.text  # the sign-up's language
    assert len(ledger(server, portal)) == 1
    assert set(status_of(api, "new@example.com")) == {"NOT_SPECIFIED"}

    csrf = unescape(CSRF.search(page.text).group(1))  # type: ignore[union-attr]
    done = httpx.post(url, data={"csrf": csrf})
    assert done.status_code == 200, done.text
    rows = api.get("/communication-preferences/v4/statuses/new@example.com",
                   params={"channel": "EMAIL"}).json()["results"]  # fmt: skip
    by_id = {int(x["subscriptionId"]): x["status"] for x in rows}
    assert {i for i, s in by_id.items() if s == "SUBSCRIBED"} == set(asked)
    entries = ledger(server, portal)
    assert len(entries) == 2
    confirmed = entries[1].event
    assert confirmed.actor == f"signup:{signup_id}"
    assert confirmed.source == "Double opt-in confirmation"
    change = confirmed.changes[0]
    assert change.legal_basis == "CONSENT_WITH_NOTICE"
    assert "Footer form" in (change.legal_basis_explanation or "")

    again = httpx.post(url, data={"csrf": csrf})  # harmless: nothing new
    assert again.status_code == 200 and len(ledger(server, portal)) == 2
    assert httpx.get(url).status_code == 200

    history = api.get("/commpref/v1/subscribers/new@example.com/history").json()["results"]
    assert [(h["scope"], h["subscriptionId"], h["newStatus"]) for h in history] == [
        ("CONFIRMATION_REQUESTED", asked[0], "NOT_SPECIFIED"),
        ("SUBSCRIPTION", asked[0], "SUBSCRIBED"),
    ]
    view = api.get(f"/commpref/v1/signups/{signup_id}").json()
    assert view["state"] == "CONFIRMED" and view["confirmationEmail"]["state"] == "SENT"
    assert view["subscriptionIds"] == asked


def test_form_token_and_unknown_link(
    server: Server, portal: Portal, api: httpx.Client, smtp: SmtpServer
) -> None:
    assert sign_up(api, "forged@example.com", portal.definitions[:1]).status_code == 202
    url = link_of(smtp, "forged@example.com")
    assert httpx.post(url, data={"csrf": "nope"}).status_code == 403
    assert httpx.post(url, data={}).status_code == 403
    assert len(ledger(server, portal)) == 1
    unknown = httpx.get(f"{server.base_url}/hs/manage-preferences/confirm?t=nothing")
    assert unknown.status_code == 404 and "<html" in unknown.text
    assert httpx.get(f"{server.base_url}/hs/manage-preferences/confirm").status_code == 404


def test_expired_link(server: Server, portal: Portal, api: httpx.Client, smtp: SmtpServer) -> None:
    r = sign_up(api, "late@example.com", portal.definitions[:1])
    url = link_of(smtp, "late@example.com")
    run_sql(server, "UPDATE signups SET expires_at = 1 WHERE id = $1", r.json()["id"])
    page = httpx.get(url)
    assert page.status_code == 400 and "<form" not in page.text
    assert httpx.post(url, data={"csrf": "x"}).status_code in (400, 403)
    assert api.get(f"/commpref/v1/signups/{r.json()['id']}").json()["state"] == "EXPIRED"
    assert len(ledger(server, portal)) == 1


def test_throttled_per_address(
    server: Server, portal: Portal, api: httpx.Client, smtp: SmtpServer
) -> None:
    first = sign_up(api, "again@example.com", portal.definitions[:1])
    link_of(smtp, "again@example.com")
    second = sign_up(api, "again@example.com", portal.definitions[:1])
    assert second.status_code == first.status_code == 202
    assert second.json()["status"] == first.json()["status"]
    view = api.get(f"/commpref/v1/signups/{second.json()['id']}").json()
    assert view["state"] == "PENDING" and view["confirmationEmail"] is None
    assert len(inbox(smtp, "again@example.com")) == 1
    assert len(ledger(server, portal)) == 2  # both sign-ups are on record


def test_known_and_unknown_answer_alike(server: Server, portal: Portal, api: httpx.Client) -> None:
    api.post("/communication-preferences/v4/statuses/known@example.com",
             json={"channel": "EMAIL", "statusState": "SUBSCRIBED",
                   "subscriptionId": portal.definitions[1]})  # fmt: skip
    known = sign_up(api, "known@example.com", portal.definitions[:1])
    unknown = sign_up(api, "stranger@example.com", portal.definitions[:1])
    assert known.status_code == unknown.status_code == 202
    assert known.json().keys() == unknown.json().keys()
    assert known.json()["status"] == unknown.json()["status"]


def test_direct_and_opted_out_answer_alike(server: Server, smtp: SmtpServer) -> None:
    portal = server.new_portal(mail_from=FROM)  # double opt-in off
    api = server.client(portal.token)
    form = server.client(server.token(portal.id, frozenset({scopes.SIGNUPS_WRITE})))
    api.post("/communication-preferences/v4/statuses/batch/unsubscribe-all",
             params={"channel": "EMAIL"}, json={"inputs": ["out@example.com"]})  # fmt: skip
    direct = sign_up(form, "direct@example.com", portal.definitions[:2])
    out = sign_up(form, "out@example.com", portal.definitions[:1])
    # The form's backend cannot tell the opted-out address from the new one.
    assert (direct.status_code, out.status_code) == (202, 202), out.text
    assert direct.json()["status"] == out.json()["status"] == "ACCEPTED"
    assert direct.json().keys() == out.json().keys() == {"status", "id"}
    assert form.get(f"/commpref/v1/signups/{out.json()['id']}").status_code == 403
    form.close()
    # A token that may read sign-ups sees what became of each.
    rows = status_of(api, "direct@example.com")
    assert rows.count("SUBSCRIBED") == 2
    view = api.get(f"/commpref/v1/signups/{direct.json()['id']}").json()
    assert (view["state"], view["expiresAt"], view["confirmationEmail"]) == (
        "SUBSCRIBED", None, None,
    )  # fmt: skip
    view = api.get(f"/commpref/v1/signups/{out.json()['id']}").json()
    assert view["state"] == "PENDING" and view["expiresAt"] is not None
    assert "SUBSCRIBED" not in status_of(api, "out@example.com")
    url = link_of(smtp, "out@example.com")
    page = httpx.get(url)
    csrf = unescape(CSRF.search(page.text).group(1))  # type: ignore[union-attr]
    assert httpx.post(url, data={"csrf": csrf}).status_code == 200
    assert status_of(api, "out@example.com").count("SUBSCRIBED") == 1
    api.close()


def test_bad_requests(server: Server, portal: Portal, api: httpx.Client) -> None:
    assert sign_up(api, "not an address", portal.definitions[:1]).status_code == 400
    assert sign_up(api, "a@example.com", []).status_code == 400
    assert sign_up(api, "a@example.com", [123456789]).status_code == 400
    assert (
        sign_up(api, "a@example.com", portal.definitions[:1], businessUnitId=9).status_code == 400
    )
    assert api.post("/commpref/v1/signups", content=b"{").status_code == 400
    odd = sign_up(api, "jöe@exämple.com", portal.definitions[:1])
    assert odd.status_code == 400 and "cannot be sent" in odd.text  # no email: 400, not 500
    for field, value in [("source", "a\x00b"), ("source", "x" * 201), ("language", "no, no"),
                         ("legalBasis", "MAYBE"), ("legalBasisExplanation", "a\nb")]:  # fmt: skip
        odd = sign_up(api, "joe@example.com", portal.definitions[:1], **{field: value})
        assert odd.status_code == 400 and field in odd.text, odd.text
    assert api.get("/commpref/v1/signups/999999").status_code == 404
    assert api.get("/commpref/v1/signups/abc").status_code == 404
    no_from = server.new_portal(double_opt_in=True)
    with server.client(no_from.token) as other:
        r = sign_up(other, "a@example.com", no_from.definitions[:1])
    assert r.status_code == 409 and "From" in r.text


def test_delivery_failures(
    server: Server, portal: Portal, api: httpx.Client, smtp: SmtpServer
) -> None:
    smtp.rcpt_reply = "550 5.1.1 No such user"
    r = sign_up(api, "gone@example.com", portal.definitions[:1])
    path = f"/commpref/v1/signups/{r.json()['id']}"
    until(lambda: api.get(path).json()["confirmationEmail"]["state"] == "FAILED", "FAILED")
    assert "550" in api.get(path).json()["confirmationEmail"]["lastError"]
    smtp.rcpt_reply = "450 4.2.0 Mailbox busy"
    r = sign_up(api, "busy@example.com", portal.definitions[:1])
    path = f"/commpref/v1/signups/{r.json()['id']}"
    until(lambda: api.get(path).json()["confirmationEmail"]["attempts"] >= 1, "an attempt")
    email = api.get(path).json()["confirmationEmail"]
    assert email["state"] == "PENDING" and "450" in email["lastError"]


def test_settings_through_the_api_and_the_cli(server: Server, smtp: SmtpServer) -> None:
    p = server.new_portal(brands=True)
    with server.client(p.token) as api:
        r = api.patch("/commpref/v1/portal", json={"mailFrom": "not an address"})
        assert r.status_code == 400, r.text
        r = api.patch("/commpref/v1/portal", json={"doubleOptIn": True, "mailFrom": FROM})
        assert (r.json()["doubleOptIn"], r.json()["mailFrom"]) == (True, FROM)
        r = api.post("/commpref/v1/business-units", json={"id": 7, "name": "Seven"})
        assert r.status_code == 201 and r.json()["doubleOptIn"] is None
        r = api.post("/commpref/v1/types", json={"name": "Seven news", "businessUnitId": 7})
        seven = int(r.json()["id"])
        r = api.patch("/commpref/v1/business-units/7", json={"doubleOptIn": False})
        assert (r.json()["name"], r.json()["doubleOptIn"]) == ("Seven", False)
        assert (
            api.patch("/commpref/v1/business-units/8", json={"doubleOptIn": False}).status_code
            == 404
        )
        # the unit's own setting wins: subscribed at once; unit 0 follows the portal
        r = sign_up(api, "unit@example.com", [seven], businessUnitId=7)
        assert (r.status_code, r.json()["status"]) == (202, "ACCEPTED")
        r = sign_up(api, "unit@example.com", p.definitions[:1])
        assert (r.status_code, r.json()["status"]) == (202, "PENDING_CONFIRMATION")
        r = api.patch("/commpref/v1/business-units/7", json={"doubleOptIn": None, "name": "7"})
        assert (r.json()["name"], r.json()["doubleOptIn"]) == ("7", None)
        r = sign_up(api, "unit2@example.com", [seven], businessUnitId=7)
        assert (r.status_code, r.json()["status"]) == (202, "PENDING_CONFIRMATION")
    done = server.cli("portal", "set", "--portal", str(p.id), "--no-double-opt-in",
                      "--mail-from", "")  # fmt: skip
    assert done.stdout.strip() == str(p.id)
    with server.client(p.token) as api:
        assert api.get("/commpref/v1/portal").json()["doubleOptIn"] is False
        assert api.get("/commpref/v1/portal").json()["mailFrom"] is None


def test_the_console_sets_double_opt_in_and_lists_sign_ups(
    server: Server, smtp: SmtpServer
) -> None:
    p = server.new_portal()
    admin = operator(server, f"admin-{p.id}@example.com", "admin", [p.id])
    viewer = operator(server, f"viewer-{p.id}@example.com", "viewer", [p.id])
    try:
        settings = f"/console/settings?portal={p.id}"
        form = {"name": "Shop", "default_language": "en", "rate_limit_tier": "",
                "brand_name": "", "brand_logo_url": "", "brand_colour": "",
                "double_opt_in": "on", "mail_from": "nope"}  # fmt: skip
        assert admin.post(settings, form).status_code == 400
        assert admin.post(settings, {**form, "mail_from": FROM}).status_code == 303
        shown = admin.page(settings).text
        assert 'name="double_opt_in" checked' in shown and FROM in shown
        with server.client(p.token) as api:
            assert api.get("/commpref/v1/portal").json()["doubleOptIn"] is True
            r = sign_up(api, "listed@example.com", p.definitions[:1], source="Shop <form>")
        assert r.status_code == 202
        until(lambda: bool(inbox(smtp, "listed@example.com")), "the email")
        listing = viewer.page(f"/console/signups?portal={p.id}")
        assert listing.status_code == 200
        assert "listed@example.com" in listing.text and "Shop &lt;form&gt;" in listing.text
        assert f'id="signup-{r.json()["id"]}"' in listing.text
    finally:
        admin.client.close()
        viewer.client.close()


def test_a_bad_smtp_url_stops_the_server_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "COMMPREF_SMTP_URL": "smtp://relay.example?tls=maybe"}
    args = [COMMPREF, "serve", "--port", str(free_port()),
            "--database-url", f"sqlite:///{tmp_path}/commpref.db"]  # fmt: skip
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1 and "SMTP" in done.stderr, done.stderr
