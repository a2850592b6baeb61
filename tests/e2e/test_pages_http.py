"""The preference pages over raw HTTP: form tokens (CSRF), security headers, friendly errors,
escaping, languages, brands, and the ledger entries a page writes (actor and sources)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from commpref.services import admin, links
from commpref.services.context import now_ms
from commpref.services.links import LinkClaims
from commpref.web import render
from tests.e2e.http_helpers import B, url
from tests.support.server import COMMPREF, Portal, Server, free_port

EMAIL = "reader@example.com"
PAGES = "/hs/manage-preferences"
CSP = (
    "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}
CSRF = re.compile(r'<input type="hidden" name="csrf" value="([A-Za-z0-9_-]+)">')
ACTION = re.compile(r'<form method="post" action="([^"]+)">')


def generate(server: Server, portal: Portal, email: str = EMAIL, **body: Any) -> dict[str, str]:
    with server.client(portal.token) as c:
        r = c.post(
            url(B, "links/generate"),
            params={"channel": "EMAIL", "businessUnitId": body.pop("businessUnitId", 0)},
            json={"subscriberIdString": email, **body},
        )
    assert r.status_code == 200, r.text
    return dict(r.json())


def statuses(server: Server, portal: Portal, email: str = EMAIL) -> dict[int, dict[str, Any]]:
    with server.client(portal.token) as c:
        r = c.get(url(B, f"statuses/{email}"), params={"channel": "EMAIL"})
    assert r.status_code == 200, r.text
    return {x["subscriptionId"]: x for x in r.json()["results"]}


def state(server: Server, portal: Portal, email: str = EMAIL) -> list[str]:
    rows = statuses(server, portal, email)
    return [rows[d]["status"] for d in sorted(rows)]


def wide(server: Server, portal: Portal, email: str = EMAIL) -> list[tuple[int | None, str]]:
    with server.client(portal.token) as c:
        r = c.get(url(B, f"statuses/{email}/unsubscribe-all"), params={"channel": "EMAIL"})
    assert r.status_code == 200, r.text
    return [(x.get("businessUnitId"), x["status"]) for x in r.json()["results"]]


def ledger(server: Server, portal: Portal) -> list[Any]:
    return [e.event for e in server.admin(lambda store: store.events(portal.id))]


def form(page: httpx.Response) -> tuple[str, str]:
    """(absolute action URL, form token) of the one form on a page."""
    assert page.status_code == 200, page.text
    action, token = ACTION.search(page.text), CSRF.search(page.text)
    assert action is not None and token is not None
    target = str(page.url.join(action.group(1).replace("&amp;", "&")))
    return target, token.group(1)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["d"][0]


def stored_key(server: Server) -> bytes:
    key = server.admin(lambda store: store.get_secret(links.LINK_KEY_SECRET))
    assert key
    return str(key).encode()


def assert_page(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-store"
    assert "set-cookie" not in r.headers
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value, name


# --- security headers and friendly errors ---------------------------------------------------------


def test_every_page_and_error_carries_the_security_headers(server: Server, portal: Portal) -> None:
    generated = generate(server, portal, subscriptionId=portal.definitions[0])
    broken = generated["managePreferencesUrl"].replace("&d=", "&d=x")
    with httpx.Client(timeout=30) as web:
        for link in generated.values():
            if link.startswith("http"):
                assert_page(web.get(link), 200)
        assert_page(web.get(broken), 400)
        assert_page(web.get(f"{server.base_url}{PAGES}/nowhere"), 404)
        assert_page(web.post(generated["managePreferencesUrl"], data={}), 403)
        r = web.put(generated["managePreferencesUrl"])
        assert_page(r, 405)
        assert r.headers["allow"] == "GET, HEAD, POST"
        target, token = form(web.get(generated["managePreferencesUrl"]))
        assert_page(web.post(target, data={"csrf": token}), 200)
        css = web.get(f"{server.base_url}{PAGES}/static/pages.css")
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("page", ["unsubscribe", "unsubscribe-all", "unsubscribe-single"])
def test_bad_links_get_a_friendly_page_never_a_change_or_a_500(
    server: Server, portal: Portal, page: str
) -> None:
    generated = generate(server, portal)
    token = token_of(generated["managePreferencesUrl"])
    key = stored_key(server)
    sid = str(portal.definitions[0])
    cases = [
        (token[:-5], 400, "This link does not work"),  # truncated
        (token[:20] + ("B" if token[20] == "A" else "A") + token[21:], 400, "does not work"),
        (token[:10] + "+" + token[10:], 400, "does not work"),
        ("", 400, "does not work"),
        ("%00%ff", 400, "does not work"),
        (links.sign(LinkClaims(portal.id, EMAIL, 0, "en", 1), b"foreign key"), 400, "not work"),
        (links.sign(LinkClaims(987_654_321, EMAIL, 0, "en", 1), key), 404, "Nothing to show here"),
    ]
    with httpx.Client(timeout=30) as web:
        for bad, status, text in cases:
            target = f"{server.base_url}{PAGES}/{page}?d={bad}&subscriptionId={sid}"
            r = web.get(target)
            assert_page(r, status)
            assert text in r.text
            assert EMAIL not in r.text
            assert web.post(target, data={"csrf": "x", "subscription": sid}).status_code == status
    assert ledger(server, portal) == []
    assert statuses(server, portal)[portal.definitions[0]]["status"] == "NOT_SPECIFIED"


def test_error_pages_speak_the_link_language_or_the_browser_one(
    server: Server, portal: Portal
) -> None:
    base = f"{server.base_url}{PAGES}/unsubscribe?d=broken"
    assert "Dieser Link funktioniert nicht" in httpx.get(base + "&languagePreference=de").text
    r = httpx.get(base, headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8"})
    assert "Ce lien ne fonctionne pas" in r.text
    assert '<html lang="fr">' in r.text
    assert "This link does not work" in httpx.get(base + "&languagePreference=xx").text


# --- form tokens (CSRF) --------------------------------------------------------------------------


def test_a_form_post_without_a_valid_form_token_changes_nothing(
    server: Server, portal: Portal
) -> None:
    generated = generate(server, portal, subscriptionId=portal.definitions[0])
    other = generate(server, portal, "someone.else@example.com")
    with httpx.Client(timeout=30) as web:
        manage, manage_token = form(web.get(generated["managePreferencesUrl"]))
        every, every_token = form(web.get(generated["unsubscribeAllUrl"]))
        single, single_token = form(web.get(generated["unsubscribeSingleUrl"]))
        _, foreign_token = form(web.get(other["managePreferencesUrl"]))
        altered = manage_token[:-2] + ("AA" if manage_token[-2:] != "AA" else "BB")
        nothing_ticked: dict[str, Any] = {"subscription": []}
        refused: list[tuple[str, dict[str, Any], dict[str, str]]] = [
            (manage, nothing_ticked, {}),  # no token at all
            (manage, {**nothing_ticked, "csrf": ""}, {}),
            (manage, {**nothing_ticked, "csrf": altered}, {}),
            (manage, {**nothing_ticked, "csrf": every_token}, {}),  # another form's token
            (manage, {**nothing_ticked, "csrf": foreign_token}, {}),  # another link's token
            (manage, {**nothing_ticked, "csrf": [manage_token, altered]}, {}),  # two tokens
            (manage, {"csrf": altered}, {"Cookie": f"csrf={altered}"}),  # a cookie is no help
            (manage, {"csrf": manage_token}, {"Sec-Fetch-Site": "cross-site"}),  # another site
            (manage, {"csrf": manage_token}, {"Sec-Fetch-Site": "same-site"}),
            (every, {}, {}),
            (every, {"csrf": manage_token}, {}),
            (single, {"csrf": every_token}, {}),
            (single.replace(f"subscriptionId={portal.definitions[0]}",
                            f"subscriptionId={portal.definitions[1]}"),
             {"csrf": single_token}, {}),  # the type in the URL (only: not inside d=) changed
        ]  # fmt: skip
        for target, data, headers in refused:
            r = web.post(target, data=data, headers=headers)
            assert_page(r, 403)
            assert "Nothing was changed" in r.text
            assert "Open the page again" in r.text
        assert ledger(server, portal) == []
        assert state(server, portal) == ["NOT_SPECIFIED"] * 3

        # The genuine token works, from the same site or without fetch metadata.
        r = web.post(single, data={"csrf": single_token}, headers={"Sec-Fetch-Site": "same-origin"})
        assert_page(r, 200)
        assert "You have been unsubscribed" in r.text
        assert state(server, portal) == ["UNSUBSCRIBED", "NOT_SPECIFIED", "NOT_SPECIFIED"]
        assert_page(web.post(every, data={"csrf": every_token}), 200)
        assert wide(server, portal) == [(None, "UNSUBSCRIBED")]


def test_an_unreadable_or_oversized_form_changes_nothing(server: Server, portal: Portal) -> None:
    link = generate(server, portal)["unsubscribeAllUrl"]
    with httpx.Client(timeout=30) as web:
        r = web.post(
            link, content=b"garbage", headers={"Content-Type": "multipart/form-data; boundary=x"}
        )
        assert_page(r, 400)
        assert "The form could not be read" in r.text
        assert "Test portal" in r.text  # the link was fine: the page is branded
        r = web.post(link, content=b"csrf=" + b"A" * 70_000)
        assert_page(r, 413)
        r = web.post(
            link, content=b"\xff\xfe", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert_page(r, 400)
        assert "The form could not be read" in r.text
    assert ledger(server, portal) == []


# --- what a save writes ---------------------------------------------------------------------------


def test_saving_writes_only_what_changed_with_the_page_actor_and_sources(
    server: Server, portal: Portal
) -> None:
    d1, d2, d3 = portal.definitions
    with server.client(portal.token) as api:  # d3 was unsubscribed through the API
        body = {"channel": "EMAIL", "statusState": "UNSUBSCRIBED", "subscriptionId": d3}
        assert api.post(url(B, f"statuses/{EMAIL}"), json=body).status_code == 200
    with httpx.Client(timeout=30) as web:
        page = web.get(generate(server, portal)["managePreferencesUrl"])
        assert re.search(rf'value="{d3}"\s*aria-describedby', page.text)  # shown unticked
        target, token = form(page)
        # Keep d1 (unchanged: nothing written), untick d2, tick d3 (resubscribe); a forged id
        # of another portal and junk are ignored.
        r = web.post(
            target, data={"csrf": token, "subscription": [str(d1), str(d3), "999999", "x"]}
        )
    assert_page(r, 200)
    assert "Your preferences have been saved" in r.text
    rows = statuses(server, portal)
    assert (rows[d1]["status"], rows[d1]["source"]) == ("NOT_SPECIFIED", "Not specified")
    assert (rows[d2]["status"], rows[d2]["source"]) == (
        "UNSUBSCRIBED",
        "Self Service Unsubscription",
    )
    assert (rows[d3]["status"], rows[d3]["source"]) == ("SUBSCRIBED", "Self Service Resubscription")
    assert rows[d3]["legalBasis"] is None  # not a GDPR portal
    events = ledger(server, portal)[1:]  # after the API's own write
    assert [(e.actor, e.source) for e in events] == [
        ("preference_page", "Self Service Unsubscription"),
        ("preference_page", "Self Service Resubscription"),
    ]
    assert [[(c.target, c.new.value) for c in e.changes] for e in events] == [
        [(d2, "UNSUBSCRIBED")],
        [(d3, "SUBSCRIBED")],
    ]
    assert events[0].correlation_id == events[1].correlation_id  # one page request

    # Saving the same choices again writes nothing.
    with httpx.Client(timeout=30) as web:
        target, token = form(web.get(generate(server, portal)["managePreferencesUrl"]))
        web.post(target, data={"csrf": token, "subscription": [str(d1), str(d3)]})
    assert len(ledger(server, portal)) == 3


def test_unsubscribe_from_all_on_the_manage_form_overrides_the_boxes(
    server: Server, portal: Portal
) -> None:
    with httpx.Client(timeout=30) as web:
        target, token = form(web.get(generate(server, portal)["managePreferencesUrl"]))
        subscription = [str(d) for d in portal.definitions]
        r = web.post(
            target, data={"csrf": token, "subscription": subscription, "unsubscribe_all": "1"}
        )
    assert_page(r, 200)
    assert "is unsubscribed from all emails" in r.text
    assert wide(server, portal) == [(None, "UNSUBSCRIBED")]
    assert state(server, portal) == ["UNSUBSCRIBED"] * 3
    [event] = ledger(server, portal)
    assert (event.actor, event.source) == ("preference_page", "Self Service Unsubscription")


def test_in_a_gdpr_portal_an_opt_in_records_consent_from_the_page(server: Server) -> None:
    portal = server.new_portal(gdpr=True)
    d1, d2, _ = portal.definitions
    with server.client(portal.token) as api:
        opt_out = url(B, f"statuses/{EMAIL}/unsubscribe-all")
        assert api.post(opt_out, params={"channel": "EMAIL"}).status_code == 200
    with server.client(portal.token) as api:  # d1 lifted by the API, then unsubscribed again
        body = {
            "channel": "EMAIL",
            "statusState": "NOT_SPECIFIED",
            "subscriptionId": d1,
        }
        assert api.post(url(B, f"statuses/{EMAIL}"), json=body).status_code == 200
    with httpx.Client(timeout=30) as web:
        page = web.get(generate(server, portal)["managePreferencesUrl"])
        assert "checked" not in page.text.split("<fieldset")[1].split("</fieldset>")[0]
        target, token = form(page)
        r = web.post(target, data={"csrf": token, "subscription": [str(d1), str(d2)]})
    assert_page(r, 200)
    rows = statuses(server, portal)
    for d in (d1, d2):
        assert rows[d]["status"] == "SUBSCRIBED"
        assert rows[d]["legalBasis"] == "CONSENT_WITH_NOTICE"
        assert rows[d]["legalBasisExplanation"] == "Preference page"
    assert rows[d2]["source"] == "Self Service Resubscription"  # it was opted out
    assert rows[d1]["source"] == "Self Service Resubscription"
    assert wide(server, portal) == [(None, "SUBSCRIBED")]  # the opt-out was lifted
    page_events = [e for e in ledger(server, portal) if e.actor == "preference_page"]
    assert [e.source for e in page_events] == ["Self Service Resubscription"]
    changes = page_events[0].changes
    assert {
        (c.legal_basis, c.legal_basis_explanation) for c in changes if c.kind.value != "WIDE"
    } == {("CONSENT_WITH_NOTICE", "Preference page")}


def test_a_first_opt_in_in_a_gdpr_portal_is_a_self_service_subscription(server: Server) -> None:
    portal = server.new_portal(gdpr=True)
    d1 = portal.definitions[0]
    with httpx.Client(timeout=30) as web:
        target, token = form(web.get(generate(server, portal)["managePreferencesUrl"]))
        assert_page(web.post(target, data={"csrf": token, "subscription": str(d1)}), 200)
    row = statuses(server, portal)[d1]
    assert (row["status"], row["source"]) == ("SUBSCRIBED", "Self Service Subscription")
    assert (row["legalBasis"], row["legalBasisExplanation"]) == (
        "CONSENT_WITH_NOTICE",
        "Preference page",
    )
    assert [(e.actor, e.source) for e in ledger(server, portal)] == [
        ("preference_page", "Self Service Subscription")
    ]


# --- brands, languages, escaping ---------------------------------------------------------------


def test_a_brand_link_shows_and_changes_that_brand_only(server: Server) -> None:
    portal = server.new_portal(brands=True, name="Group")
    server.admin(admin.create_business_unit, portal_id=portal.id, business_unit_id=5, name="Five")
    five = server.admin(
        admin.create_definition,
        portal_id=portal.id,
        name="Brand five news",
        description="News of brand five.",
        business_unit_id=5,
    )
    generated = generate(server, portal, businessUnitId=5)
    with httpx.Client(timeout=30) as web:
        page = web.get(generated["managePreferencesUrl"])
        assert "Brand five news" in page.text
        assert "Marketing Information" not in page.text  # brand 0's types are not listed
        token = token_of(generated["managePreferencesUrl"])
        single = f"{server.base_url}{PAGES}/unsubscribe-single?d={token}"
        assert web.get(f"{single}&subscriptionId={portal.definitions[0]}").status_code == 404
        assert web.get(f"{single}&subscriptionId={five.id}").status_code == 200
        unknown_unit = links.sign(LinkClaims(portal.id, EMAIL, 42, "en", 1), stored_key(server))
        r = web.get(f"{server.base_url}{PAGES}/unsubscribe?d={unknown_unit}")
        assert_page(r, 404)
        target, csrf = form(web.get(generated["unsubscribeAllUrl"]))
        assert_page(web.post(target, data={"csrf": csrf}), 200)
    assert wide(server, portal) == [(5, "UNSUBSCRIBED")]
    rows = statuses(server, portal)
    assert rows[five.id]["status"] == "UNSUBSCRIBED"
    assert {rows[d]["status"] for d in portal.definitions} == {"NOT_SPECIFIED"}


def test_languages_fall_back_from_the_link_to_the_portal_then_english(server: Server) -> None:
    portal = server.new_portal()
    d1 = portal.definitions[0]
    server.admin(admin.update_portal, portal_id=portal.id, default_language="de")

    def translate(code: str, name: str) -> None:
        def set_it(store: Any) -> Any:
            return store.set_translation(
                definition_id=d1, language_code=code, name=name, description="", now=now_ms()
            )

        server.admin(set_it)

    translate("nl", "Marketinginformatie")
    translate("de", "Marketing-Informationen")
    with httpx.Client(timeout=30) as web:
        # Dutch link: types in Dutch, the page's own strings in the portal's German.
        page = web.get(generate(server, portal, language="nl")["managePreferencesUrl"])
        assert '<html lang="de">' in page.text and "E-Mail-Einstellungen" in page.text
        assert (
            '<label for="type-' + str(d1) + '" lang="nl">Marketinginformatie</label>' in page.text
        )
        # No language asked: the portal's German for both.
        page = web.get(generate(server, portal)["managePreferencesUrl"])
        assert f'<label for="type-{d1}">Marketing-Informationen</label>' in page.text
        # A portal in a language the pages do not speak: English strings.
        server.admin(admin.update_portal, portal_id=portal.id, default_language="pt")
        page = web.get(generate(server, portal)["managePreferencesUrl"])
        assert '<html lang="en">' in page.text and "Email preferences" in page.text
        assert 'lang="pt">Marketing Information</label>' in page.text


def test_portal_and_type_names_are_escaped(server: Server) -> None:
    portal = server.new_portal(name='<script>alert("portal")</script>')
    evil = server.admin(
        admin.create_definition,
        portal_id=portal.id,
        name="<img src=x onerror=alert(1)>",
        description='"><script>alert(2)</script>',
    )
    generated = generate(server, portal, subscriptionId=evil.id)
    with httpx.Client(timeout=30) as web:
        for field in ("managePreferencesUrl", "unsubscribeSingleUrl"):
            text = web.get(generated[field]).text
            assert "<script>" not in text and "<img" not in text
            assert "&lt;script&gt;alert(&#34;portal&#34;)&lt;/script&gt;" in text
            assert "&lt;img src=x onerror=alert(1)&gt;" in text


# --- start-up -------------------------------------------------------------------------------------


def test_the_server_refuses_a_maximum_age_below_60_days(server: Server) -> None:
    env = {**os.environ, "COMMPREF_LINK_MAX_AGE_DAYS": "59"}
    done = subprocess.run(
        [COMMPREF, "serve", "--port", str(free_port()), "--database-url", server.database_url],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: invalid setting: COMMPREF_LINK_MAX_AGE_DAYS must be 0 (links never expire) "
        "or at least 60 days, not 59"
    )


@pytest.mark.parametrize(
    ("language", "page", "heading"),
    [
        ("en", "en", "Email preferences"),
        ("de", "de", "E-Mail-Einstellungen"),
        ("fr", "fr", "Préférences d’e-mail"),
        ("de-DE", "de", "E-Mail-Einstellungen"),  # a regional tag: its base language
        ("fr-CA", "fr", "Préférences d’e-mail"),
    ],
)
def test_a_link_in_a_language_of_the_pages_speaks_it_without_any_translation(
    server: Server, language: str, page: str, heading: str
) -> None:
    portal = server.new_portal()  # default language English, no type translated
    links = generate(server, portal, language=language)
    assert f"languagePreference={page}&" in links["managePreferencesUrl"]
    with httpx.Client() as c:
        r = c.get(links["managePreferencesUrl"])
    assert r.status_code == 200
    assert f'<html lang="{page}"' in r.text
    assert f"<h1>{heading}</h1>" in r.text


def test_the_cli_helper_honours_the_language_too(server: Server) -> None:
    portal = server.new_portal()
    out = server.cli("list-unsubscribe", "--portal", str(portal.id), EMAIL, "--language", "fr")
    assert "languagePreference=fr&" in out.stdout
    link = re.search(r"<(http[^>]+)>", out.stdout)
    assert link is not None
    parts = urlsplit(link.group(1))  # the CLI names the configured origin, not this server's
    with httpx.Client() as c:
        r = c.get(f"{server.base_url}{parts.path}?{parts.query}")
    assert r.status_code == 200
    assert '<html lang="fr"' in r.text


def test_the_cli_helper_warns_when_the_links_are_not_https(server: Server) -> None:
    portal = server.new_portal()
    args = ["list-unsubscribe", "--portal", str(portal.id), EMAIL]
    plain = server.cli(*args)
    assert plain.stdout.startswith("List-Unsubscribe: <http://")
    assert "only https" in plain.stderr and "COMMPREF_PUBLIC_BASE_URL" in plain.stderr
    secure = subprocess.run(
        [COMMPREF, *args, "--database-url", server.database_url],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COMMPREF_PUBLIC_BASE_URL": "https://prefs.example.com"},
    )
    assert secure.stdout.startswith("List-Unsubscribe: <https://prefs.example.com/")
    assert secure.stderr == ""


def test_a_branded_portal_dresses_its_pages_and_the_csp_allows_just_that(
    server: Server,
) -> None:
    portal = server.new_portal(name="Internal name")
    server.admin(
        admin.update_portal,
        portal_id=portal.id,
        brand_name="Northwind <Coffee>",
        brand_logo_url="https://cdn.northwind.example/logo.png",
        brand_colour="#fde047",  # light: the masthead's text turns dark
    )
    link = generate(server, portal)["managePreferencesUrl"]
    page = httpx.get(link)
    assert page.status_code == 200
    assert "Northwind &lt;Coffee&gt;" in page.text and "Internal name" not in page.text
    assert '<img class="logo" src="https://cdn.northwind.example/logo.png"' in page.text
    style = re.search(r"<style>(.*?)</style>", page.text)
    assert style is not None
    assert "--mast:#fde047;--on-mast:#111827" in style.group(1)
    csp = page.headers["content-security-policy"]
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'self' 'sha256-{digest}'" in csp
    assert csp.endswith("; img-src https://cdn.northwind.example")
    assert "but the logo of Northwind &lt;Coffee&gt;" in page.text
    server.admin(admin.update_portal, portal_id=portal.id, brand_colour="#1e3a8a")
    dark = httpx.get(link)
    assert "--mast:#1e3a8a;--on-mast:#ffffff" in dark.text
    plain = server.new_portal(name="Plain")
    unbranded = httpx.get(generate(server, plain)["managePreferencesUrl"])
    assert "<style>" not in unbranded.text and "<img" not in unbranded.text
    assert unbranded.headers["content-security-policy"] == render.CSP
