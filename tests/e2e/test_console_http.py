"""The console over real HTTP, on both backends: signing in and out, sessions, CSRF, roles,
portals, and what the pages change (read back through the API)."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from commpref.services import console
from commpref.services.context import now_ms
from commpref.storage.store import Store
from tests.conftest import BACKENDS
from tests.e2e.http_helpers import url
from tests.support.console import (
    HOSTILE,
    PASSWORD,
    Operators,
    Staff,
    assert_refused_or_escaped,
    csrf,
    new_user,
    sign_in,
    signin_form,
    unique,
)
from tests.support.server import Portal, Server, started_server


def history(server: Server, portal: Portal, email: str) -> list[dict[str, object]]:
    with server.client(portal.token) as api:
        answer = api.get(f"/commpref/v1/subscribers/{email}/history")
    assert answer.status_code == 200, answer.text
    results: list[dict[str, object]] = answer.json()["results"]
    return results


def statuses(server: Server, portal: Portal, email: str) -> dict[int, str]:
    with server.client(portal.token) as api:
        answer = api.get(url("v4", f"statuses/{email}?channel=EMAIL"))
    assert answer.status_code == 200, answer.text
    return {int(r["subscriptionId"]): r["status"] for r in answer.json()["results"]}


def subscribe(server: Server, portal: Portal, email: str, definition: int) -> None:
    with server.client(portal.token) as api:
        answer = api.post(
            url("v4", f"statuses/{email}?channel=EMAIL"),
            json={"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": definition},
        )
    assert answer.status_code == 200, answer.text


# --- signing in -------------------------------------------------------------------------------


def test_a_signed_out_visit_is_sent_to_sign_in_and_back(server: Server, portal: Portal) -> None:
    email = unique("owner")
    new_user(server, email, "owner")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        first = client.get(f"/console/contacts?portal={portal.id}")
        assert first.status_code == 303
        assert first.headers["location"] == (
            f"/console/sign-in?next=%2Fconsole%2Fcontacts%3Fportal%3D{portal.id}"
        )
        form = client.get(first.headers["location"])
        token = csrf_free_token(form.text)
        answer = client.post(
            "/console/sign-in",
            data={"signin_token": token, "email": email.upper(), "password": PASSWORD,
                  "next": f"/console/contacts?portal={portal.id}"},
        )  # fmt: skip
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/console/contacts?portal={portal.id}"
        cookie = answer.headers.get_list("set-cookie")[0]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP here; behind HTTPS it is Secure
        assert client.get(answer.headers["location"]).status_code == 200


def csrf_free_token(html: str) -> str:
    marker = 'name="signin_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_sign_in_never_leads_to_another_site(server: Server) -> None:
    email = unique("owner")
    new_user(server, email, "owner")
    for target in ("https://evil.example/", "//evil.example/x", "/console/\\evil", "/other"):
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            token = signin_form(client)
            answer = client.post(
                "/console/sign-in",
                data={"signin_token": token, "email": email, "password": PASSWORD,
                      "next": target},
            )  # fmt: skip
            assert answer.status_code == 303
            assert answer.headers["location"] == "/console/"


def test_a_wrong_password_and_an_unknown_address_are_answered_alike(server: Server) -> None:
    email = unique("owner")
    new_user(server, email, "owner")
    for address in (email, unique("nobody")):
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            answer = sign_in(client, address, "not the password at all")
            assert answer.status_code == 401
            assert "The address or the password is wrong." in answer.text
            assert not any(
                c.startswith("commpref_console=") for c in answer.headers.get_list("set-cookie")
            )


def test_the_sign_in_form_needs_its_own_cookie(server: Server) -> None:
    """A sign-in posted from another site (login CSRF) lacks the form's cookie."""
    email = unique("owner")
    new_user(server, email, "owner")
    with httpx.Client(base_url=server.base_url, timeout=30) as victim:
        with httpx.Client(base_url=server.base_url, timeout=30) as attacker:
            token = signin_form(attacker)
        answer = victim.post(
            "/console/sign-in",
            data={"signin_token": token, "email": email, "password": PASSWORD, "next": ""},
        )
        assert answer.status_code == 403
        assert victim.get("/console/").status_code == 303  # still signed out


