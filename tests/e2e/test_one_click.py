"""RFC 8058 one-click unsubscribe against a real server: the POST a mailbox provider sends,
replays, both body encodings, bad tokens, GETs that change nothing, key rotation and expiry,
and the List-Unsubscribe headers from the CLI."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from commpref.services import links
from commpref.services.context import now_ms
from commpref.services.links import LinkClaims
from tests.conftest import BACKENDS
from tests.e2e.http_helpers import B, url
from tests.support.server import COMMPREF, Portal, Server, started_server

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
EMAIL = "reader@example.com"
PAGES = "/hs/manage-preferences"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}
PROVIDER_HEADERS = {  # what a mailbox provider's unsubscribe robot might add
    "User-Agent": "Mozilla/5.0 (compatible; OneClickUnsubscribe/1.0)",
    "Accept": "*/*",
    "Accept-Language": "de-DE,de;q=0.9",
    "Origin": "https://mail.example.net",
    "Referer": "https://mail.example.net/inbox",
    "Sec-Fetch-Site": "cross-site",
    "Cookie": "session=stale",
    "Authorization": "Bearer not-a-commpref-token",
    "X-Forwarded-For": "203.0.113.7",
}
DAY_S = 86_400


def generate(server: Server, portal: Portal, email: str = EMAIL, **body: Any) -> dict[str, str]:
    with server.client(portal.token) as c:
        r = c.post(
            url(B, "links/generate"),
            params={"channel": "EMAIL"},
            json={"subscriberIdString": email, **body},
        )
    assert r.status_code == 200, r.text
    return dict(r.json())


def statuses(server: Server, portal: Portal, email: str = EMAIL) -> dict[int, dict[str, Any]]:
    with server.client(portal.token) as c:
        r = c.get(url(B, f"statuses/{email}"), params={"channel": "EMAIL"})
    assert r.status_code == 200, r.text
    return {x["subscriptionId"]: x for x in r.json()["results"]}


def wide(server: Server, portal: Portal, email: str = EMAIL) -> list[str]:
    with server.client(portal.token) as c:
        r = c.get(url(B, f"statuses/{email}/unsubscribe-all"), params={"channel": "EMAIL"})
    assert r.status_code == 200, r.text
    return [x["status"] for x in r.json()["results"]]


def ledger(server: Server, portal: Portal) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(actor, source, [(kind, new status), …]) per ledger entry, oldest first."""
    stored = server.admin(lambda store: store.events(portal.id))
    return [
        (e.event.actor, e.event.source, [(c.kind.value, c.new.value) for c in e.event.changes])
        for e in stored
    ]


def stored_key(server: Server) -> bytes:
    key = server.admin(lambda store: store.get_secret(links.LINK_KEY_SECRET))
    assert key
    return str(key).encode()


def page_url(server: Server, page: str, token: str, **extra: str) -> str:
    query = "&".join(
        [f"languagePreference=en&d={token}&v=3", *(f"{k}={v}" for k, v in extra.items())]
    )
    return f"{server.base_url}{PAGES}/{page}?{query}"


def multipart(
    fields: dict[str, str], boundary: str = "----commpref7MA4YWxkTrZu0gW"
) -> tuple[bytes, str]:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


def assert_one_click_answer(r: httpx.Response) -> None:
    assert r.status_code == 200, r.text
    assert r.content == b"Unsubscribed\n"  # tiny
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert "location" not in r.headers and "set-cookie" not in r.headers
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value


# --- the POST ------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [{}, PROVIDER_HEADERS], ids=["bare", "provider-headers"])
def test_one_click_unsubscribes_from_all_at_once(
    server: Server, portal: Portal, extra: dict[str, str]
) -> None:
    link = generate(server, portal)["unsubscribeAllUrl"]
    with httpx.Client(follow_redirects=False, timeout=30) as web:
        r = web.post(link, data=ONE_CLICK, headers=extra)
    assert_one_click_answer(r)
    assert wide(server, portal) == ["UNSUBSCRIBED"]
    rows = statuses(server, portal)
    assert {(x["status"], x["source"]) for x in rows.values()} == {
        ("UNSUBSCRIBED", "Self Service Unsubscription")
    }
    assert ledger(server, portal) == [
        (
            "one_click",
            "Self Service Unsubscription",
            [("SUBSCRIPTION", "UNSUBSCRIBED")] * 3 + [("WIDE", "UNSUBSCRIBED")],
        )
    ]


def test_a_replayed_one_click_changes_nothing_more(server: Server, portal: Portal) -> None:
    link = generate(server, portal)["unsubscribeAllUrl"]
    with httpx.Client(follow_redirects=False, timeout=30) as web:
        assert_one_click_answer(web.post(link, data=ONE_CLICK))
        before = statuses(server, portal)
        assert_one_click_answer(web.post(link, data=ONE_CLICK))
        assert_one_click_answer(web.post(link, data=ONE_CLICK))
    assert statuses(server, portal) == before  # timestamps included
    assert len(ledger(server, portal)) == 1


