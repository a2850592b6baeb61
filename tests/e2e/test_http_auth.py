"""Credentials, scopes, the batch gate, the order of checks and portal isolation over real
HTTP (docs/wire-contract.md §2, §6.3, §10.7)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from commpref.domain.scopes import (
    ALL_SCOPES,
    BATCH_READ,
    BATCH_WRITE,
    READ,
    READ_WRITE,
    WRITE,
)
from commpref.services import admin
from commpref.services.context import now_ms
from tests.conftest import BACKENDS
from tests.e2e.http_helpers import V4_FAMILY, assert_error, default_rows, scrub, url
from tests.support.server import Portal, Server, started_server

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)
ONE_OF = "One or more of the following scopes are required."
ALL_OF = "All of the following scopes are required."
B = url("2026-03", "statuses/auth@example.com")
F = url("v4", "statuses/batch/read")


def assert_missing_scopes(r: httpx.Response, scopes: list[str], detail: str = ONE_OF) -> None:
    """§10.7, key order included."""
    assert r.status_code == 403, r.text
    assert list(r.json().items()) == [
        ("status", "error"),
        ("message", SCOPES_MESSAGE),
        ("correlationId", r.headers["x-hubspot-correlation-id"]),
        ("errors", [{"message": detail, "context": {"requiredGranularScopes": scopes}}]),
        ("links", {"scopes": "https://developers.hubspot.com/scopes"}),
        ("category", "MISSING_SCOPES"),
        ("context", {"missingScopes": scopes}),
    ]


def get_b(server: Server, headers: dict[str, str], **params: str) -> httpx.Response:
    with server.client() as c:
        return c.get(B, params={"channel": "EMAIL", **params}, headers=headers)


# --- 401 ---------------------------------------------------------------------------------


def test_missing_unknown_and_malformed_credentials(server: Server, portal: Portal) -> None:
    for headers in [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {portal.token}"},
        {"Authorization": portal.token},
        {"private-app": "pat-unknown"},
    ]:
        assert_error(get_b(server, headers), 401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")


def test_revoked_token(server: Server, portal: Portal) -> None:
    token, secret = server.admin(admin.create_token, portal_id=portal.id, scopes=frozenset({READ}))
    assert get_b(server, {"Authorization": f"Bearer {secret}"}).status_code == 200
    assert server.admin(admin.revoke_token, portal_id=portal.id, token_id=token.id)
    r = get_b(server, {"Authorization": f"Bearer {secret}"})
    assert_error(r, 401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")


def test_expired_token(server: Server, portal: Portal) -> None:
    # Expired 5½ minutes ago: HubSpot counts whole minutes.
    secret = server.token(portal.id, ALL_SCOPES, expires_at=now_ms() - 330_000)
    r = get_b(server, {"Authorization": f"Bearer {secret}"})
    assert_error(
        r,
        401,
        "The OAuth token used to make this call expired 5 minute(s) ago.",
        "EXPIRED_AUTHENTICATION",
    )
    fresh = server.token(portal.id, ALL_SCOPES, expires_at=now_ms() + 3_600_000)
    assert get_b(server, {"Authorization": f"Bearer {fresh}"}).status_code == 200


@pytest.mark.parametrize("header", ["private-app-legacy", "private-app"])
def test_private_app_headers(server: Server, portal: Portal, header: str) -> None:
    r = get_b(server, {header: portal.token})
    assert r.status_code == 200
    assert r.json()["results"][0]["subscriberIdString"] == "auth@example.com"


def test_bearer_takes_precedence(server: Server, portal: Portal) -> None:
    headers = {"Authorization": "Bearer wrong", "private-app-legacy": portal.token}
    assert get_b(server, headers).status_code == 401
    headers = {"private-app-legacy": "wrong", "private-app": portal.token}
    assert get_b(server, headers).status_code == 401
    headers = {"Authorization": f"bearer {portal.token}", "private-app": "wrong"}
    assert get_b(server, headers).status_code == 200


def test_hapikey_is_ignored_by_default(server: Server, portal: Portal) -> None:
    assert get_b(server, {}, hapikey=portal.token).status_code == 401


@pytest.fixture(scope="module", params=BACKENDS)
def hapikey_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("hapikey")
    env = {"COMMPREF_HAPIKEY_ENABLED": "true"}
    with started_server(request.param, tmp, env=env) as srv:
        yield srv


def test_hapikey_when_enabled(hapikey_server: Server) -> None:
    portal = hapikey_server.new_portal()
    r = get_b(hapikey_server, {}, hapikey=portal.token)
    assert r.status_code == 200
    # Lowest precedence: a Bearer header decides even when wrong.
    r = get_b(hapikey_server, {"Authorization": "Bearer wrong"}, hapikey=portal.token)
    assert r.status_code == 401
    assert get_b(hapikey_server, {}, hapikey="wrong").status_code == 401
    assert portal.token not in hapikey_server.log_path.read_text()


# --- 403 ---------------------------------------------------------------------------------


def test_missing_batch_scope_example(server: Server) -> None:
    """§10.7: a `read_write` token calling F."""
    portal = server.new_portal(scopes=frozenset({READ_WRITE}))
    with server.client(portal.token) as c:
        r = c.post(F, params={"channel": "EMAIL"}, json={"inputs": ["jane@example.com"]})
    assert_missing_scopes(r, [BATCH_READ])


@pytest.mark.parametrize(
    ("held", "method", "path", "needed"),
    [
        ({WRITE}, "GET", B, [READ, READ_WRITE]),
        ({READ}, "POST", B, [READ_WRITE, WRITE]),
        ({READ_WRITE}, "POST", url("v4", "statuses/batch/unsubscribe-all"), [BATCH_WRITE]),
        ({BATCH_WRITE}, "POST", url("v4", "statuses/batch/unsubscribe-all/read"), [BATCH_READ]),
        ({BATCH_READ}, "POST", url("2025-09", "statuses/batch/write"), [BATCH_WRITE]),
        ({READ}, "POST", url("v3", "subscribe"), [READ_WRITE, WRITE]),
        ({WRITE}, "GET", url("v3", "definitions"), [READ, READ_WRITE]),
        ({WRITE}, "POST", url("v3", "status/email/bulk"), [READ, READ_WRITE]),
    ],
)
def test_missing_scopes_name_the_alternatives(
    server: Server, held: set[str], method: str, path: str, needed: list[str]
) -> None:
    portal = server.new_portal(scopes=frozenset(held))
    with server.client(portal.token) as c:
        # A body that would fail validation: the scope check comes first (§2.5).
        r = c.request(method, path, params={"channel": "EMAIL"}, content=b"{")
    assert_missing_scopes(r, needed)


def test_links_need_read_and_write(server: Server) -> None:
    body = {"subscriberIdString": "l@example.com"}
    path = url("v4", "links/generate")
    for held in [{READ}, {WRITE}, {BATCH_READ, BATCH_WRITE}]:
        portal = server.new_portal(scopes=frozenset(held))
        with server.client(portal.token) as c:
            r = c.post(path, params={"channel": "EMAIL"}, json=body)
        assert_missing_scopes(r, [READ, WRITE], ALL_OF)
    for held in [{READ, WRITE}, {READ_WRITE}]:
        portal = server.new_portal(scopes=frozenset(held))
        with server.client(portal.token) as c:
            assert c.post(path, params={"channel": "EMAIL"}, json=body).status_code == 200


def test_granular_scope_names(server: Server) -> None:
    portal = server.new_portal(scopes=frozenset({"subscriptions-status-read"}))
    with server.client(portal.token) as c:
        assert c.get(B, params={"channel": "EMAIL"}).status_code == 200
        assert c.get(url("v4", "definitions")).status_code == 403
    portal = server.new_portal(scopes=frozenset({"subscription-status-batch-write"}))
    with server.client(portal.token) as c:
        r = c.post(
            url("v4", "statuses/batch/unsubscribe-all"),
            params={"channel": "EMAIL"},
            json={"inputs": ["g@example.com"]},
        )
        assert r.status_code == 200


def test_batch_gate(server: Server) -> None:
    """§2.4: a portal with `batch_scopes_enabled` off answers F–I 403 even with the scope."""
    portal = server.new_portal(batch_scopes_enabled=False)
    with server.client(portal.token) as c:
        r = c.post(F, params={"channel": "EMAIL"}, json={"inputs": []})
        assert_missing_scopes(r, [BATCH_READ])
        r = c.post(url("2026-09", "statuses/batch/write"), json={"inputs": []})
        assert_missing_scopes(r, [BATCH_WRITE])
        assert c.get(B, params={"channel": "EMAIL"}).status_code == 200


def test_order_of_checks(server: Server) -> None:
    """route → auth → scopes → validation (§2.5)."""
    with server.client() as anonymous:
        assert anonymous.get(url("v3", "statuses/x@example.com")).status_code == 404
        assert anonymous.put(B).status_code == 405
        r = anonymous.post(B, content=b"{", headers={"content-type": "text/plain"})
        assert r.status_code == 401
    portal = server.new_portal(scopes=frozenset({READ}))
    with server.client(portal.token) as c:
        assert c.post(B, content=b"{", headers={"content-type": "text/plain"}).status_code == 403
        assert c.get(B).status_code == 400  # channel missing


# --- isolation ---------------------------------------------------------------------------


def test_another_portals_data_is_never_visible(server: Server) -> None:
    first, second = server.new_portal(name="first"), server.new_portal(name="second")
    assert not set(first.definitions) & set(second.definitions)
    with server.client(first.token) as a, server.client(second.token) as b:
        r = a.post(
            url("v4", "statuses/shared@example.com"),
            json={
                "channel": "EMAIL",
                "statusState": "SUBSCRIBED",
                "subscriptionId": first.definitions[0],
            },
        )
        assert r.status_code == 200
        a.post(
            url("v4", "statuses/shared@example.com/unsubscribe-all"), params={"channel": "EMAIL"}
        )

        # The second portal sees its own defaults only.
        r = b.get(url("v4", "statuses/shared@example.com"), params={"channel": "EMAIL"})
        assert scrub(r.json()["results"]) == default_rows("shared@example.com", second.definitions)
        r = b.get(
            url("v4", "statuses/shared@example.com/unsubscribe-all"), params={"channel": "EMAIL"}
        )
        assert r.json()["results"] == []
        r = b.post(
            url("2026-09", "statuses/batch/unsubscribe-all/read"),
            params={"channel": "EMAIL"},
            json={"inputs": ["shared@example.com"]},
        )
        assert r.json()["results"] == [
            {"subscriberIdString": "shared@example.com", "wideStatuses": []}
        ]
        listed = {d["id"] for d in b.get(url("v4", "definitions")).json()["results"]}
        assert listed == {str(d) for d in second.definitions}

        # Nor can it write to the first portal's definitions.
        r = b.post(
            url("v4", "statuses/shared@example.com"),
            json={
                "channel": "EMAIL",
                "statusState": "SUBSCRIBED",
                "subscriptionId": first.definitions[0],
            },
        )
        assert r.status_code == 400
        r = b.post(
            url("v3", "unsubscribe"),
            json={
                "emailAddress": "shared@example.com",
                "subscriptionId": str(first.definitions[1]),
            },
        )
        assert r.status_code == 400

    assert server.admin(lambda store: store.events(second.id)) == []
    assert len(server.admin(lambda store: store.events(first.id))) == 2


@pytest.mark.parametrize("version", V4_FAMILY)
def test_every_version_authenticates_the_same(server: Server, portal: Portal, version: str) -> None:
    with server.client() as anonymous:
        assert anonymous.get(url(version, "definitions")).status_code == 401
    with server.client(portal.token) as c:
        assert c.get(url(version, "definitions")).status_code == 200
