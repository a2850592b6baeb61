"""`/commpref/v1`'s administration over HTTP on a real server (each backend): subscription
types and their translations, business units, tokens and the portal's settings. Every
operation: its answer, its scope, another portal's ids (404), bad input (400 in HubSpot's
envelope) and hostile input (never a 500)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from commpref.domain import scopes
from commpref.domain.scopes import ALL_SCOPES
from commpref.errors import SCOPES_MESSAGE
from commpref.services.context import now_ms
from tests.e2e.http_helpers import assert_error, url
from tests.support.server import Portal, Server

V1 = "/commpref/v1"
MARKETING, SERVICE, ONE_TO_ONE = 0, 1, 2  # indexes of the seeded definitions
HOSTILE = [
    "<script>alert(1)</script>",
    "'; DROP TABLE definitions; --",
    "Robert\u202e txt.exe",  # right-to-left override
    "𝕳𝖊𝖑𝖑𝖔 🎉 ﷽",
    "${jndi:ldap://x}{{7*7}}%s%n",
    "\u00a0 spaced \u3000",
]


@pytest.fixture
def client(server: Server, portal: Portal) -> Iterator[httpx.Client]:
    with server.client(portal.token) as c:
        yield c


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"] == response.headers["x-hubspot-correlation-id"]
    return response.json()


def bad(response: httpx.Response, message: str, field: str | None = None) -> None:
    """A 400 in HubSpot's envelope; `field` is the `in` of its error detail."""
    if field is None:
        assert_error(response, 400, message)
    else:
        assert_error(response, 400, message, errors=[{"message": message, "in": field}])


def not_found(response: httpx.Response, message: str) -> None:
    assert_error(response, 404, message, "OBJECT_NOT_FOUND")


