"""`/commpref/v1` over HTTP on a real server (each backend): the framework (routing, auth,
scopes, envelope, OpenAPI), the consent history after writes through v3, v4 and the
preference page, and erasure as every HubSpot read path sees it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from commpref.domain import scopes
from tests.e2e.http_helpers import assert_error, url
from tests.support.server import Portal, Server

V1 = "/commpref/v1"
EMAIL = "jane@example.com"


@pytest.fixture
def client(server: Server, portal: Portal) -> Iterator[httpx.Client]:
    with server.client(portal.token) as c:
        yield c


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    cid = response.headers["x-hubspot-correlation-id"]
    assert response.headers["x-request-id"] == cid
    return response.json()


# --- the framework ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [f"{V1}/portals", f"{V1}/events/x", "/commpref/v2/events", "/commpref/", "/commpref/v1"]
)
def test_unknown_extension_paths_are_hubspot_style_404s(server: Server, path: str) -> None:
    with server.client() as anonymous:
        r = anonymous.get(path)
    assert_error(r, 404, f"No route found for GET {path}", "OBJECT_NOT_FOUND")


def test_wrong_methods_are_405_with_allow(client: httpx.Client) -> None:
    r = client.put(f"{V1}/webhooks")
    assert_error(r, 405, f"Method PUT is not allowed for {V1}/webhooks")
    assert r.headers["allow"] == "GET, POST"
    r = client.post(f"{V1}/subscribers/{EMAIL}")
    assert r.headers["allow"] == "DELETE"


def test_credentials_and_scopes(server: Server, portal: Portal) -> None:
    with server.client() as anonymous:
        assert_error(
            anonymous.get(f"{V1}/events"), 401, scopes_message(401), "INVALID_AUTHENTICATION"
        )
    hubspot_only = server.token(portal.id, frozenset({scopes.READ_WRITE, scopes.BATCH_READ}))
    with server.client(hubspot_only) as c:
        for response, scope in (
            (c.get(f"{V1}/events"), "commpref.history.read"),
            (c.delete(f"{V1}/subscribers/{EMAIL}"), "commpref.subscribers.erase"),
        ):
            names = sorted(["commpref.admin", scope])
            assert_error(
                response,
                403,
                scopes_message(403),
                "MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": names},
                    }
                ],
                links={"scopes": "https://developers.hubspot.com/scopes"},
                context={"missingScopes": names},
            )
    for held in (scopes.HISTORY_READ, scopes.ADMIN):
        with server.client(server.token(portal.id, frozenset({held}))) as c:
            assert ok(c.get(f"{V1}/events"))["results"] == []
            # one scope does not grant another operation
            if held != scopes.ADMIN:
                assert c.get(f"{V1}/webhooks").status_code == 403


def scopes_message(status: int) -> str:
    from commpref.errors import AUTH_MESSAGE, SCOPES_MESSAGE

    return AUTH_MESSAGE if status == 401 else SCOPES_MESSAGE


def test_validation_errors_use_the_envelope(client: httpx.Client) -> None:
    assert_error(
        client.get(f"{V1}/events", params={"limit": "0"}),
        400,
        "Invalid value for query parameter limit: 0. Expected an integer from 1 to 1000",
        errors=[
            {
                "message": "Invalid value for query parameter limit: 0. "
                "Expected an integer from 1 to 1000",
                "in": "limit",
            }
        ],
    )
    r = client.get(f"{V1}/events", params={"since": "bogus"})
    assert r.status_code == 400 and r.json()["errors"][0]["in"] == "since"
    r = client.post(f"{V1}/webhooks", content=b'{"url": 7}')
    assert r.status_code == 400 and r.json()["message"].startswith("Invalid input JSON")
    r = client.post(f"{V1}/webhooks", content=b"url=x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert_error(
        client.get(f"{V1}/imports/abc"), 404, "Import job abc does not exist", "OBJECT_NOT_FOUND"
    )
    assert_error(
        client.delete(f"{V1}/subscribers/not-an-email"),
        400,
        "Invalid email address",
        errors=[{"message": "Invalid email address", "in": "subscriberIdString"}],
        context={"subscriberIdString": ["not-an-email"]},
    )


def test_openapi_lists_every_extension_operation_with_schemas(server: Server) -> None:
    doc = httpx.get(f"{server.base_url}/openapi.json").json()
    ext = {p: ops for p, ops in doc["paths"].items() if p.startswith("/commpref/v1/")}
    assert set(ext) >= {
        "/commpref/v1/events",
        "/commpref/v1/subscribers/{subscriberIdString}/history",
        "/commpref/v1/subscribers/{subscriberIdString}",
        "/commpref/v1/imports",
        "/commpref/v1/imports/{importId}",
        "/commpref/v1/exports",
        "/commpref/v1/webhooks",
        "/commpref/v1/webhooks/{webhookId}/deliveries",
        "/commpref/v1/webhooks/{webhookId}/replay",
    }
    events = ext["/commpref/v1/events"]["get"]
    assert events["security"] == [{"commpref_token": []}]
    ref = events["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"results", "cursor", "hasMore"}
    assert "ConsentEvent" in doc["components"]["schemas"]
    assert not any(p.startswith("/communication-preferences/v1") for p in doc["paths"])
    oauth = doc["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"]
    assert not any(s.startswith("commpref.") for s in oauth["scopes"])


# --- history -------------------------------------------------------------------------------


def test_history_after_writes_through_v3_v4_and_the_preference_page(
    server: Server, client: httpx.Client, portal: Portal
) -> None:
    d1, d2, _ = portal.definitions[:3]
    cids = []
    r = client.post(
        url("v3", "subscribe"),
        json={
            "emailAddress": EMAIL,
            "subscriptionId": d1,
            "legalBasis": "CONSENT_WITH_NOTICE",
            "legalBasisExplanation": "Signed up",
        },
    )
    cids.append(ok(r) and r.headers["x-hubspot-correlation-id"])
    r = client.post(
        url("v4", f"statuses/{EMAIL}"),
        json={"channel": "EMAIL", "statusState": "UNSUBSCRIBED", "subscriptionId": d2},
    )
    cids.append(ok(r) and r.headers["x-hubspot-correlation-id"])
    r = client.post(
        url("2026-03", "statuses/batch/unsubscribe-all"),
        params={"channel": "EMAIL"},
        json={"inputs": [EMAIL, "other@example.com"]},
    )
    cids.append(ok(r) and r.headers["x-hubspot-correlation-id"])
    r = client.post(url("v3", "unsubscribe"), json={"emailAddress": EMAIL, "subscriptionId": d1})
    assert r.status_code == 400  # already unsubscribed: refused, nothing in the ledger
    r = client.post(
        url("v4", f"statuses/{EMAIL}"),
        json={"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": d1},
    )
    cids.append(ok(r) and r.headers["x-hubspot-correlation-id"])
    # The preference page's one-click unsubscribe (RFC 8058).
    links = ok(
        client.post(
            url("v4", "links/generate"),
            params={"channel": "EMAIL"},
            json={"subscriberIdString": EMAIL},
        )
    )
    page = httpx.post(links["unsubscribeAllUrl"], data={"List-Unsubscribe": "One-Click"})
    assert page.status_code == 200, page.text

    history = ok(client.get(f"{V1}/subscribers/{EMAIL.upper()}/history"))
    assert history["hasMore"] is False
    got = [
        (
            e["scope"],
            e["subscriptionId"],
            e["businessUnitId"],
            e["oldStatus"],
            e["newStatus"],
            e["actor"],
            e["correlationId"],
        )
        for e in history["results"]
    ]
    token = f"token:{token_id(server, portal)}"
    NS, SUB, UNSUB = "NOT_SPECIFIED", "SUBSCRIBED", "UNSUBSCRIBED"
    page_cid = got[-1][-1]
    assert got == [
        ("SUBSCRIPTION", d1, None, NS, SUB, token, cids[0]),
        ("SUBSCRIPTION", d2, None, NS, UNSUB, token, cids[1]),
        *[
            ("SUBSCRIPTION", d, None, NS if d != d1 else SUB, UNSUB, token, cids[2])
            for d in portal.definitions
            if d != d2
        ],
        ("WIDE", None, 0, NS, UNSUB, token, cids[2]),
        ("SUBSCRIPTION", d1, None, UNSUB, SUB, token, cids[3]),
        ("WIDE", None, 0, UNSUB, SUB, token, cids[3]),
        ("SUBSCRIPTION", d1, None, SUB, UNSUB, "one_click", page_cid),
        ("WIDE", None, 0, SUB, UNSUB, "one_click", page_cid),
    ]
    first = history["results"][0]
    assert (
        first["subscriberIdString"],
        first["legalBasis"],
        first["legalBasisExplanation"],
        first["source"],
    ) == (EMAIL, "CONSENT_WITH_NOTICE", "Signed up", "Public status API")
    assert history["results"][-1]["source"] == "Self Service Unsubscription"
    assert [e["id"].split(".")[1] for e in history["results"][2 : 2 + 3]] == ["0", "1", "2"]

    # The portal-wide feed holds the other address too, and pages by cursor.
    feed, since = [], None
    while True:
        page_ = ok(
            client.get(f"{V1}/events", params={"limit": 4, **({"since": since} if since else {})})
        )
        feed += page_["results"]
        since = page_["cursor"]
        if not page_["hasMore"]:
            break
    assert [e["id"] for e in feed if e["subscriberIdString"] == EMAIL] == [
        e["id"] for e in history["results"]
    ]
    assert {e["subscriberIdString"] for e in feed} == {EMAIL, "other@example.com"}
    assert ok(client.get(f"{V1}/events", params={"since": since}))["results"] == []
    # The CLI prints the same history as a table, one line per event.
    table = server.cli("history", EMAIL, "--portal", str(portal.id)).stdout
    lines = [line for line in table.splitlines() if line.startswith("│")]
    assert [line.split("│")[1].strip() for line in lines] == [e["id"] for e in history["results"]]
    assert "UNSUBSCRIBED → SUBSCRIBED" in table and "one_click" in table and cids[0] in table
    only = ok(client.get(f"{V1}/events", params={"subscriptionId": "ALL", "actor": "one_click"}))
    assert [e["newStatus"] for e in only["results"]] == [UNSUB]


def token_id(server: Server, portal: Portal) -> int:
    """The id of the portal's first token (the one `new_portal` made)."""
    tokens = server.admin(lambda store: store.list_tokens(portal.id))
    return int(tokens[0].id)


