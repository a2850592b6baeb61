"""Hostile input: header injection, path traversal, and secrets kept out of the
logs; plus regressions for what the fuzzer found."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.http_helpers import assert_error
from tests.support.server import Portal, Server

V4 = "/communication-preferences/v4"


def exchange(server: Server, raw: bytes) -> tuple[int, list[str], bytes]:
    """Send exact bytes; the status, the raw header lines and the body of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(
            (
                int(v)
                for k, _, v in (x.partition(":") for x in lines[1:])
                if k.lower() == "content-length"
            ),
            0,
        )
        while len(body) < length:
            chunk = s.recv(65536)
            assert chunk
            body += chunk
    return int(lines[0].split()[1]), lines[1:], body


def get(path: str, token: str, method: str = "GET", body: bytes = b"") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body


INJECTIONS = [
    f"{V4}/statuses/a%0D%0AX-Injected:%20yes@example.com?channel=EMAIL",
    f"{V4}/statuses/x@example.com?channel=EMAIL%0D%0AX-Injected:%20yes",
    f"{V4}/statuses/x@example.com?channel=EMAIL&businessUnitId=1%0D%0AX-Injected:%20yes",
    f"{V4}/statuses/a%0D%0AX-Injected:%20yes/unsubscribe-all",  # wrong method below: 405
    "/hs/manage-preferences/unsubscribe?d=%0D%0AX-Injected:%20yes&languagePreference=en%0D%0ALocation:%20http://evil",
    "/nowhere%0D%0AX-Injected:%20yes",
]


@pytest.mark.parametrize("path", INJECTIONS)
def test_crlf_in_inputs_never_reaches_response_headers(
    server: Server, portal: Portal, path: str
) -> None:
    method = "DELETE" if path.endswith("unsubscribe-all") else "GET"
    status, headers, _ = exchange(server, get(path, portal.token, method))
    assert 400 <= status < 500
    names = [h.partition(":")[0].strip().lower() for h in headers]
    assert "x-injected" not in names
    assert not any(h.lower().startswith("location:") and "evil" in h for h in headers)


def test_crlf_in_bodies_never_reaches_response_headers(server: Server, portal: Portal) -> None:
    body = json.dumps(
        {
            "emailAddress": "a\r\nX-Injected: yes\r\n@example.com",
            "subscriptionId": "1\r\nX-Injected: 1",
        }
    ).encode()
    status, headers, _ = exchange(
        server, get("/communication-preferences/v3/subscribe", portal.token, "POST", body)
    )
    assert status == 400
    assert "x-injected" not in [h.partition(":")[0].lower() for h in headers]