def test_a_cookie_planted_before_sign_in_is_never_promoted(server: Server, portal: Portal) -> None:
    email = unique("owner")
    new_user(server, email, "owner")
    planted = secrets.token_urlsafe(32)
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        client.cookies.set("commpref_console", planted, domain="127.0.0.1")
        answer = sign_in(client, email)
        assert answer.status_code == 303
        issued = client.cookies.get("commpref_console", domain="127.0.0.1")
        assert issued and issued != planted
    with httpx.Client(base_url=server.base_url, timeout=30) as attacker:
        attacker.cookies.set("commpref_console", planted)
        assert attacker.get(f"/console/?portal={portal.id}").status_code == 303


def test_a_cookie_copied_before_sign_out_is_dead_after_it(
    server: Server, signed_in: Operators, portal: Portal
) -> None:
    op = signed_in("owner")
    stolen = op.client.cookies.get("commpref_console")
    assert stolen
    page = f"/console/contacts?portal={portal.id}"
    out = op.post("/console/sign-out", {}, from_page=page)
    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    with httpx.Client(base_url=server.base_url, timeout=30) as thief:
        thief.cookies.set("commpref_console", stolen)
        assert thief.get(page).status_code == 303
        assert (
            thief.post(
                f"/console/contacts/a@example.com?portal={portal.id}",
                data={"csrf": "anything", "action": "unsubscribe_all"},
            ).status_code
            == 403
        )


def test_an_idle_or_old_session_has_ended(server: Server, portal: Portal) -> None:
    user = new_user(server, unique("owner"), "owner")
    now = now_ms()
    for created, seen in (
        (now - 31 * 60_000, now - 31 * 60_000),  # idle 31 min
        (now - 13 * 3_600_000, now - 1000),
    ):  # 13 hours old, active
        cookie = secrets.token_urlsafe(32)

        async def open_session(
            store: Store, cookie: str = cookie, created: int = created, seen: int = seen
        ) -> None:
            id_hash = console.session_hash(cookie)
            await store.create_session(id_hash=id_hash, user_id=user.id, csrf="x", now=created)
            await store.touch_session(id_hash, now=seen)

        server.admin(open_session)
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            client.cookies.set("commpref_console", cookie)
            assert client.get(f"/console/?portal={portal.id}").status_code == 303


def test_a_disabled_user_is_signed_out_at_once(
    server: Server, signed_in: Operators, portal: Portal
) -> None:
    email = unique("editor")
    op = signed_in("editor", email=email)
    page = f"/console/contacts?portal={portal.id}"
    assert op.page(page).status_code == 200
    server.cli("user", "disable", "--email", email)
    assert op.page(page).status_code == 303
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        assert sign_in(client, email).status_code == 401
    server.cli("user", "disable", "--email", email, "--enable")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        assert sign_in(client, email).status_code == 303


def test_failed_sign_ins_of_one_address_are_throttled(server: Server) -> None:
    email = unique("owner")
    new_user(server, email, "owner")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for _ in range(5):
            assert sign_in(client, email, "a wrong password here").status_code == 401
        refused = sign_in(client, email)  # the right password, too late
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "Too many failed sign-ins" in refused.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_failed_sign_ins_of_one_client_are_throttled(backend: str, tmp_path: Path) -> None:
    env = {"COMMPREF_CONSOLE_CLIENT_ATTEMPTS": "3"}
    with started_server(backend, tmp_path, env) as srv:
        email = unique("owner")
        new_user(srv, email, "owner")
        with httpx.Client(base_url=srv.base_url, timeout=30) as client:
            for n in range(3):  # three addresses, one client
                assert sign_in(client, unique(f"guess{n}"), "a wrong password").status_code == 401
            assert sign_in(client, email).status_code == 429


# --- forms ---------------------------------------------------------------------------------