def test_one_click_accepts_multipart_form_data(server: Server, portal: Portal) -> None:
    generated = generate(server, portal, subscriptionId=portal.definitions[1])
    body, content_type = multipart(ONE_CLICK)
    with httpx.Client(follow_redirects=False, timeout=30) as web:
        r = web.post(
            generated["unsubscribeSingleUrl"], content=body, headers={"Content-Type": content_type}
        )
        assert_one_click_answer(r)
        rows = statuses(server, portal)
        assert [rows[d]["status"] for d in portal.definitions] == [
            "NOT_SPECIFIED",
            "UNSUBSCRIBED",
            "NOT_SPECIFIED",
        ]
        assert wide(server, portal) == []
        r = web.post(
            generated["unsubscribeAllUrl"], content=body, headers={"Content-Type": content_type}
        )
        assert_one_click_answer(r)
    assert wide(server, portal) == ["UNSUBSCRIBED"]
    assert [actor for actor, _, _ in ledger(server, portal)] == ["one_click", "one_click"]


def test_one_click_on_the_single_type_url_leaves_the_others(server: Server, portal: Portal) -> None:
    d = portal.definitions[0]
    link = generate(server, portal, subscriptionId=d)["unsubscribeSingleUrl"]
    with httpx.Client(follow_redirects=False, timeout=30) as web:
        for _ in range(2):
            assert_one_click_answer(web.post(link, data=ONE_CLICK))
    rows = statuses(server, portal)
    assert rows[d]["status"] == "UNSUBSCRIBED"
    assert rows[d]["source"] == "Self Service Unsubscription"
    assert [rows[x]["status"] for x in portal.definitions[1:]] == ["NOT_SPECIFIED"] * 2
    assert ledger(server, portal) == [
        ("one_click", "Self Service Unsubscription", [("SUBSCRIPTION", "UNSUBSCRIBED")])
    ]


def test_one_click_tolerates_a_missing_content_type(server: Server, portal: Portal) -> None:
    link = generate(server, portal)["unsubscribeAllUrl"]
    r = httpx.post(link, content=b"List-Unsubscribe=One-Click", timeout=30)
    assert_one_click_answer(r)
    assert wide(server, portal) == ["UNSUBSCRIBED"]


# --- what must not unsubscribe ---------------------------------------------------------------