def sane(response: httpx.Response) -> None:
    """No 5xx; an error is HubSpot's envelope."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert body["status"] == "error" and body["category"]
        assert body["correlationId"] == response.headers["x-hubspot-correlation-id"]


def type_of(client: httpx.Client, type_id: int) -> dict[str, Any]:
    return dict(ok(client.get(f"{V1}/types/{type_id}")))


# --- every operation: its scope, and another portal's ids -----------------------------------

# (method, path, body, scope); {type}, {unit}, {token} are ids of the portal's own.
OPERATIONS: list[tuple[str, str, Any, str]] = [
    ("GET", "types", None, scopes.TYPES_READ),
    ("GET", "types/{type}", None, scopes.TYPES_READ),
    ("POST", "types", {"name": "Weekly"}, scopes.TYPES_WRITE),
    ("PATCH", "types/{type}", {"description": "Deals"}, scopes.TYPES_WRITE),
    ("POST", "types/{type}/archive", None, scopes.TYPES_WRITE),
    ("POST", "types/{type}/restore", None, scopes.TYPES_WRITE),
    ("PUT", "types/{type}/translations", {"languageCode": "de", "name": "N"}, scopes.TYPES_WRITE),
    ("DELETE", "types/{type}/translations?languageCode=fr", None, scopes.TYPES_WRITE),
    ("GET", "business-units", None, scopes.BUSINESS_UNITS_READ),
    ("POST", "business-units", {"id": 3, "name": "Three"}, scopes.BUSINESS_UNITS_WRITE),
    ("PATCH", "business-units/{unit}", {"name": "Renamed"}, scopes.BUSINESS_UNITS_WRITE),
    ("GET", "tokens", None, scopes.TOKENS_READ),
    ("POST", "tokens", {"name": "t", "scopes": [scopes.TOKENS_WRITE]}, scopes.TOKENS_WRITE),
    ("POST", "tokens/{token}/revoke", None, scopes.TOKENS_WRITE),
    ("GET", "portal", None, scopes.PORTAL_READ),
    ("PATCH", "portal", {"brandName": "Acme"}, scopes.PORTAL_WRITE),
]
IDS = [f"{m} {p.split('?')[0]}" for m, p, _, _ in OPERATIONS]


def _fill(server: Server, portal: Portal, path: str, token_scopes: frozenset[str]) -> str:
    """The path with ids of `portal`'s own: a type with a French translation, a business unit,
    a token with `token_scopes`."""
    type_id = portal.definitions[MARKETING]
    server.admin(
        lambda store: store.set_translation(
            definition_id=type_id, language_code="fr", name="F", description="", now=now_ms()
        )
    )
    if "{unit}" in path:
        server.admin(
            lambda store: store.create_business_unit(
                portal_id=portal.id, business_unit_id=7, name="Seven"
            )
        )
    token_id = 0
    if "{token}" in path:
        server.token(portal.id, token_scopes)
        token_id = max(t.id for t in server.admin(lambda store: store.list_tokens(portal.id)))
    return path.format(type=type_id, unit=7, token=token_id)


@pytest.mark.parametrize(("method", "path", "body", "scope"), OPERATIONS, ids=IDS)
def test_each_operation_needs_its_own_scope_or_admin(
    server: Server, portal: Portal, method: str, path: str, body: Any, scope: str
) -> None:
    path = f"{V1}/" + _fill(server, portal, path, frozenset({scope}))
    missing = sorted({scope, scopes.ADMIN})
    everything_else = ALL_SCOPES - {scope, scopes.ADMIN}
    with server.client(server.token(portal.id, everything_else)) as c:
        assert_error(
            c.request(method, path, json=body),
            403,
            SCOPES_MESSAGE,
            "MISSING_SCOPES",
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": missing},
                }
            ],
            links={"scopes": "https://developers.hubspot.com/scopes"},
            context={"missingScopes": missing},
        )
    with server.client(server.token(portal.id, frozenset({scope}))) as c:
        r = c.request(method, path, json=body)
        assert r.status_code in (200, 201), r.text
    with server.client() as anonymous:
        assert anonymous.request(method, path, json=body).status_code == 401


FOREIGN: list[tuple[str, str, Any, str]] = [
    ("GET", "types/{type}", None, "Subscription type {} does not exist"),
    ("PATCH", "types/{type}", {"name": "Mine"}, "Subscription type {} does not exist"),
    ("POST", "types/{type}/archive", None, "Subscription type {} does not exist"),
    ("POST", "types/{type}/restore", None, "Subscription type {} does not exist"),
    ("PUT", "types/{type}/translations", {"languageCode": "de", "name": "Mine"},
     "Subscription type {} does not exist"),
    ("DELETE", "types/{type}/translations?languageCode=fr", None,
     "Subscription type {} does not exist"),
    ("PATCH", "business-units/{unit}", {"name": "Mine"}, "Business unit {} does not exist"),
    ("POST", "tokens/{token}/revoke", None, "Token {} does not exist"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    FOREIGN,
    ids=[f"{m} {p.split('?')[0]}" for m, p, _, _ in FOREIGN],
)
def test_another_portals_ids_are_unknown_here(
    server: Server, portal: Portal, method: str, path: str, body: Any, message: str
) -> None:
    theirs = server.new_portal(name="Theirs")
    filled = _fill(server, theirs, path, ALL_SCOPES)
    (their_id,) = [part for part in filled.split("?")[0].split("/") if part.isdigit()]
    before = server.admin(lambda store: store.portal_context(theirs.id))
    their_tokens = server.admin(lambda store: store.list_tokens(theirs.id))
    with server.client(portal.token) as c:  # an admin token, of another portal
        not_found(c.request(method, f"{V1}/{filled}", json=body), message.format(their_id))
    assert server.admin(lambda store: store.portal_context(theirs.id)) == before
    assert server.admin(lambda store: store.list_tokens(theirs.id)) == their_tokens


def test_ids_that_are_no_numbers_name_nothing(client: httpx.Client) -> None:
    not_found(client.get(f"{V1}/types/abc"), "Subscription type abc does not exist")
    not_found(client.get(f"{V1}/types/1e3"), "Subscription type 1e3 does not exist")
    not_found(client.post(f"{V1}/tokens/-1/revoke"), "Token -1 does not exist")
    not_found(
        client.patch(f"{V1}/business-units/x", json={"name": "X"}), "Business unit x does not exist"
    )
    not_found(client.get(f"{V1}/types/99999999999"), "Subscription type 99999999999 does not exist")


# --- subscription types --------------------------------------------------------------------


def test_types_are_listed_and_read(client: httpx.Client, portal: Portal) -> None:
    listed = ok(client.get(f"{V1}/types"))["results"]
    assert [t["id"] for t in listed] == portal.definitions
    first = listed[0]
    assert first == {
        "id": portal.definitions[MARKETING],
        "name": "Marketing Information",
        "description": "Marketing offers and updates.",
        "purpose": "Marketing",
        "communicationMethod": "Email",
        "businessUnitId": 0,
        "isActive": True,
        "isDefault": True,
        "isInternal": False,
        "createdAt": first["createdAt"],
        "updatedAt": first["createdAt"],
        "translations": [],
    }
    assert [t["isInternal"] for t in listed] == [False, True, True]
    assert type_of(client, portal.definitions[SERVICE]) == listed[SERVICE]


def test_a_type_is_created_changed_archived_and_restored(
    client: httpx.Client, portal: Portal
) -> None:
    made = ok(
        client.post(
            f"{V1}/types",
            json={
                "name": "  Weekly digest ",
                "description": "Line one\nLine two",
                "purpose": "Marketing",
                "communicationMethod": "Email",
            },
        ),
        201,
    )
    assert (made["name"], made["description"]) == ("Weekly digest", "Line one\nLine two")
    assert (made["businessUnitId"], made["isActive"], made["isDefault"]) == (0, True, False)
    assert made["isInternal"] is False and made["translations"] == []
    assert type_of(client, made["id"]) == made
    # HubSpot's paths see it at once.
    hubspot = ok(client.get(url("v4", "definitions")))["results"]
    assert str(made["id"]) in [d["id"] for d in hubspot]

    changed = ok(client.patch(f"{V1}/types/{made['id']}", json={"description": "Mondays"}))
    assert changed == {**made, "description": "Mondays", "updatedAt": changed["updatedAt"]}
    assert changed["updatedAt"] >= made["updatedAt"]
    renamed = ok(
        client.patch(
            f"{V1}/types/{made['id']}",
            json={"name": "Digest", "purpose": "", "communicationMethod": "SMS"},
        )
    )
    assert (renamed["name"], renamed["purpose"], renamed["communicationMethod"]) == (
        "Digest",
        "",
        "SMS",
    )
    assert ok(client.patch(f"{V1}/types/{made['id']}", json={})) == renamed  # nothing changes

    archived = ok(client.post(f"{V1}/types/{made['id']}/archive"))
    assert archived["isActive"] is False
    assert ok(client.post(f"{V1}/types/{made['id']}/archive")) == archived  # already archived
    hubspot = ok(client.get(url("v4", "definitions")))["results"]
    assert [d["isActive"] for d in hubspot if d["id"] == str(made["id"])] == [False]
    statuses = ok(client.get(url("v4", "statuses/a@example.com"), params={"channel": "EMAIL"}))
    assert made["id"] not in [s["subscriptionId"] for s in statuses["results"]]
    assert ok(client.get(f"{V1}/types"))["results"][-1]["isActive"] is False  # still listed

    restored = ok(client.post(f"{V1}/types/{made['id']}/restore"))
    assert restored["isActive"] is True
    statuses = ok(client.get(url("v4", "statuses/a@example.com"), params={"channel": "EMAIL"}))
    assert made["id"] in [s["subscriptionId"] for s in statuses["results"]]


def test_a_type_in_a_business_unit(client: httpx.Client) -> None:
    ok(client.post(f"{V1}/business-units", json={"id": 12, "name": "Twelve"}), 201)
    made = ok(client.post(f"{V1}/types", json={"name": "Brand news", "businessUnitId": 12}), 201)
    assert made["businessUnitId"] == 12
    # The same name in another business unit is another type.
    other = ok(client.post(f"{V1}/types", json={"name": "brand NEWS"}), 201)
    assert other["businessUnitId"] == 0
    bad(
        client.post(f"{V1}/types", json={"name": "x", "businessUnitId": 13}),
        "Business unit 13 does not exist",
    )


def test_type_names_are_unique_within_their_business_unit(
    client: httpx.Client, portal: Portal
) -> None:
    message = "A subscription type named 'Marketing Information' already exists (id {})"
    taken = message.format(portal.definitions[MARKETING])
    bad(client.post(f"{V1}/types", json={"name": " marketing INFORMATION "}), taken, "name")
    news = ok(client.post(f"{V1}/types", json={"name": "News"}), 201)
    bad(
        client.patch(f"{V1}/types/{news['id']}", json={"name": "MARKETING information"}),
        taken,
        "name",
    )
    # archived types keep their names
    ok(client.post(f"{V1}/types/{portal.definitions[MARKETING]}/archive"))
    bad(client.post(f"{V1}/types", json={"name": "Marketing Information"}), taken, "name")
    # a type may keep, or recase, its own name
    assert ok(client.patch(f"{V1}/types/{news['id']}", json={"name": "NEWS"}))["name"] == "NEWS"


def test_internal_types_cannot_be_changed_but_can_be_translated(
    client: httpx.Client, portal: Portal
) -> None:
    internal = portal.definitions[ONE_TO_ONE]
    message = f"Subscription type {internal} is internal (isInternal) and cannot be changed"
    before = type_of(client, internal)
    bad(client.patch(f"{V1}/types/{internal}", json={"name": "Direct"}), message)
    bad(client.post(f"{V1}/types/{internal}/archive"), message)
    bad(client.post(f"{V1}/types/{internal}/restore"), message)
    assert type_of(client, internal) == before
    translated = ok(
        client.put(
            f"{V1}/types/{internal}/translations",
            json={"languageCode": "de", "name": "Eins zu eins", "description": "Direkt"},
        )
    )
    assert [t["name"] for t in translated["translations"]] == ["Eins zu eins"]


def test_bad_type_input_is_a_400_in_the_envelope(client: httpx.Client, portal: Portal) -> None:
    type_id = portal.definitions[MARKETING]
    for body, message in [
        ({"name": ""}, "Invalid input JSON: Expected `str` of length >= 1 - at `$.name`"),
        ({"name": "x" * 101}, "Invalid input JSON: Expected `str` of length <= 100 - at `$.name`"),
        ({"description": "x"}, "Invalid input JSON: Object missing required field `name`"),
        ({"name": None}, "Invalid input JSON: Expected `str`, got `null` - at `$.name`"),
        ({"name": "x", "isActive": False},
         "Invalid input JSON: Object contains unknown field `isActive`"),
        ({"name": "x", "businessUnitId": -1},
         "Invalid input JSON: Expected `int` >= 0 - at `$.businessUnitId`"),
        ({"name": "x", "description": "d" * 1001},
         "Invalid input JSON: Expected `str` of length <= 1000 - at `$.description`"),
    ]:  # fmt: skip
        bad(client.post(f"{V1}/types", json=body), message)
    bad(client.post(f"{V1}/types", json={"name": "   "}), "name must not be blank", "name")
    bad(
        client.post(f"{V1}/types", json={"name": "tab\there"}),
        "name contains a control character (0x09)",
        "name",
    )
    bad(
        client.post(f"{V1}/types", json={"name": "x", "purpose": "a\nb"}),
        "purpose contains a control character (0x0a)",
        "purpose",
    )
    bad(
        client.post(f"{V1}/types", json={"name": "nul\u0000"}),
        "name contains a control character (0x00)",
        "name",
    )
    # A type's business unit never changes; archiving has its own operations.
    for field, value in (("businessUnitId", 0), ("isActive", False), ("id", 1)):
        bad(
            client.patch(f"{V1}/types/{type_id}", json={field: value}),
            f"Invalid input JSON: Object contains unknown field `{field}`",
        )
    bad(client.patch(f"{V1}/types/{type_id}", json={"name": " "}), "name must not be blank", "name")
    r = client.post(f"{V1}/types", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["message"].startswith("Invalid input JSON")
    r = client.post(f"{V1}/types", content=b"", headers={"content-type": "application/json"})
    bad(r, "Invalid input JSON on line 1, column 1: empty body")
    assert type_of(client, type_id)["name"] == "Marketing Information"


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_type_text_is_stored_verbatim(client: httpx.Client, text: str) -> None:
    made = ok(client.post(f"{V1}/types", json={"name": text, "description": text}), 201)
    assert (made["name"], made["description"]) == (text.strip(), text)
    again = ok(
        client.put(
            f"{V1}/types/{made['id']}/translations",
            json={"languageCode": "de", "name": text, "description": text},
        )
    )
    assert (again["translations"][0]["name"], again["translations"][0]["description"]) == (
        text.strip(),
        text,
    )
    hubspot = ok(client.get(url("v4", "definitions")))["results"]
    assert [d["name"] for d in hubspot if d["id"] == str(made["id"])] == [text.strip()]


def test_translations_are_set_replaced_and_deleted(client: httpx.Client, portal: Portal) -> None:
    type_id = portal.definitions[MARKETING]
    first = ok(
        client.put(
            f"{V1}/types/{type_id}/translations",
            json={"languageCode": "de", "name": "Marketing-Infos", "description": "Angebote"},
        )
    )
    (de,) = first["translations"]
    assert (de["languageCode"], de["name"], de["description"]) == (
        "de",
        "Marketing-Infos",
        "Angebote",
    )
    assert de["createdAt"] == de["updatedAt"]
    # A regional tag is kept in lower case: `pt_BR` and `PT-br` are one language.
    ok(client.put(f"{V1}/types/{type_id}/translations",
                  json={"languageCode": "pt_BR", "name": "Informações"}))  # fmt: skip
    replaced = ok(
        client.put(
            f"{V1}/types/{type_id}/translations",
            json={"languageCode": " DE ", "name": "Werbung", "description": ""},
        )
    )
    assert [(t["languageCode"], t["name"]) for t in replaced["translations"]] == [
        ("de", "Werbung"),
        ("pt-br", "Informações"),
    ]
    assert replaced["translations"][0]["createdAt"] == de["createdAt"]
    # HubSpot's definitions show them.
    r = client.get(url("2026-03", "definitions"), params={"includeTranslations": "true"})
    shown = next(d for d in ok(r)["results"] if d["id"] == str(type_id))
    assert [t["languageCode"] for t in shown["subscriptionTranslations"]] == ["de", "pt-br"]

    left = ok(client.delete(f"{V1}/types/{type_id}/translations", params={"languageCode": "PT-br"}))
    assert [t["languageCode"] for t in left["translations"]] == ["de"]
    not_found(
        client.delete(f"{V1}/types/{type_id}/translations", params={"languageCode": "pt-br"}),
        f"Subscription type {type_id} has no translation in pt-br",
    )
    assert [t["languageCode"] for t in type_of(client, type_id)["translations"]] == ["de"]


def test_bad_translations_are_400s(client: httpx.Client, portal: Portal) -> None:
    type_id = portal.definitions[MARKETING]
    path = f"{V1}/types/{type_id}/translations"
    for code in ("english", "d", "de--DE", "de-", "12", "de DE", "<de>", "x" * 36, "de-ÄÖ"):
        message = f"Invalid languageCode {code!r}: use a language tag such as en, de or pt-br"
        if len(code) < 2 or len(code) > 35:
            r = client.put(path, json={"languageCode": code, "name": "N"})
            assert r.status_code == 400 and "languageCode" in r.json()["message"]
            continue
        bad(client.put(path, json={"languageCode": code, "name": "N"}), message, "languageCode")
        bad(client.delete(path, params={"languageCode": code}), message, "languageCode")
    bad(
        client.put(path, json={"languageCode": "de", "name": " "}),
        "name must not be blank",
        "name",
    )
    bad(
        client.put(path, json={"languageCode": "de"}),
        "Invalid input JSON: Object missing required field `name`",
    )
    bad(
        client.put(path, json={"languageCode": "de", "name": "N", "lang": "x"}),
        "Invalid input JSON: Object contains unknown field `lang`",
    )
    bad(
        client.delete(path),
        "Missing required query parameter: languageCode",
        "languageCode",
    )
    assert type_of(client, type_id)["translations"] == []


# --- business units ------------------------------------------------------------------------


def test_business_units_are_listed_created_and_renamed(client: httpx.Client) -> None:
    assert ok(client.get(f"{V1}/business-units")) == {
        "results": [{"id": 0, "name": "Account", "doubleOptIn": None}]
    }
    assert ok(client.post(f"{V1}/business-units", json={"id": 41857, "name": "Brand"}), 201) == {
        "id": 41857,
        "name": "Brand",
        "doubleOptIn": None,
    }
    big = 2**63 - 1
    ok(client.post(f"{V1}/business-units", json={"id": big, "name": "<b>Big</b>"}), 201)
    assert ok(client.patch(f"{V1}/business-units/41857", json={"name": " Brand two "})) == {
        "id": 41857,
        "name": "Brand two",
        "doubleOptIn": None,
    }
    ok(client.patch(f"{V1}/business-units/0", json={"name": "Main"}))
    assert ok(client.get(f"{V1}/business-units"))["results"] == [
        {"id": 0, "name": "Main", "doubleOptIn": None},
        {"id": 41857, "name": "Brand two", "doubleOptIn": None},
        {"id": big, "name": "<b>Big</b>", "doubleOptIn": None},
    ]
    # HubSpot's paths know the new unit at once.
    params = {"channel": "EMAIL", "businessUnitId": 41857}
    r = client.get(url("v4", "statuses/a@example.com"), params=params)
    assert r.status_code == 200, r.text


def test_bad_business_units_are_400s(client: httpx.Client) -> None:
    bad(
        client.post(f"{V1}/business-units", json={"id": 0, "name": "Again"}),
        "Business unit 0 already exists",
    )
    for body, message in [
        ({"id": -1, "name": "N"}, "Invalid input JSON: Expected `int` >= 0 - at `$.id`"),
        ({"id": 2**63, "name": "N"},
         "Invalid input JSON: Expected `int` <= 9223372036854775807 - at `$.id`"),
        ({"id": "7", "name": "N"}, "Invalid input JSON: Expected `int`, got `str` - at `$.id`"),
        ({"name": "N"}, "Invalid input JSON: Object missing required field `id`"),
        ({"id": 7, "name": "N", "brand": True},
         "Invalid input JSON: Object contains unknown field `brand`"),
    ]:  # fmt: skip
        bad(client.post(f"{V1}/business-units", json=body), message)
    bad(client.post(f"{V1}/business-units", json={"id": 7, "name": "\t"}),
        "name must not be blank", "name")  # fmt: skip
    bad(client.patch(f"{V1}/business-units/0", json={"name": "a\u0007"}),
        "name contains a control character (0x07)", "name")  # fmt: skip
    not_found(client.patch(f"{V1}/business-units/8", json={"name": "N"}),
              "Business unit 8 does not exist")  # fmt: skip
    assert ok(client.get(f"{V1}/business-units"))["results"] == [
        {"id": 0, "name": "Account", "doubleOptIn": None}
    ]


# --- tokens --------------------------------------------------------------------------------


def test_tokens_are_made_listed_used_and_revoked(
    server: Server, client: httpx.Client, portal: Portal
) -> None:
    expires = "2099-05-01T10:00:00+02:00"
    made = ok(
        client.post(
            f"{V1}/tokens",
            json={"name": "reader", "scopes": [scopes.TYPES_READ, scopes.READ],
                  "expiresAt": expires, "appId": 4242},
        ),
        201,
    )  # fmt: skip
    secret = made.pop("secret")
    assert secret.startswith("pat-cp-")
    assert made == {
        "id": made["id"],
        "name": "reader",
        "scopes": [scopes.TYPES_READ, scopes.READ],
        "appId": 4242,
        "createdAt": made["createdAt"],
        "expiresAt": "2099-05-01T08:00:00.000Z",
        "revokedAt": None,
        "lastUsedAt": None,
    }
    with server.client(secret) as reader:
        assert ok(reader.get(f"{V1}/types"))["results"]
        assert ok(reader.get(url("v4", "definitions")))["results"]
        assert reader.get(f"{V1}/tokens").status_code == 403

    listed = ok(client.get(f"{V1}/tokens"))["results"]
    assert [t["name"] for t in listed] == ["token", "reader"]
    assert listed[1] == made  # never a secret again
    assert all("secret" not in t for t in listed)
    server.admin(lambda store: store.note_token_uses({made["id"]: 4_102_444_800_000}))
    used = ok(client.get(f"{V1}/tokens"))["results"][1]
    assert used["lastUsedAt"] == "2100-01-01T00:00:00.000Z"

    revoked = ok(client.post(f"{V1}/tokens/{made['id']}/revoke"))
    assert revoked == {**used, "revokedAt": revoked["revokedAt"]}
    assert revoked["revokedAt"] is not None
    with server.client(secret) as reader:  # at once
        assert reader.get(f"{V1}/types").status_code == 401
    assert ok(client.post(f"{V1}/tokens/{made['id']}/revoke")) == revoked  # the first time stays
    # the CLI lists the same tokens, through the same service
    shown = server.cli("token", "list", "--portal", str(portal.id), "--json")
    assert [t["name"] for t in json.loads(shown.stdout)] == ["token", "reader"]


def test_a_token_grants_only_scopes_it_holds(server: Server, portal: Portal) -> None:
    held = frozenset({scopes.TOKENS_WRITE, scopes.TOKENS_READ, scopes.TYPES_READ})
    with server.client(server.token(portal.id, held)) as c:
        fine = ok(c.post(f"{V1}/tokens", json={"name": "r", "scopes": [scopes.TYPES_READ]}), 201)
        assert fine["scopes"] == [scopes.TYPES_READ]
        for wanted, missing in [
            ([scopes.TYPES_WRITE], [scopes.TYPES_WRITE]),
            ([scopes.TYPES_READ, scopes.ADMIN], [scopes.ADMIN]),
            ([scopes.READ_WRITE, scopes.TYPES_WRITE], [scopes.TYPES_WRITE, scopes.READ_WRITE]),
        ]:
            message = (
                "A token can only make tokens with scopes it holds itself (or hold "
                f"commpref.admin); this one lacks {', '.join(missing)}"
            )
            assert_error(
                c.post(f"{V1}/tokens", json={"name": "up", "scopes": wanted}),
                403,
                message,
                "MISSING_SCOPES",
                errors=[
                    {
                        "message": "All of the following scopes are required.",
                        "context": {"requiredGranularScopes": missing},
                    }
                ],
                links={"scopes": "https://developers.hubspot.com/scopes"},
                context={"missingScopes": missing},
            )
    names = [t.name for t in server.admin(lambda store: store.list_tokens(portal.id))]
    assert names == ["token", "token", "r"]  # nothing stronger was made
    with server.client(portal.token) as admin:  # commpref.admin may grant anything
        made = ok(admin.post(f"{V1}/tokens", json={"name": "all", "scopes": sorted(ALL_SCOPES)}),
                  201)  # fmt: skip
        assert made["scopes"] == sorted(ALL_SCOPES) and made["expiresAt"] is None


def test_an_expiring_tokens_tokens_expire_with_it(server: Server, portal: Portal) -> None:
    expires = now_ms() + 3_600_000
    held = frozenset({scopes.TOKENS_WRITE, scopes.READ})
    with server.client(server.token(portal.id, held, expires_at=expires)) as c:
        made = ok(c.post(f"{V1}/tokens", json={"name": "child", "scopes": [scopes.READ]}), 201)
        mine = [t for t in server.admin(lambda store: store.list_tokens(portal.id))
                if t.expires_at == expires]  # fmt: skip
        assert made["expiresAt"] is not None and len(mine) == 2
        later = {"name": "later", "scopes": [scopes.READ], "expiresAt": "2099-01-01T00:00:00Z"}
        bad(c.post(f"{V1}/tokens", json=later), "expiresAt is after this token's own expiry",
            "expiresAt")  # fmt: skip
        assert len(server.admin(lambda store: store.list_tokens(portal.id))) == 3


def test_bad_token_input_is_a_400_in_the_envelope(client: httpx.Client) -> None:
    for body, message, field in [
        ({"name": "t", "scopes": ["nope", scopes.READ]}, "Unknown scope(s): nope. Valid scopes: "
         + ", ".join(sorted(ALL_SCOPES)), "scopes"),
        ({"name": "t", "scopes": [scopes.READ], "expiresAt": "2000-01-01T00:00:00Z"},
         "expiresAt must be in the future", "expiresAt"),
        ({"name": " ", "scopes": [scopes.READ]}, "name must not be blank", "name"),
    ]:  # fmt: skip
        bad(client.post(f"{V1}/tokens", json=body), message, field)
    for when in (
        "tomorrow",
        "2099-01-01",
        "2099-01-01T00:00:00",
        "2099-13-01T00:00:00Z",
        "4102444800000",
        "2099-01-01T00:00:00Z\n",
        "２０９９-01-01T00:00:00Z",  # fullwidth digits
    ):
        bad(
            client.post(
                f"{V1}/tokens", json={"name": "t", "scopes": [scopes.READ], "expiresAt": when}
            ),
            "expiresAt is a date-time such as 2030-01-31T12:00:00Z",
            "expiresAt",
        )
    for body, message in [
        ({"name": "t", "scopes": []},
         "Invalid input JSON: Expected `array` of length >= 1 - at `$.scopes`"),
        ({"name": "t"}, "Invalid input JSON: Object missing required field `scopes`"),
        ({"name": "t", "scopes": "commpref.admin"},
         "Invalid input JSON: Expected `array`, got `str` - at `$.scopes`"),
        ({"name": "t", "scopes": [scopes.READ], "appId": -5},
         "Invalid input JSON: Expected `int` >= 0 - at `$.appId`"),
        ({"name": "t", "scopes": [scopes.READ], "secret": "mine"},
         "Invalid input JSON: Object contains unknown field `secret`"),
    ]:  # fmt: skip
        bad(client.post(f"{V1}/tokens", json=body), message)
    assert len(ok(client.get(f"{V1}/tokens"))["results"]) == 1


def test_a_token_may_revoke_itself(server: Server, portal: Portal) -> None:
    secret = server.token(portal.id, frozenset({scopes.TOKENS_WRITE, scopes.TOKENS_READ}))
    with server.client(secret) as c:
        me = ok(c.get(f"{V1}/tokens"))["results"][-1]
        assert ok(c.post(f"{V1}/tokens/{me['id']}/revoke"))["revokedAt"] is not None
        assert c.get(f"{V1}/tokens").status_code == 401


# --- the portal ----------------------------------------------------------------------------


def test_portal_settings_and_branding(server: Server, client: httpx.Client, portal: Portal) -> None:
    shown = ok(client.get(f"{V1}/portal"))
    assert shown == {
        "id": portal.id,
        "name": "Test portal",
        "gdpr": False,
        "brands": False,
        "defaultLanguage": "en",
        "rateLimitTier": None,
        "strictV3Unknown404": False,
        "batchScopesEnabled": True,
        "brandName": None,
        "brandLogoUrl": None,
        "brandColour": None,
        "doubleOptIn": False,
        "mailFrom": None,
        "createdAt": shown["createdAt"],
    }
    changed = ok(
        client.patch(
            f"{V1}/portal",
            json={
                "name": "Acme",
                "gdpr": True,
                "brands": True,
                "defaultLanguage": "pt_BR",
                "brandName": "Acme <Mail>",
                "brandLogoUrl": "https://cdn.example.com/a%20b/logo.png?v=2",
                "brandColour": "#AbCdEf",
            },
        )
    )
    assert changed == {
        **shown,
        "name": "Acme",
        "gdpr": True,
        "brands": True,
        "defaultLanguage": "pt-br",
        "brandName": "Acme <Mail>",
        "brandLogoUrl": "https://cdn.example.com/a%20b/logo.png?v=2",
        "brandColour": "#abcdef",
    }
    assert ok(client.get(f"{V1}/portal")) == changed
    stored = server.admin(lambda store: store.get_portal(portal.id))
    assert (stored.brand_name, stored.brand_colour) == ("Acme <Mail>", "#abcdef")
    # The flags take effect at once: a GDPR portal wants a legal basis for an opt-in.
    r = client.post(
        url("v4", "statuses/a@example.com"),
        json={"channel": "EMAIL", "statusState": "SUBSCRIBED",
              "subscriptionId": portal.definitions[MARKETING]},
    )  # fmt: skip
    assert r.status_code == 400, r.text
    ok(client.patch(f"{V1}/portal", json={"rateLimitTier": "enterprise"}))
    r = client.get(f"{V1}/portal")
    assert r.headers["x-hubspot-ratelimit-max"] == "190"
    cleared = ok(client.patch(f"{V1}/portal", json={"brandLogoUrl": "", "brandColour": None,
                                                   "rateLimitTier": None}))  # fmt: skip
    assert (cleared["brandName"], cleared["brandLogoUrl"], cleared["brandColour"]) == (
        "Acme <Mail>",
        None,
        None,
    )
    assert cleared["rateLimitTier"] is None
    assert "x-hubspot-ratelimit-max" not in client.get(f"{V1}/portal").headers
    assert ok(client.patch(f"{V1}/portal", json={})) == cleared


def test_bad_portal_settings_are_400s(client: httpx.Client) -> None:
    before = ok(client.get(f"{V1}/portal"))
    url_message = "brandLogoUrl is an https URL (ASCII, percent-encoded), or empty to remove it"
    for logo in (
        "http://cdn.example.com/l.png",
        "https://",
        "javascript:alert(1)",
        "https://x.example/a b.png",
        "https://x.example/'onerror=1",
        "//x.example/l.png",
        "https://x.example:99999/l.png",
        "https://bücher.example/l.png",
        "logo.png",
    ):
        bad(client.patch(f"{V1}/portal", json={"brandLogoUrl": logo}), url_message, "brandLogoUrl")
    colour_message = "brandColour is #rrggbb (six hex digits), or empty"
    for colour in ("#abc", "abcdef", "#abcdeg", "red", "#abcdef\n", " "):
        r = client.patch(f"{V1}/portal", json={"brandColour": colour})
        if colour in ("#abcdef\n",):
            bad(r, colour_message, "brandColour")
        else:
            assert r.status_code == 400 and "brandColour" in r.json()["message"], r.text
    bad(client.patch(f"{V1}/portal", json={"brandName": " "}), "brandName must not be blank",
        "brandName")  # fmt: skip
    bad(client.patch(f"{V1}/portal", json={"name": "  "}), "name must not be blank", "name")
    bad(
        client.patch(f"{V1}/portal", json={"defaultLanguage": "german"}),
        "Invalid defaultLanguage 'german': use a language tag such as en, de or pt-br",
        "defaultLanguage",
    )
    r = client.patch(f"{V1}/portal", json={"rateLimitTier": "gold"})
    assert r.status_code == 400 and "rateLimitTier" in r.json()["message"]
    for field, value in (("gdpr", "yes"), ("name", None), ("id", 5), ("erasureKey", "x" * 40),
                         ("created_at", 0)):  # fmt: skip
        r = client.patch(f"{V1}/portal", json={field: value})
        assert r.status_code == 400 and r.json()["message"].startswith("Invalid input JSON"), r.text
    assert ok(client.get(f"{V1}/portal")) == before


def test_the_cli_sets_the_branding_through_the_same_rules(server: Server, portal: Portal) -> None:
    result = server.cli(
        "portal", "set", "--portal", str(portal.id), "--brand-name", "CLI brand",
        "--brand-logo-url", "https://x.example/l.svg", "--brand-colour", "#00FF00",
    )  # fmt: skip
    assert result.stdout.strip() == str(portal.id)
    with server.client(portal.token) as c:
        shown = ok(c.get(f"{V1}/portal"))
    assert (shown["brandName"], shown["brandLogoUrl"], shown["brandColour"]) == (
        "CLI brand",
        "https://x.example/l.svg",
        "#00ff00",
    )
    failed = server.cli("portal", "set", "--portal", str(portal.id), "--brand-colour", "green",
                        check=False)  # fmt: skip
    assert failed.returncode == 1
    assert failed.stderr.strip() == "Error: brandColour is #rrggbb (six hex digits), or empty"
    server.cli("portal", "set", "--portal", str(portal.id), "--brand-logo-url", "")
    with server.client(portal.token) as c:
        assert ok(c.get(f"{V1}/portal"))["brandLogoUrl"] is None


# --- hostile input, everywhere -------------------------------------------------------------

HOSTILE_BODIES: list[bytes] = [
    b"[]",
    b"null",
    b'"x"',
    b"{" * 10_000,
    b'{"name": ' + b"[" * 300 + b"]" * 300 + b"}",
    b'{"name": "x", "name": 5}',
    b'{"name": "' + b"a" * 100_000 + b'"}',
    b'{"id": 1e400, "name": "n"}',
    b'{"id": 99999999999999999999999999, "name": "n"}',
    b'{"name": "\\ud800"}',
    b'{"languageCode": "de\\u0000", "name": "n"}',
    b'{"scopes": [' + b'"commpref.admin",' * 200 + b'"x"], "name": "n"}',
    b'{"brandLogoUrl": "https://x.example/' + b"%" * 1990 + b'"}',
]
BODY_PATHS = [
    ("POST", "types"),
    ("PATCH", "types/{type}"),
    ("PUT", "types/{type}/translations"),
    ("POST", "business-units"),
    ("PATCH", "business-units/0"),
    ("POST", "tokens"),
    ("PATCH", "portal"),
]


@pytest.mark.parametrize(("method", "path"), BODY_PATHS, ids=[f"{m} {p}" for m, p in BODY_PATHS])
def test_hostile_bodies_never_break_anything(
    client: httpx.Client, portal: Portal, method: str, path: str
) -> None:
    target = f"{V1}/" + path.format(type=portal.definitions[MARKETING])
    for raw in HOSTILE_BODIES:
        r = client.request(method, target, content=raw,
                           headers={"content-type": "application/json"})  # fmt: skip
        sane(r)
        assert r.status_code == 400, (raw[:80], r.text)
    for text in HOSTILE:
        body = {"name": text, "languageCode": "de", "id": 9, "scopes": [scopes.READ],
                "brandName": text, "description": text}  # fmt: skip
        sane(client.request(method, target, json=body))
    # every read still answers
    for read in ("types", "business-units", "tokens", "portal"):
        ok(client.get(f"{V1}/{read}"))
    ok(client.get(url("v4", "definitions")))


def test_a_body_that_is_not_utf8_is_a_400(client: httpx.Client) -> None:
    r = client.post(f"{V1}/types", content=b'{"name": "\xff"}',
                    headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "Invalid input JSON: the body is not UTF-8"


def test_hostile_path_ids_and_query(client: httpx.Client, portal: Portal) -> None:
    type_id = portal.definitions[MARKETING]
    for path in (
        f"{V1}/types/%00",
        f"{V1}/types/{'9' * 40}",
        f"{V1}/types/%F0%9F%8E%89",
        f"{V1}/types/1%2F2",
        f"{V1}/tokens/%27%20OR%201=1/revoke",
        f"{V1}/types/{type_id}/translations?languageCode=%00",
        f"{V1}/types/{type_id}/translations?languageCode=" + "a" * 5000,
    ):
        for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            sane(client.request(method, path, json={"name": "n", "languageCode": "de"}))
    assert type_of(client, type_id)["name"] == "Marketing Information"