def test_forms_without_their_token_or_from_another_site_change_nothing(
    server: Server, staff: Staff, portal: Portal
) -> None:
    email = unique("contact")
    subscribe(server, portal, email, portal.definitions[0])
    op, other = staff("editor"), staff("owner")
    target = f"/console/contacts/{email}?portal={portal.id}"
    good = csrf(op.page(target).text)
    foreign = csrf(other.page(target).text)
    for form, headers in (
        ({}, {}),
        ({"csrf": "wrong"}, {}),
        ({"csrf": foreign}, {}),  # another session's token
        ({"csrf": [good, good]}, {}),  # one token, not two
        ({"csrf": good}, {"sec-fetch-site": "cross-site"}),
        ({"csrf": good}, {"sec-fetch-site": "same-site"}),
    ):
        answer = op.client.post(target, data={**form, "action": "unsubscribe_all"}, headers=headers)
        assert answer.status_code == 403, (form, headers)
        assert "text/html" in answer.headers["content-type"]
    assert statuses(server, portal, email)[portal.definitions[0]] == "SUBSCRIBED"
    ok = op.client.post(target, data={"csrf": good, "action": "unsubscribe_all"})
    assert ok.status_code == 303
    assert statuses(server, portal, email)[portal.definitions[0]] == "UNSUBSCRIBED"


# --- roles and portals ------------------------------------------------------------------------


def test_a_viewer_reads_everything_and_changes_nothing(
    server: Server, staff: Staff, portal: Portal
) -> None:
    email = unique("contact")
    subscribe(server, portal, email, portal.definitions[0])
    viewer = staff("viewer")
    target = f"/console/contacts/{email}?portal={portal.id}"
    page = viewer.page(target)
    assert page.status_code == 200
    assert email in page.text and "Save the status" not in page.text
    for action in ({"action": "unsubscribe_all"}, {"action": "erase", "confirm": email},
                   {"action": "status", "subscription": str(portal.definitions[0]),
                    "status": "UNSUBSCRIBED"}):  # fmt: skip
        answer = viewer.post(target, action)
        assert answer.status_code == 403
        assert "needs the editor role" in answer.text
    assert statuses(server, portal, email)[portal.definitions[0]] == "SUBSCRIBED"
    for path in ("/console/", "/console/contacts", f"/console/contacts?q={email[:5]}"):
        sep = "&" if "?" in path else "?"
        assert viewer.page(f"{path}{sep}portal={portal.id}").status_code == 200


def test_another_portals_data_is_never_visible(server: Server, signed_in: Operators) -> None:
    mine, theirs = server.new_portal(name="Mine"), server.new_portal(name="Theirs")
    secret = unique("their-contact")
    subscribe(server, theirs, secret, theirs.definitions[0])
    op = signed_in("admin", [mine.id])
    home = op.page("/console/")
    assert home.status_code == 200 and "Theirs" not in home.text
    for path in (
        f"/console/?portal={theirs.id}",
        f"/console/contacts?portal={theirs.id}&q={secret[:6]}",
        f"/console/contacts/{secret}?portal={theirs.id}",
        "/console/?portal=999999999",
        "/console/?portal=abc",
    ):
        answer = op.page(path)
        assert answer.status_code == 404, path
        assert secret not in answer.text
    found = op.page(f"/console/contacts?portal={mine.id}&q={secret[:6]}")
    assert found.status_code == 200 and secret not in found.text
    change = op.client.post(
        f"/console/contacts/{secret}?portal={theirs.id}",
        data={"csrf": csrf(home.text), "action": "unsubscribe_all"},
    )
    assert change.status_code == 404
    assert statuses(server, theirs, secret)[theirs.definitions[0]] == "SUBSCRIBED"


# --- what the pages change ------------------------------------------------------------------


def test_an_editors_change_is_in_the_ledger_with_the_console_user_as_actor(
    server: Server, staff: Staff, portal: Portal
) -> None:
    email = unique("contact")
    op = staff("editor")
    target = f"/console/contacts/{email}?portal={portal.id}"
    answer = op.post(
        target,
        {"action": "status", "subscription": str(portal.definitions[0]), "status": "SUBSCRIBED",
         "legal_basis": "CONSENT_WITH_NOTICE", "legal_basis_explanation": "Asked by phone"},
    )  # fmt: skip
    assert answer.status_code == 303
    assert statuses(server, portal, email)[portal.definitions[0]] == "SUBSCRIBED"
    [event] = history(server, portal, email)
    assert event["actor"] == f"console:{op.user.id}"
    assert event["source"] == "Console"
    assert event["legalBasis"] == "CONSENT_WITH_NOTICE"
    page = op.page(answer.headers["location"]).text
    assert op.user.email in page and "Asked by phone" in page and "Saved." in page


