"""Security properties over the whole route table: every route requires its
scope, no route crosses portals, and revocation takes effect on the next request."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from commpref.domain.scopes import ADMIN, ALL_SCOPES, ALTERNATIVES
from commpref.http.api.operations import OPERATIONS as API_OPERATIONS
from commpref.http.hubspot.operations import OPERATIONS
from commpref.http.operation import Operation
from tests.support.server import Portal, Server

EMAIL = "scope@example.com"


ROUTES = [(o, v) for o in OPERATIONS for v in o.versions]


def call(http: httpx.Client, o: Operation, version: str, email: str = EMAIL) -> httpx.Response:
    path = f"/communication-preferences/{version}/{o.path}"
    if o.path_param:
        path = path.replace("{" + o.path_param + "}", email)
    body: Any = None
    if o.bare_array:
        body = [email]
    elif o.body is not None:
        body = {}
    return http.request(o.method, path, params={"channel": "EMAIL"}, json=body)


@pytest.fixture(scope="module")
def token_of(server: Server) -> Callable[[frozenset[str]], str]:
    """A token with just these scopes, of one portal, made once: the HubSpot routes check
    scopes before they read or write, and touch no portal's tokens or settings, so their
    tests share the portal and one token per set of scopes (some twenty tokens, instead of
    a portal and about four tokens per route)."""
    portal = server.new_portal()
    made: dict[frozenset[str], str] = {}

    def token(scopes: frozenset[str]) -> str:
        if scopes not in made:
            made[scopes] = server.token(portal.id, scopes)
        return made[scopes]

    return token


@pytest.mark.parametrize(("o", "version"), ROUTES, ids=lambda x: getattr(x, "op", x))
def test_every_route_requires_its_scope(
    server: Server, token_of: Callable[[frozenset[str]], str], o: Operation, version: str
) -> None:
    granting = set().union(*ALTERNATIVES[o.op])
    lacking = token_of(ALL_SCOPES - granting)  # every other scope, admin too
    with server.client(lacking) as http:
        r = call(http, o, version)
    assert r.status_code == 403, (o.method, o.path, r.text)
    assert r.json()["category"] == "MISSING_SCOPES"
    for alternative in ALTERNATIVES[o.op]:
        with server.client(token_of(frozenset(alternative))) as http:
            assert call(http, o, version).status_code not in (401, 403), alternative


# Operations without a token (a provider's signature is the credential) are tested with
# their own credentials (tests/e2e/test_feedback_http.py).
@pytest.mark.parametrize(
    "o", [o for o in API_OPERATIONS if o.authorize is not None], ids=lambda o: o.name
)
def test_every_extension_route_requires_its_scope(server: Server, o: Any) -> None:
    portal = server.new_portal()
    path = "/commpref/v1/" + re.sub(r"\{[^}]+\}", "1", o.path)
    lacking = server.token(portal.id, ALL_SCOPES - {o.scope, ADMIN})
    with server.client(lacking) as http:
        r = http.request(o.method, path)
    assert r.status_code == 403, (o.method, o.path, r.text)
    assert r.json()["category"] == "MISSING_SCOPES"
    for granting in ({o.scope}, {ADMIN}):
        with server.client(server.token(portal.id, frozenset(granting))) as http:
            assert http.request(o.method, path).status_code not in (401, 403), granting


# --- portal isolation ------------------------------------------------------------------------

VICTIM = "victim@example.com"
MARKER = "b-only-explanation-7f3a"  # written in portal B only; must never show up in A


@pytest.fixture(scope="module")
def two_portals(server: Server) -> tuple[Portal, Portal]:
    a = server.new_portal(name="A")
    b = server.new_portal(name="B")
    with server.client(b.token) as http:
        r = http.post(
            f"/communication-preferences/v4/statuses/{VICTIM}",
            json={
                "channel": "EMAIL",
                "statusState": "SUBSCRIBED",
                "subscriptionId": b.definitions[0],
                "legalBasis": "CONSENT_WITH_NOTICE",
                "legalBasisExplanation": MARKER,
            },
        )
        assert r.status_code == 200, r.text
        r = http.post(
            f"/communication-preferences/v4/statuses/{VICTIM}",
            json={
                "channel": "EMAIL",
                "statusState": "UNSUBSCRIBED",
                "subscriptionId": b.definitions[1],
            },
        )
        assert r.status_code == 200, r.text
    return a, b


def b_state(server: Server, b: Portal) -> tuple[Any, Any, int]:
    with server.client(b.token) as http:
        statuses = http.get(
            f"/communication-preferences/v4/statuses/{VICTIM}", params={"channel": "EMAIL"}
        ).json()["results"]
        wide = http.get(
            f"/communication-preferences/v4/statuses/{VICTIM}/unsubscribe-all",
            params={"channel": "EMAIL"},
        ).json()["results"]
    events = server.admin(lambda store: store.events(b.id))
    return statuses, wide, len(events)


def ids_in(value: Any) -> set[str]:
    """Every definition id an answer names (`id`, `subscriptionId`)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("id", "subscriptionId") and isinstance(v, (int, str)):
                found.add(str(v))
            else:
                found |= ids_in(v)
    elif isinstance(value, list):
        for v in value:
            found |= ids_in(v)
    return found