# --- erasure ---------------------------------------------------------------------------------


def test_erasure_keeps_the_address_opted_out_on_every_read_path(
    server: Server, client: httpx.Client, portal: Portal
) -> None:
    d1 = portal.definitions[0]
    email = "erase.me@example.com"
    ok(
        client.post(
            url("v4", f"statuses/{email}"),
            json={"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": d1},
        )
    )
    erased = ok(client.delete(f"{V1}/subscribers/{email.replace('@', '%40')}"))
    assert erased["status"] == "COMPLETE" and erased["statusesRemoved"] is True
    assert erased["eventsRewritten"] == 1 and erased["subscriberHash"].startswith("erased:")

    b = ok(client.get(url("2026-03", f"statuses/{email}"), params={"channel": "EMAIL"}))
    assert {(r["status"], r["source"]) for r in b["results"]} == {("UNSUBSCRIBED", "Data erasure")}
    d = ok(client.get(url("v4", f"statuses/{email}/unsubscribe-all"), params={"channel": "EMAIL"}))
    assert [(r["wideStatusType"], r["status"]) for r in d["results"]] == [
        ("PORTAL_WIDE", "UNSUBSCRIBED")
    ]
    f = ok(
        client.post(
            url("v4", "statuses/batch/read"), params={"channel": "EMAIL"}, json={"inputs": [email]}
        )
    )
    assert {r["status"] for r in f["results"][0]["statuses"]} == {"UNSUBSCRIBED"}
    i = ok(
        client.post(
            url("v4", "statuses/batch/unsubscribe-all/read"),
            params={"channel": "EMAIL"},
            json={"inputs": [email]},
        )
    )
    assert [w["status"] for w in i["results"][0]["wideStatuses"]] == ["UNSUBSCRIBED"]
    k = ok(client.get(url("v3", f"status/email/{email}")))
    assert {(s["status"], s["sourceOfStatus"]) for s in k["subscriptionStatuses"]} == {
        ("NOT_SUBSCRIBED", "PORTAL_WIDE_STATUS")
    }
    o = ok(client.post(url("v3", "status/email/bulk"), json=[email]))
    assert {s["status"] for s in o["recipientToSubscriptionStatuses"][email]} == {"NOT_SUBSCRIBED"}
    # v3 subscribe refuses it like any opted-out address; nothing of it is in the ledger.
    r = client.post(url("v3", "subscribe"), json={"emailAddress": email, "subscriptionId": d1})
    assert r.status_code == 400 and "unsubscribed" in r.json()["message"]
    feed = ok(client.get(f"{V1}/events", params={"limit": 1000}))["results"]
    assert email not in {e["subscriberIdString"] for e in feed}
    history = ok(client.get(f"{V1}/subscribers/{email}/history"))["results"]
    assert [e["scope"] for e in history] == ["SUBSCRIPTION", "ERASURE"]
    assert {e["subscriberIdString"] for e in history} == {erased["subscriberHash"]}

    # The CLI erases the same way and prints the hash.
    out = server.cli("erase", "--portal", str(portal.id), "Other.Person@Example.com")
    assert out.stdout.strip().startswith("erased:")
    k = ok(client.get(url("v3", "status/email/other.person@example.com")))
    assert {s["status"] for s in k["subscriptionStatuses"]} == {"NOT_SUBSCRIBED"}


def test_erasing_an_erased_address_changes_nothing_and_says_so(
    server: Server, client: httpx.Client, portal: Portal
) -> None:
    email = "twice@example.com"
    path = f"{V1}/subscribers/{email.replace('@', '%40')}"
    first = ok(client.delete(path))
    assert first["alreadyErased"] is False
    again = ok(client.delete(path))
    assert again["alreadyErased"] is True and again["statusesRemoved"] is False
    assert again["subscriberHash"] == first["subscriberHash"]
    out = server.cli("erase", "--portal", str(portal.id), email)
    assert out.stdout.strip() == first["subscriberHash"]
    assert "erased already" in out.stderr
    history = ok(client.get(f"{path}/history"))["results"]
    # One erasure entry, whose source says what happened and whose actor says who asked.
    assert [(e["scope"], e["source"]) for e in history] == [("ERASURE", "Data erasure")]
    assert history[0]["actor"].startswith("token:")
