"""`/commpref/v1/users`: console users over the API, on both backends, never beyond the
token's portal."""

from __future__ import annotations

import uuid

import httpx

from commpref.domain import scopes
from tests.support.console import PASSWORD, new_user, sign_in
from tests.support.server import Portal, Server

V1 = "/commpref/v1"


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def api(server: Server, portal: Portal, *granted: str) -> httpx.Client:
    return server.client(server.token(portal.id, frozenset(granted)))


def test_a_token_lists_adds_and_changes_the_users_of_its_portal(
    server: Server, portal: Portal
) -> None:
    everywhere = new_user(server, unique("global"), "owner")
    elsewhere = new_user(server, unique("other"), "owner", [server.new_portal().id])
    with api(server, portal, scopes.USERS_READ, scopes.USERS_WRITE) as client:
        email = unique("Ops").upper()
        made = client.post(f"{V1}/users", json={"email": email, "role": "editor",
                                                 "password": PASSWORD})  # fmt: skip
        assert made.status_code == 201, made.text
        user = made.json()
        assert user["email"] == email.lower() and user["role"] == "editor"
        assert user["portals"] == [portal.id] and user["disabled"] is False
        assert "password" not in made.text and "argon2" not in made.text
        listed = client.get(f"{V1}/users").json()["results"]
        ids = [u["id"] for u in listed]
        assert user["id"] in ids and everywhere.id in ids and elsewhere.id not in ids
        with httpx.Client(base_url=server.base_url, timeout=30) as browser:
            assert sign_in(browser, email.lower()).status_code == 303
            assert browser.get(f"/console/?portal={portal.id}").status_code == 200
            changed = client.patch(
                f"{V1}/users/{user['id']}", json={"role": "viewer", "disabled": True}
            )
            assert changed.status_code == 200, changed.text
            assert changed.json()["role"] == "viewer" and changed.json()["disabled"] is True
            assert browser.get(f"/console/?portal={portal.id}").status_code == 303  # ended
        back = client.patch(
            f"{V1}/users/{user['id']}",
            json={"disabled": False, "password": "another long password"},
        )
        assert back.status_code == 200 and back.json()["disabled"] is False
        with httpx.Client(base_url=server.base_url, timeout=30) as browser:
            assert sign_in(browser, email.lower()).status_code == 401
            assert sign_in(browser, email.lower(), "another long password").status_code == 303


def test_a_token_never_reaches_beyond_its_portal(server: Server, portal: Portal) -> None:
    everywhere = new_user(server, unique("global"), "owner")
    other = server.new_portal()
    theirs = new_user(server, unique("theirs"), "admin", [other.id])
    both = new_user(server, unique("both"), "admin", [portal.id, other.id])
    with api(server, portal, scopes.USERS_WRITE) as client:
        for target, status in ((everywhere, 403), (both, 403), (theirs, 404)):
            r = client.patch(f"{V1}/users/{target.id}", json={"password": "x" * 20})
            assert r.status_code == status, r.text
            assert r.json()["category"] in ("FORBIDDEN", "OBJECT_NOT_FOUND")
        for target in (everywhere, both, theirs):
            with httpx.Client(base_url=server.base_url, timeout=30) as browser:
                assert sign_in(browser, target.email).status_code == 303  # unchanged


def test_scopes_and_bad_input_get_clear_errors(server: Server, portal: Portal) -> None:
    taken = unique("taken")
    new_user(server, taken, "viewer", [portal.id])
    with api(server, portal, scopes.USERS_READ) as reader:
        assert reader.get(f"{V1}/users").status_code == 200
        refused = reader.post(
            f"{V1}/users", json={"email": unique("x"), "role": "viewer", "password": PASSWORD}
        )
        assert refused.status_code == 403
        assert scopes.USERS_WRITE in refused.json()["message"] or refused.json()["context"]
    with api(server, portal, scopes.READ) as none:
        assert none.get(f"{V1}/users").status_code == 403
    with api(server, portal, scopes.USERS_WRITE) as client:
        for body, status in (
            ({"email": taken, "role": "viewer", "password": PASSWORD}, 409),
            ({"email": unique("a"), "role": "viewer", "password": "short"}, 400),
            ({"email": unique("a"), "role": "root", "password": PASSWORD}, 400),
            ({"email": "not an address", "role": "viewer", "password": PASSWORD}, 400),
            ({"email": unique("a"), "role": "viewer", "password": PASSWORD, "portals": None},
             400),
            ({"email": "a@b@c.example", "role": "viewer", "password": PASSWORD}, 400),
        ):  # fmt: skip
            r = client.post(f"{V1}/users", json=body)
            assert r.status_code == status, (body, r.text)
            assert set(r.json()) >= {"status", "message", "correlationId", "category"}
        assert client.patch(f"{V1}/users/abc", json={}).status_code == 404
        assert client.patch(f"{V1}/users/999999999", json={}).status_code == 404