def isolation_request(o: Operation, version: str, b: Portal) -> tuple[str, Any]:
    """A request of portal A's token that names portal B's subscriber and definitions."""
    path = f"/communication-preferences/{version}/{o.path}"
    if o.path_param:
        path = path.replace("{" + o.path_param + "}", VICTIM)
    d = b.definitions[0]
    v4_write = {"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": d}
    bodies: dict[str, Any] = {
        "C": v4_write,
        "F": {"inputs": [VICTIM]},
        "G": {"inputs": [{"subscriberIdString": VICTIM, **v4_write}]},
        "H": {"inputs": [VICTIM]},
        "I": {"inputs": [VICTIM]},
        "J": {"subscriberIdString": VICTIM, "subscriptionId": d},
        "L": {"emailAddress": VICTIM, "subscriptionId": str(d)},
        "M": {"emailAddress": VICTIM, "subscriptionId": str(d)},
        "N": {"emailAddress": VICTIM, "subscriptionId": str(d)},
        "O": [VICTIM],
    }
    return path, bodies.get(o.op.value)


@pytest.mark.parametrize(("o", "version"), ROUTES, ids=lambda x: getattr(x, "op", x))
def test_no_route_reads_or_writes_another_portal(
    server: Server, two_portals: tuple[Portal, Portal], o: Operation, version: str
) -> None:
    a, b = two_portals
    before = b_state(server, b)
    path, body = isolation_request(o, version, b)
    with server.client(a.token) as http:
        r = http.request(o.method, path, params={"channel": "EMAIL"}, json=body)
    assert r.status_code < 500, r.text
    assert MARKER not in r.text
    if r.status_code in (200, 207):  # an answer about A's world names only A's definitions
        assert ids_in(r.json()) <= {str(d) for d in a.definitions}, (o.op, r.text)
    else:
        assert r.json()["category"] == "VALIDATION_ERROR", r.text
    assert b_state(server, b) == before  # nothing A did reached B


def test_revocation_takes_effect_on_the_next_request(server: Server) -> None:
    portal = server.new_portal()
    secret = server.token(portal.id, ALL_SCOPES, name="to-revoke")
    path = "/communication-preferences/v4/definitions"
    with server.client(secret) as http:
        assert http.get(path).status_code == 200
        tokens = server.admin(lambda store: store.list_tokens(portal.id))
        (token,) = [t for t in tokens if t.name == "to-revoke"]
        server.cli("token", "revoke", "--portal", str(portal.id), "--id", str(token.id))
        r = http.get(path)  # the same keep-alive connection, no restart
    assert r.status_code == 401
    assert r.json()["category"] == "INVALID_AUTHENTICATION"
