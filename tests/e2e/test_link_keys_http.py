"""A portal's own preference-link keys over HTTP on a real server (each backend):
`/commpref/v1/portal/link-keys` and the console's settings page. Rotating seals new links
with a new key and breaks none already sent; retiring makes every link not sealed by the
newest key stop working, on the pages and for one-click, in the server's every process."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from commpref.domain import scopes
from commpref.services import links
from tests.e2e.http_helpers import assert_error
from tests.support.console import Operator, operator
from tests.support.server import Portal, Server

V1 = "/commpref/v1"
KEYS = f"{V1}/portal/link-keys"


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _page_link(client: httpx.Client, email: str = "ada@example.com") -> str:
    """The one-click unsubscribe-all URL the portal gives for `email`, as a path, once it is
    sealed by the portal's newest key: on PostgreSQL another process learns of a rotation
    when its notification arrives (docs/preference-pages.md, "Link keys")."""
    newest = [k["id"] for k in _ok(client.get(KEYS))["results"] if k["sealing"]]
    for _ in range(200):
        found = _ok(client.post(f"{V1}/list-unsubscribe", json={"email": email}))
        url = str(found["listUnsubscribe"]).strip("<>")
        token = parse_qs(urlsplit(url).query)["d"][0]
        if [links.sealing_key_id(token)] == (newest or [None]):
            return url[url.index("/hs/") :]
        time.sleep(0.02)
    raise AssertionError(f"links are not sealed by key {newest} yet")


def _opens(server: Server, path: str) -> bool:
    with server.client() as browser:
        page = browser.get(path)
    assert page.status_code in (200, 400), page.text
    return page.status_code == 200


def test_rotating_and_retiring_over_the_api(server: Server, portal: Portal) -> None:
    with server.client(portal.token) as client:
        assert _ok(client.get(KEYS)) == {"results": [], "serverKeysVerify": True}
        assert_error(
            client.post(f"{KEYS}/retire"),
            409,
            "This portal's links are sealed with the server's keys: rotate its link keys "
            "before retiring the old ones",
            "CONFLICT",
        )
        by_server = _page_link(client)
        first = _ok(client.post(f"{KEYS}/rotate"), 201)
        assert first["sealing"] is True and first["retiredAt"] is None
        assert "secret" not in first
        by_first = _page_link(client)
        second = _ok(client.post(f"{KEYS}/rotate"), 201)
        assert second["id"] != first["id"]
        by_second = _page_link(client)
        listed = _ok(client.get(KEYS))
        assert [k["id"] for k in listed["results"]] == [second["id"], first["id"]]
        assert [k["sealing"] for k in listed["results"]] == [True, False]
        assert len({by_server, by_first, by_second}) == 3
        assert [_opens(server, p) for p in (by_server, by_first, by_second)] == [True] * 3

        after = _ok(client.post(f"{KEYS}/retire"))
        assert after["serverKeysVerify"] is False
        assert [k["retiredAt"] is None for k in after["results"]] == [True, False]
        assert [_opens(server, p) for p in (by_server, by_first, by_second)] == [
            False,
            False,
            True,
        ]
        # One-click (RFC 8058) honours only a working link too.
        with server.client() as mailbox:
            body = "List-Unsubscribe=One-Click"
            headers = {"content-type": "application/x-www-form-urlencoded"}
            refused = mailbox.post(by_first, content=body, headers=headers)
            honoured = mailbox.post(by_second, content=body, headers=headers)
        assert refused.status_code == 400, refused.text
        assert honoured.status_code == 200, honoured.text


def test_link_keys_need_the_portal_scopes_and_stay_in_their_portal(server: Server) -> None:
    mine = server.new_portal()
    theirs = server.new_portal()
    reader = server.token(mine.id, frozenset({scopes.PORTAL_READ}))
    with server.client(reader) as client:
        assert _ok(client.get(KEYS))["results"] == []
        assert client.post(f"{KEYS}/rotate").status_code == 403
        assert client.post(f"{KEYS}/retire").status_code == 403
    with server.client(mine.token) as client:
        made = _ok(client.post(f"{KEYS}/rotate"), 201)
    with server.client(theirs.token) as client:
        assert _ok(client.get(KEYS)) == {"results": [], "serverKeysVerify": True}
        assert client.post(f"{KEYS}/retire").status_code == 409
    with server.client(mine.token) as client:
        assert [k["id"] for k in _ok(client.get(KEYS))["results"]] == [made["id"]]


def test_the_console_rotates_and_retires_with_a_confirmation(
    server: Server, portal: Portal
) -> None:
    admin = operator(server, f"keys-admin-{portal.id}@example.com", "admin", [portal.id])
    viewer = operator(server, f"keys-viewer-{portal.id}@example.com", "viewer", [portal.id])
    try:
        _console_rotates_and_retires(server, portal, admin, viewer)
    finally:
        admin.client.close()
        viewer.client.close()


def _console_rotates_and_retires(
    server: Server, portal: Portal, admin: Operator, viewer: Operator
) -> None:
    settings = f"/console/settings?portal={portal.id}"
    action = f"/console/settings/link-keys?portal={portal.id}"
    page = viewer.page(settings)
    assert page.status_code == 200 and "Link keys" in page.text
    assert "Rotate the link keys" not in page.text
    refused = viewer.post(action, {"action": "rotate"}, from_page=settings)
    assert refused.status_code == 403
    with server.client(portal.token) as client:
        by_server = _page_link(client)
        assert _ok(client.get(KEYS))["results"] == []

        rotated = admin.post(action, {"action": "rotate"}, from_page=settings)
        assert rotated.status_code == 303
        shown = admin.page(rotated.headers["location"]).text
        assert "seals new links" in shown and "Retire the older keys" in shown
        assert len(_ok(client.get(KEYS))["results"]) == 1
        admin.post(action, {"action": "rotate"}, from_page=settings)
        by_newest = _page_link(client)

        unconfirmed = admin.post(action, {"action": "retire"}, from_page=settings)
        assert unconfirmed.status_code == 400
        assert "Tick the box" in unconfirmed.text
        assert _ok(client.get(KEYS))["serverKeysVerify"] is True
        for junk in ("", "delete", "<script>x</script>"):
            odd = admin.post(action, {"action": junk}, from_page=settings)
            assert odd.status_code == 400 and "<script>x" not in odd.text

        retired = admin.post(action, {"action": "retire", "confirm": "on"}, from_page=settings)
        assert retired.status_code == 303
        listed = _ok(client.get(KEYS))
        assert listed["serverKeysVerify"] is False
        assert [k["retiredAt"] is None for k in listed["results"]] == [True, False]
    assert not _opens(server, by_server)
    assert _opens(server, by_newest)


@pytest.mark.parametrize("path", [f"{KEYS}/rotate", f"{KEYS}/retire"])
def test_a_post_without_a_token_is_refused(server: Server, path: str) -> None:
    with server.client() as client:
        assert client.post(path).status_code == 401


def test_the_cli_rotates_and_the_running_server_follows(server: Server) -> None:
    portal = server.new_portal()
    made = server.cli("link-keys", "rotate", "--portal", str(portal.id))
    key_id = int(made.stdout)
    with server.client(portal.token) as client:
        assert [k["id"] for k in _ok(client.get(KEYS))["results"]] == [key_id]
        sealed = _page_link(client)  # waits until the server seals with the CLI's key
        server.cli("link-keys", "rotate", "--portal", str(portal.id))
        assert (
            server.cli("link-keys", "retire", "--portal", str(portal.id), "--yes").stdout == "1\n"
        )
    assert not _opens(server, sealed)
    listed = server.cli("link-keys", "list", "--portal", str(portal.id)).stdout.splitlines()
    assert [line.split("\t")[0] for line in listed] == [str(key_id + 1), str(key_id), "server"]
    assert listed[1].split("\t")[2].startswith("retired ")
    refused = server.cli("link-keys", "retire", "--portal", "999999", "--yes", check=False)
    assert refused.returncode == 1 and refused.stderr.startswith("Error: Portal 999999")