def test_finding_an_address_by_prefix_and_exactly(
    server: Server, staff: Staff, portal: Portal
) -> None:
    stem = f"find-{uuid.uuid4().hex[:6]}"
    addresses = [f"{stem}.{n}@example.com" for n in range(3)]
    for a in addresses:
        subscribe(server, portal, a, portal.definitions[0])
    op = staff("viewer")
    listed = op.page(f"/console/contacts?portal={portal.id}&q={stem.upper()}")
    assert listed.status_code == 200
    assert all(a in listed.text for a in addresses)
    exact = op.page(f"/console/contacts?portal={portal.id}&q={addresses[1]}")
    assert exact.status_code == 303
    assert exact.headers["location"].startswith(f"/console/contacts/{addresses[1]}")


def test_unsubscribe_from_all_and_an_erasure_that_must_be_typed(
    server: Server, staff: Staff, portal: Portal
) -> None:
    email = unique("contact")
    subscribe(server, portal, email, portal.definitions[0])
    op = staff("editor")
    target = f"/console/contacts/{email}?portal={portal.id}"
    assert op.post(target, {"action": "unsubscribe_all"}).status_code == 303
    assert set(statuses(server, portal, email).values()) == {"UNSUBSCRIBED"}
    wrong = op.post(target, {"action": "erase", "confirm": "someone@else.example"})
    assert wrong.status_code == 400 and "Type the address exactly" in wrong.text
    assert history(server, portal, email)[-1]["scope"] != "ERASURE"
    erased = op.post(target, {"action": "erase", "confirm": f"  {email.upper()} "})
    assert erased.status_code == 303 and "erased=" in erased.headers["location"]
    assert [e["scope"] for e in history(server, portal, email)][-1] == "ERASURE"
    assert "The address was erased." in op.page(erased.headers["location"]).text


def test_the_contact_page_offers_its_links_and_headers(
    server: Server, staff: Staff, portal: Portal
) -> None:
    email = unique("contact")
    op = staff("viewer")
    page = op.page(f"/console/contacts/{email}?portal={portal.id}").text
    assert "/hs/manage-preferences/unsubscribe?" in page
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in page


# --- hostile input ---------------------------------------------------------------------------


def test_hostile_input_in_every_field_is_refused_or_escaped(server: Server, staff: Staff) -> None:
    """Each value of HOSTILE in every query parameter and form field, on a portal of its own;
    one signed-in owner types them all."""
    op = staff("owner")
    for value in HOSTILE:
        portal = server.new_portal()
        email = unique("contact")
        target = f"/console/contacts/{email}?portal={portal.id}"
        answers = [
            op.client.get("/console/contacts", params={"portal": portal.id, "q": value}),
            op.client.get("/console/", params={"portal": value}),
            op.client.get("/console/sign-in", params={"next": value}),
            op.client.get(
                f"/console/contacts/{quote(value, safe='')}", params={"portal": portal.id}
            ),
        ]
        for form in (
            {"action": value},
            {"action": "status", "subscription": value, "status": "SUBSCRIBED"},
            {"action": "status", "subscription": str(portal.definitions[0]), "status": value},
            {"action": "status", "subscription": str(portal.definitions[0]),
             "status": "SUBSCRIBED", "legal_basis": value},
            {"action": "status", "subscription": str(portal.definitions[0]),
             "status": "SUBSCRIBED", "legal_basis_explanation": value},
            {"action": "erase", "confirm": value},
        ):  # fmt: skip
            answers.append(op.post(target, form))
        with httpx.Client(base_url=server.base_url, timeout=30) as anonymous:
            token = signin_form(anonymous)
            answers.append(anonymous.post(
                "/console/sign-in",
                data={"signin_token": token, "email": value, "password": value, "next": value},
            ))  # fmt: skip
        assert_refused_or_escaped(op, answers, value)


def test_console_errors_are_pages_in_the_browsers_language(server: Server) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        missing = client.get("/console/no-such-page", headers={"accept-language": "de"})
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("text/html")
        assert '<html lang="de">' in missing.text
        wrong_method = client.delete("/console/contacts")
        assert wrong_method.status_code == 405
        assert "GET" in wrong_method.headers["allow"]
        assert client.get("/console").headers["location"] == "/console/"
        assert (
            client.get("/console/sign-in")
            .headers["content-security-policy"]
            .startswith("default-src 'none'")
        )