TRAVERSALS = [
    "/../../../../etc/passwd",
    f"{V4}/../../../../etc/passwd",
    f"{V4}/statuses/..%2f..%2f..%2f..%2fetc%2fpasswd?channel=EMAIL",
    f"{V4}/statuses/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/hs/manage-preferences/../../../../etc/passwd",
    "/hs/manage-preferences/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/hs/manage-preferences/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/hs/manage-preferences/static/....//....//etc/passwd",
    "/openapi.json/../../../etc/passwd",
    "/static/../../pyproject.toml",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_is_answered_404_or_400_never_a_file(
    server: Server, portal: Portal, path: str
) -> None:
    status, _, body = exchange(server, get(path, portal.token))
    assert status in (400, 404), (status, body[:200])
    assert b"root:" not in body
    assert b"[build-system]" not in body


def test_newline_in_a_path_gets_the_json_404(server: Server, portal: Portal) -> None:
    """Fuzzer find: a decoded `\\n` made Starlette's mount miss and answer plain text."""
    with server.client(portal.token) as http:
        r = http.get(f"{V4}/statuses/a%0Ab@example.com", params={"channel": "EMAIL"})
        assert r.status_code == 400
        assert r.json()["message"] == "Invalid email address"
        r = http.get("/nowhere%0A")
    assert_error(r, 404, "No route found for GET /nowhere%0A", "OBJECT_NOT_FOUND")


# --- secrets stay out of the logs --------------------------------------------------------------

SIGNING_KEY = "signing-key-that-must-never-be-logged-91c2"


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Server]:
    env = {
        "COMMPREF_HAPIKEY_ENABLED": "true",
        "COMMPREF_LINK_SIGNING_KEYS": SIGNING_KEY,
        "COMMPREF_LOG_LEVEL": "debug",
    }
    srv = Server(f"sqlite:///{tmp_path}/logs.db", tmp_path / "server.log", env=env)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_no_secret_or_token_in_the_logs(logged: Server) -> None:
    server = logged
    portal = server.new_portal()
    secrets = [portal.token, SIGNING_KEY, "pat-cp-not-a-real-token-5b7e", "hapikey-guess-0c4d"]
    base = server.base_url
    with httpx.Client(base_url=base, timeout=30) as http:
        ok = {"Authorization": f"Bearer {portal.token}"}
        assert http.get(f"{V4}/definitions", headers=ok).status_code == 200
        assert (
            http.get(f"{V4}/definitions", headers={"private-app": portal.token}).status_code == 200
        )
        assert http.get(f"{V4}/definitions", params={"hapikey": portal.token}).status_code == 200
        assert http.get("/nowhere", params={"hapikey": portal.token}).status_code == 404
        bad = {"Authorization": "Bearer pat-cp-not-a-real-token-5b7e"}
        assert http.get(f"{V4}/definitions", headers=bad).status_code == 401
        assert (
            http.get(f"{V4}/definitions", params={"hapikey": "hapikey-guess-0c4d"}).status_code
            == 401
        )
        links = http.post(
            f"{V4}/links/generate",
            params={"channel": "EMAIL"},
            json={
                "subscriberIdString": "reader@example.com",
                "subscriptionId": portal.definitions[0],
            },
            headers=ok,
        )
        assert links.status_code == 200, links.text
        urls = [v for k, v in links.json().items() if k.endswith("Url")]
        for u in urls:
            secrets += parse_qs(urlsplit(u).query)["d"]
            page = urlsplit(u)
            http.get(f"{page.path}?{page.query}")  # the preference pages, as a recipient would
        one_click = urlsplit(links.json()["unsubscribeAllUrl"])
        http.post(
            f"{one_click.path}?{one_click.query}",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    server.stop()
    server.start()  # the shutdown and start-up lines too
    server.stop()
    log = server.log_path.read_text()
    assert log.count('"event":"request"') >= 6  # the access log was on
    for secret in secrets:
        assert secret not in log, f"a secret reached the log: {secret[:12]}…"
    records = [json.loads(line) for line in log.splitlines() if line]  # every line is JSON
    assert any("Started server process" in str(r.get("event")) for r in records)  # uvicorn's too
    for record in records:
        assert {"time", "level", "event"} <= set(record)
        if record["event"] == "request":
            assert record["correlationId"]


def test_non_ascii_digits_are_refused_not_crashed_on(server: Server, portal: Portal) -> None:
    """Fuzzer find: `'²'.isdigit()` is true but `int('²')` fails, so `subscriptionId=²`
    answered 500 on /commpref/v1/events (and ids like it could crash other routes)."""
    with server.client(portal.token) as http:
        r = http.get("/commpref/v1/events", params={"subscriptionId": "²"})
        assert r.status_code == 400, r.text
        r = http.get("/commpref/v1/imports/²")
        assert r.status_code == 404, r.text
        links = http.post(
            f"{V4}/links/generate",
            params={"channel": "EMAIL"},
            json={
                "subscriberIdString": "digits@example.com",
                "subscriptionId": portal.definitions[0],
            },
        )
        single = urlsplit(links.json()["unsubscribeSingleUrl"])
        query = single.query.replace(
            f"subscriptionId={portal.definitions[0]}", "subscriptionId=%C2%B2"
        )
        page = http.get(f"{single.path}?{query}")
    assert page.status_code == 404, page.text


@pytest.mark.parametrize(
    "path",
    [
        "/commpref/v1/events?actor=a%00b",
        "/commpref/v1/exports?format=csv&email=a%00b@example.com",
        f"{V4}/statuses/a%00b@example.com?channel=EMAIL",
    ],
)
def test_nul_characters_are_refused_not_crashed_on(
    server: Server, portal: Portal, path: str
) -> None:
    """Fuzzer find (PostgreSQL): a NUL in a text filter reached the database, which refuses
    it in text, and the request answered 500."""
    with server.client(portal.token) as http:
        r = http.get(path)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.json()["category"] == "VALIDATION_ERROR"
