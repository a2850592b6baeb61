"""Definitions, translations, preference links and the consent ledger over real HTTP
(docs/wire-contract.md §3.A, §5.13, §5.14, §5.15; docs/architecture.md "Data model")."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from commpref.domain.scopes import ALL_SCOPES
from commpref.services import admin, links
from commpref.services.context import now_ms
from tests.e2e.http_helpers import url
from tests.support.server import Portal, Server

EMAIL = {"channel": "EMAIL"}
BRAND = 41857
LB = {"legalBasis": "LEGITIMATE_INTEREST_CLIENT", "legalBasisExplanation": "Existing customer"}


def events(server: Server, portal_id: int) -> list[Any]:
    return list(server.admin(lambda store: store.events(portal_id)))


def c_write(
    client: httpx.Client, email: str, definition: int, state: str, **extra: Any
) -> httpx.Response:
    body = {"channel": "EMAIL", "statusState": state, "subscriptionId": definition, **extra}
    return client.post(url("v4", f"statuses/{email}"), json=body)


# --- definitions and translations --------------------------------------------------------


def test_translations_only_when_asked(server: Server, portal: Portal) -> None:
    d101 = portal.definitions[0]
    at = now_ms()
    server.admin(
        lambda store: store.set_translation(
            definition_id=d101,
            language_code="de",
            name="Marketing-Infos",
            description="Angebote",
            now=at,
        )
    )
    with server.client(portal.token) as c:
        r = c.get(url("2026-03", "definitions"), params={"includeTranslations": "true"})
        defs = r.json()["results"]
        assert defs[0]["subscriptionTranslations"] == [
            {
                "subscriptionId": d101,
                "languageCode": "de",
                "name": "Marketing-Infos",
                "description": "Angebote",
                "createdAt": at,
                "updatedAt": at,
            }
        ]
        assert [d["subscriptionTranslations"] for d in defs[1:]] == [[], []]
        for params in [{}, {"includeTranslations": "false"}]:
            r = c.get(url("2026-03", "definitions"), params=params)
            assert all("subscriptionTranslations" not in d for d in r.json()["results"])
        r = c.get(url("v3", "definitions"), params={"includeTranslations": "true"})
        assert all("subscriptionTranslations" not in d for d in r.json()["subscriptionDefinitions"])
        d = c.get(url("v4", "definitions")).json()["results"][0]
        assert list(d) == [
            "id", "name", "description", "purpose", "communicationMethod", "isActive",
            "isDefault", "isInternal", "businessUnitId", "createdAt", "updatedAt",
        ]  # fmt: skip
        assert (d["id"], d["purpose"], d["isDefault"], d["isInternal"]) == (
            str(d101),
            "Marketing",
            True,
            False,
        )
        assert d["createdAt"].endswith("Z") and len(d["createdAt"]) == 24


def test_archived_definitions(server: Server, portal: Portal) -> None:
    archived = server.admin(
        admin.create_definition, portal_id=portal.id, name="Old", description="", is_active=False
    )
    with server.client(portal.token) as c:
        r = c.get(url("v4", "definitions"))
        assert [d["isActive"] for d in r.json()["results"]] == [True, True, True, False]
        r = c.get(url("v4", "statuses/arch@example.com"), params=EMAIL)
        assert archived.id not in [x["subscriptionId"] for x in r.json()["results"]]
        assert c_write(c, "arch@example.com", archived.id, "UNSUBSCRIBED").status_code == 200
        r = c.get(url("v4", "statuses/arch@example.com"), params=EMAIL)
        assert archived.id in [x["subscriptionId"] for x in r.json()["results"]]


# --- preference links (J) ----------------------------------------------------------------


def test_links(server: Server, portal: Portal) -> None:
    d101 = portal.definitions[0]
    key = server.admin(lambda store: store.get_secret(links.LINK_KEY_SECRET))
    assert key
    server.admin(
        lambda store: store.set_translation(
            definition_id=d101, language_code="de", name="M", description="", now=now_ms()
        )
    )
    with server.client(portal.token) as c:
        r = c.post(
            url("2026-03", "links/generate"),
            params=EMAIL,
            json={"subscriberIdString": " Link@Example.com "},
        )
        body = r.json()
        assert list(body) == ["subscriberIdString", "managePreferencesUrl", "unsubscribeAllUrl"]
        assert body["subscriberIdString"] == "link@example.com"
        for field, page in [
            ("managePreferencesUrl", "unsubscribe"),
            ("unsubscribeAllUrl", "unsubscribe-all"),
        ]:
            parts = urlsplit(body[field])
            assert f"{parts.scheme}://{parts.netloc}" == server.base_url
            assert parts.path == f"/hs/manage-preferences/{page}"
            query = parse_qs(parts.query)
            assert list(query) == ["languagePreference", "d", "v"]
            assert query["languagePreference"] == ["en"] and query["v"] == ["3"]
            claims = links.verify(query["d"][0], (key.encode(),))
            assert claims is not None
            assert (claims.portal_id, claims.email, claims.business_unit_id, claims.language) == (
                portal.id, "link@example.com", 0, "en",
            )  # fmt: skip
            assert links.verify(query["d"][0], (b"another key",)) is None

        r = c.post(
            url("v4", "links/generate"),
            params={**EMAIL, "businessUnitId": "0"},
            json={
                "subscriberIdString": "link@example.com",
                "subscriptionId": str(d101),
                "language": "DE",
            },
        )
        single = urlsplit(r.json()["unsubscribeSingleUrl"])
        assert single.path == "/hs/manage-preferences/unsubscribe-single"
        assert parse_qs(single.query)["subscriptionId"] == [str(d101)]
        assert parse_qs(single.query)["languagePreference"] == ["de"]
        # A language the pages cannot speak, and no type is translated into, falls back to
        # the portal's default; one of the pages' own languages is honoured (§5.14).
        server.admin(admin.update_portal, portal_id=portal.id, default_language="nl")
        for asked, chosen in (("sv", "nl"), ("fr", "fr")):
            r = c.post(
                url("v4", "links/generate"),
                params=EMAIL,
                json={"subscriberIdString": "link@example.com", "language": asked},
            )
            query = parse_qs(urlsplit(r.json()["managePreferencesUrl"]).query)
            assert query["languagePreference"] == [chosen]
    # Link generation reads only: the address was never created.
    stored = server.admin(lambda store: store.read_subscribers(portal.id, ["link@example.com"]))
    assert stored == {}
    assert events(server, portal.id) == []


# --- the ledger --------------------------------------------------------------------------


def test_writes_that_change_nothing_append_no_event(server: Server, portal: Portal) -> None:
    d101 = portal.definitions[0]
    with server.client(portal.token) as c:
        first = c_write(c, "led@example.com", d101, "SUBSCRIBED")
        assert (
            c_write(c, "led@example.com", d101, "SUBSCRIBED").json()["results"][0][
                "setStatusSuccessReason"
            ]
            == "NO_STATUS_CHANGE"
        )
        assert c_write(c, "new@example.com", d101, "NOT_SPECIFIED").status_code == 200
        assert (
            c.post(
                url("v3", "subscribe"),
                json={"emailAddress": "led@example.com", "subscriptionId": str(d101)},
            ).status_code
            == 200
        )
        stored = events(server, portal.id)
        assert len(stored) == 1
        event = stored[0].event
        assert event.email == "led@example.com"
        assert event.correlation_id == first.headers["x-hubspot-correlation-id"]
        assert event.actor.startswith("token:")
        assert [(ch.target, ch.old.value, ch.new.value) for ch in event.changes] == [
            (d101, "NOT_SPECIFIED", "SUBSCRIBED")
        ]

        opt_out = c.post(
            url("v4", "statuses/batch/unsubscribe-all"),
            params=EMAIL,
            json={"inputs": ["led@example.com"]},
        )
        c.post(url("v4", "statuses/led@example.com/unsubscribe-all"), params=EMAIL)
        c.post(
            url("2026-09", "statuses/batch/unsubscribe-all"),
            params=EMAIL,
            json={"inputs": ["LED@example.com"]},
        )
        stored = events(server, portal.id)
        assert len(stored) == 2
        assert stored[1].event.correlation_id == opt_out.headers["x-request-id"]
        assert len(stored[1].event.changes) == 4  # three types and the wide status


def test_source_names_the_app(server: Server, portal: Portal) -> None:
    secret = server.token(portal.id, ALL_SCOPES, app_id=5848098)
    with server.client(secret) as c:
        r = c_write(c, "app@example.com", portal.definitions[0], "UNSUBSCRIBED")
    assert r.json()["results"][0]["source"] == "Public status API, App ID:5848098"