def test_a_get_or_head_never_changes_anything(server: Server, portal: Portal) -> None:
    generated = generate(server, portal, subscriptionId=portal.definitions[0])
    with httpx.Client(follow_redirects=False, timeout=30) as web:
        for field in ("managePreferencesUrl", "unsubscribeAllUrl", "unsubscribeSingleUrl"):
            for _ in range(2):  # a link scanner, then the recipient
                r = web.get(generated[field])
                assert r.status_code == 200
                assert r.headers["content-type"] == "text/html; charset=utf-8"
                assert web.head(generated[field]).status_code == 200
            # Even a GET carrying the one-click pair in its query string.
            assert web.get(generated[field] + "&List-Unsubscribe=One-Click").status_code == 200
    assert ledger(server, portal) == []
    assert wide(server, portal) == []
    stored = server.admin(lambda store: store.read_subscribers(portal.id, [EMAIL]))
    assert stored == {}  # not even a subscriber record


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"List-Unsubscribe=Two-Clicks",
        b"Unsubscribe=One-Click",
        b'{"List-Unsubscribe":"One-Click"}',
    ],
    ids=["empty", "wrong-value", "wrong-name", "json"],
)
def test_other_posts_are_forms_and_need_a_form_token(
    server: Server, portal: Portal, body: bytes
) -> None:
    link = generate(server, portal)["unsubscribeAllUrl"]
    r = httpx.post(
        link, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 403
    assert "Nothing was changed" in r.text
    assert ledger(server, portal) == [] and wide(server, portal) == []


def test_the_manage_url_is_not_a_one_click_url(server: Server, portal: Portal) -> None:
    r = httpx.post(generate(server, portal)["managePreferencesUrl"], data=ONE_CLICK, timeout=30)
    assert r.status_code == 403
    assert ledger(server, portal) == []


def test_bad_tokens_change_nothing_and_never_answer_500(server: Server, portal: Portal) -> None:
    generated = generate(server, portal)
    token = parse_qs(urlsplit(generated["unsubscribeAllUrl"]).query)["d"][0]
    key = stored_key(server)
    flipped = token[:15] + ("A" if token[15] != "A" else "B") + token[16:]
    cases = {
        "tampered": (flipped, 400),
        "truncated": (token[:-6], 400),
        "extended": (token + "AAAA", 400),
        "empty": ("", 400),
        "junk": ("not-a-token", 400),
        "other-server": (links.sign(LinkClaims(portal.id, EMAIL, 0, "en", 1), b"elsewhere"), 400),
        "unknown-portal": (links.sign(LinkClaims(987_654_321, EMAIL, 0, "en", 1), key), 404),
    }
    with httpx.Client(follow_redirects=False, timeout=30) as web:
        for name, (bad, status) in cases.items():
            for page in ("unsubscribe-all", "unsubscribe-single"):
                target = page_url(server, page, bad, subscriptionId=str(portal.definitions[0]))
                r = web.post(target, data=ONE_CLICK)
                assert r.status_code == status, (name, page, r.text)
                assert r.headers["content-type"] == "text/html; charset=utf-8"
                assert "<h1" in r.text
        r = web.post(f"{server.base_url}{PAGES}/unsubscribe-all", data=ONE_CLICK)  # no `d`
        assert r.status_code == 400
    assert ledger(server, portal) == []


def test_a_type_of_another_portal_or_an_unknown_one_is_404(server: Server, portal: Portal) -> None:
    other = server.new_portal()
    token = parse_qs(urlsplit(generate(server, portal)["unsubscribeAllUrl"]).query)["d"][0]
    with httpx.Client(follow_redirects=False, timeout=30) as web:
        for sid in (str(other.definitions[0]), "999999999", "abc", "", "-1"):
            r = web.post(
                page_url(server, "unsubscribe-single", token, subscriptionId=sid), data=ONE_CLICK
            )
            assert r.status_code == 404, sid
    assert ledger(server, portal) == [] and ledger(server, other) == []


# --- rotation and expiry on a server with configured keys ------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def keyed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server whose links are signed by "new-key", still verify under "old-key", and
    open the pages for 60 days."""
    tmp: Path = tmp_path_factory.mktemp("keyed")
    env = {"COMMPREF_LINK_SIGNING_KEYS": "new-key, old-key", "COMMPREF_LINK_MAX_AGE_DAYS": "60"}
    with started_server(request.param, tmp, env=env) as srv:
        yield srv


def test_links_are_signed_with_the_first_key_and_old_keys_still_work(keyed: Server) -> None:
    portal = keyed.new_portal()
    token = parse_qs(urlsplit(generate(keyed, portal)["unsubscribeAllUrl"]).query)["d"][0]
    assert links.verify(token, (b"new-key",)) is not None
    assert links.verify(token, (b"old-key",)) is None
    recent = now_ms() // 1000 - 10 * DAY_S
    old = links.sign(LinkClaims(portal.id, EMAIL, 0, "en", recent), b"old-key")
    retired = links.sign(LinkClaims(portal.id, EMAIL, 0, "en", recent), b"retired-key")
    assert httpx.get(page_url(keyed, "unsubscribe", old)).status_code == 200
    assert httpx.get(page_url(keyed, "unsubscribe", retired)).status_code == 400
    assert (
        httpx.post(page_url(keyed, "unsubscribe-all", retired), data=ONE_CLICK).status_code == 400
    )
    assert ledger(keyed, portal) == []
    assert_one_click_answer(httpx.post(page_url(keyed, "unsubscribe-all", old), data=ONE_CLICK))
    assert wide(keyed, portal) == ["UNSUBSCRIBED"]


def test_an_expired_link_hides_the_pages_but_one_click_still_unsubscribes(keyed: Server) -> None:
    portal = keyed.new_portal()
    issued = now_ms() // 1000 - 61 * DAY_S
    token = links.sign(LinkClaims(portal.id, EMAIL, 0, "en", issued), b"new-key")
    for page in ("unsubscribe", "unsubscribe-all"):
        r = httpx.get(page_url(keyed, page, token))
        assert r.status_code == 400
        assert "This link has expired" in r.text
        assert EMAIL not in r.text  # an expired link reveals nothing
    fresh = links.sign(LinkClaims(portal.id, EMAIL, 0, "en", issued + 2 * DAY_S), b"new-key")
    assert httpx.get(page_url(keyed, "unsubscribe", fresh)).status_code == 200  # 59 days old
    assert ledger(keyed, portal) == []
    assert_one_click_answer(httpx.post(page_url(keyed, "unsubscribe-all", token), data=ONE_CLICK))
    assert wide(keyed, portal) == ["UNSUBSCRIBED"]


# --- the headers a sender adds -------------------------------------------------------------------


def test_the_cli_prints_the_two_headers_and_its_url_works(server: Server, portal: Portal) -> None:
    env = {
        **os.environ,
        "COMMPREF_PUBLIC_BASE_URL": server.base_url,
        "COMMPREF_LIST_UNSUBSCRIBE_MAILTO": "unsubscribe@example.com",
    }
    done = subprocess.run(
        [COMMPREF, "list-unsubscribe", "--portal", str(portal.id), " Reader@Example.com ",
         "--database-url", server.database_url],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    prefix = f"List-Unsubscribe: <{server.base_url}{PAGES}/unsubscribe-all?languagePreference=en&d="
    assert first.startswith(prefix)
    assert first.endswith("&v=3>, <mailto:unsubscribe@example.com?subject=unsubscribe>")
    assert second == "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    one_click_url = first.removeprefix("List-Unsubscribe: <").split(">")[0]
    assert ledger(server, portal) == []  # printing headers changes nothing
    assert_one_click_answer(httpx.post(one_click_url, data=ONE_CLICK))
    assert wide(server, portal) == ["UNSUBSCRIBED"]


def test_the_cli_refuses_bad_input_with_one_line(server: Server, portal: Portal) -> None:
    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [COMMPREF, "list-unsubscribe", *args, "--database-url", server.database_url],
            capture_output=True, text=True, env={**os.environ, **env}, timeout=60, check=False,
        )  # fmt: skip

    cases = [
        (run("--portal", str(portal.id), "not-an-address"), "Error: Invalid email address"),
        (run("--portal", "987654321", EMAIL), "Error: Portal 987654321 does not exist"),
        (
            run("--portal", str(portal.id), EMAIL, "--business-unit", "7"),
            "Error: Business unit 7 does not exist",
        ),
        (
            run("--portal", str(portal.id), EMAIL, COMMPREF_LINK_MAX_AGE_DAYS="30"),
            "Error: invalid setting: COMMPREF_LINK_MAX_AGE_DAYS must be 0 (links never expire) "
            "or at least 60 days, not 30",
        ),
    ]
    for done, message in cases:
        assert done.returncode == 1
        assert done.stdout == ""
        assert done.stderr.strip() == message


def test_the_api_gives_the_headers_of_an_address(server: Server, portal: Portal) -> None:
    with server.client(portal.token) as api:
        r = api.post(
            "/commpref/v1/list-unsubscribe",
            json={"email": " Reader@Example.com ", "businessUnitId": 0, "language": "fr"},
        )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert list(body) == ["email", "listUnsubscribe", "listUnsubscribePost", "headers"]
    assert body["email"] == EMAIL
    one_click_url = body["listUnsubscribe"].removeprefix("<").removesuffix(">")
    prefix = f"{server.base_url}{PAGES}/unsubscribe-all?languagePreference=fr&d="
    assert one_click_url.startswith(prefix) and one_click_url.endswith("&v=3")
    assert body["listUnsubscribePost"] == "List-Unsubscribe=One-Click"
    assert body["headers"] == [
        f"List-Unsubscribe: {body['listUnsubscribe']}",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    ]
    token = parse_qs(urlsplit(one_click_url).query)["d"][0]
    claims = links.verify(token, (stored_key(server),))
    assert claims is not None
    assert (claims.portal_id, claims.email, claims.business_unit_id) == (portal.id, EMAIL, 0)
    assert ledger(server, portal) == []  # nothing written, not even the subscriber
    assert server.admin(lambda store: store.read_subscribers(portal.id, [EMAIL])) == {}
    assert_one_click_answer(httpx.post(one_click_url, data=ONE_CLICK))
    assert wide(server, portal) == ["UNSUBSCRIBED"]


def test_the_api_helper_validates_and_needs_the_links_scope(server: Server, portal: Portal) -> None:
    path = "/commpref/v1/list-unsubscribe"
    with server.client(portal.token) as api:
        for body, message in [
            ({"email": "nope"}, "Invalid email address"),
            ({"email": EMAIL, "businessUnitId": 3}, "Business unit 3 does not exist"),
        ]:
            r = api.post(path, json=body)
            assert r.status_code == 400, r.text
            assert (r.json()["category"], r.json()["message"]) == ("VALIDATION_ERROR", message)
        r = api.post(path, json={"businessUnitId": 0})
        assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    read_only = server.token(portal.id, frozenset({"communication_preferences.read"}))
    with server.client(read_only) as api:
        r = api.post(path, json={"email": EMAIL})
    assert r.status_code == 403
    assert r.json()["category"] == "MISSING_SCOPES"
    with server.client() as anonymous:
        assert anonymous.post(path, json={"email": EMAIL}).status_code == 401
    links_scope = server.token(portal.id, frozenset({"communication_preferences.read_write"}))
    with server.client(links_scope) as api:
        assert api.post(path, json={"email": EMAIL}).status_code == 200
    operations = httpx.get(f"{server.base_url}/openapi.json").json()["paths"]
    assert "post" in operations["/commpref/v1/list-unsubscribe"]
