"""Portal flavours over real HTTP: GDPR portals, brands portals (business units) and the
v3 rules that depend on portal settings (docs/wire-contract.md §5.6, §5.10, §5.11)."""

from __future__ import annotations

from typing import Any

import httpx

from commpref.services import admin
from tests.e2e.http_helpers import assert_error, url, v3_row
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


# --- GDPR --------------------------------------------------------------------------------


def test_gdpr_portal(server: Server) -> None:
    portal = server.new_portal(gdpr=True)
    d101, d102, _ = portal.definitions
    message = "legalBasis and legalBasisExplanation are required to subscribe in this portal"
    with server.client(portal.token) as c:
        # One missing field is named on its own.
        r = c_write(c, "g@example.com", d101, "SUBSCRIBED", legalBasis="NON_GDPR")
        assert_error(
            r,
            400,
            message,
            errors=[
                {"message": "legalBasisExplanation is required", "in": "legalBasisExplanation"}
            ],
        )
        # Batch: a per-input error, the rest applied.
        r = c.post(
            url("v4", "statuses/batch/write"),
            json={
                "inputs": [
                    {
                        "subscriberIdString": "g@example.com",
                        "channel": "EMAIL",
                        "statusState": "SUBSCRIBED",
                        "subscriptionId": d101,
                    },
                    {
                        "subscriberIdString": "g@example.com",
                        "channel": "EMAIL",
                        "statusState": "SUBSCRIBED",
                        "subscriptionId": d102,
                        **LB,
                    },
                ]
            },
        )
        assert r.json()["errors"][0]["message"] == message
        assert r.json()["errors"][0]["context"] == {
            "subscriberIdString": ["g@example.com"],
            "subscriptionId": [str(d101)],
        }
        assert [(x["subscriptionId"], x["legalBasis"]) for x in r.json()["results"]] == [
            (d102, "LEGITIMATE_INTEREST_CLIENT")
        ]
        # v3: subscribe and resubscribe need it, unsubscribe never does.
        r = c.post(
            url("v3", "subscribe"),
            json={"emailAddress": "v@example.com", "subscriptionId": str(d101)},
        )
        assert r.status_code == 400
        assert r.json()["message"] == message
        assert r.json()["requestId"] == r.headers["x-request-id"]
        r = c.post(
            url("v3", "unsubscribe"),
            json={"emailAddress": "v@example.com", "subscriptionId": str(d101)},
        )
        assert r.status_code == 200
        r = c.post(
            url("2026-09", "resubscribe"),
            json={"emailAddress": "v@example.com", "subscriptionId": str(d101), **LB},
        )
        assert r.json() == v3_row(d101, 0, "SUBSCRIBED", "SUBSCRIPTION_STATUS", **LB)
        # Opt-outs of all need nothing; defaults read NOT_SUBSCRIBED in v3 (§5.11).
        assert (
            c.post(url("v4", "statuses/w@example.com/unsubscribe-all"), params=EMAIL).status_code
            == 200
        )
        r = c.get(url("v3", "status/email/fresh@example.com"))
        assert {s["status"] for s in r.json()["subscriptionStatuses"]} == {"NOT_SUBSCRIBED"}


# --- brands ------------------------------------------------------------------------------


def brands_portal(server: Server) -> tuple[Portal, int]:
    portal = server.new_portal(brands=True)
    server.admin(
        admin.create_business_unit, portal_id=portal.id, business_unit_id=BRAND, name="Brand"
    )
    brand_def = server.admin(
        admin.create_definition,
        portal_id=portal.id,
        name="Brand news",
        description="News of the brand",
        business_unit_id=BRAND,
        purpose="Marketing",
        communication_method="Email",
    )
    return portal, brand_def.id


def test_brands_wide_rows_and_filters(server: Server) -> None:
    portal, brand_def = brands_portal(server)
    with server.client(portal.token) as c:
        r = c.post(
            url("v4", "statuses/b@example.com/unsubscribe-all"),
            params={**EMAIL, "businessUnitId": BRAND},
        )
        at = r.json()["startedAt"]
        r = c.get(url("v4", "statuses/b@example.com/unsubscribe-all"), params=EMAIL)
        assert [list(w.items()) for w in r.json()["results"]] == [
            [
                ("subscriberIdString", "b@example.com"),
                ("wideStatusType", "BUSINESS_UNIT_WIDE"),
                ("status", "UNSUBSCRIBED"),
                ("channel", "EMAIL"),
                ("businessUnitId", BRAND),
                ("timestamp", at),
            ]
        ]
        rows = c.get(url("v4", "statuses/b@example.com"), params=EMAIL).json()["results"]
        assert [(x["subscriptionId"], x["businessUnitId"], x["status"]) for x in rows] == [
            *[(d, 0, "NOT_SPECIFIED") for d in portal.definitions],
            (brand_def, BRAND, "UNSUBSCRIBED"),
        ]
        # Without businessUnitId an opt-out acts on business unit 0 (§8 Q44).
        c.post(url("v4", "statuses/b@example.com/unsubscribe-all"), params=EMAIL)
        r = c.post(
            url("v4", "statuses/batch/unsubscribe-all/read"),
            params=EMAIL,
            json={"inputs": ["b@example.com"]},
        )
        wide = r.json()["results"][0]["wideStatuses"]
        assert [(w["wideStatusType"], w["businessUnitId"]) for w in wide] == [
            ("BUSINESS_UNIT_WIDE", 0),
            ("BUSINESS_UNIT_WIDE", BRAND),
        ]
        r = c.get(
            url("v4", "statuses/b@example.com/unsubscribe-all"),
            params={**EMAIL, "businessUnitId": 0},
        )
        assert [w["businessUnitId"] for w in r.json()["results"]] == [0]

        # Filters by brand on reads.
        r = c.get(url("v4", "statuses/b@example.com"), params={**EMAIL, "businessUnitId": BRAND})
        assert [x["subscriptionId"] for x in r.json()["results"]] == [brand_def]
        r = c.get(url("v4", "definitions"), params={"businessUnitId": BRAND})
        assert [(d["id"], d["businessUnitId"]) for d in r.json()["results"]] == [
            (str(brand_def), BRAND)
        ]
        r = c.get(url("v4", "definitions"))
        assert [d["id"] for d in r.json()["results"]] == [
            str(d) for d in [*portal.definitions, brand_def]
        ]

        # Unknown business units: 400 on E, H, J; empty on reads.
        for method, path, body in [
            ("POST", "statuses/b@example.com/unsubscribe-all", None),
            ("POST", "statuses/batch/unsubscribe-all", {"inputs": ["b@example.com"]}),
            ("POST", "links/generate", {"subscriberIdString": "b@example.com"}),
        ]:
            r = c.request(
                method, url("v4", path), params={**EMAIL, "businessUnitId": 99}, json=body
            )
            assert_error(
                r,
                400,
                "Business unit 99 does not exist",
                errors=[{"message": "Business unit 99 does not exist", "in": "businessUnitId"}],
            )
        for path in ["statuses/b@example.com", "statuses/b@example.com/unsubscribe-all"]:
            assert (
                c.get(url("v4", path), params={**EMAIL, "businessUnitId": 99}).json()["results"]
                == []
            )
        r = c.post(
            url("v4", "statuses/batch/unsubscribe-all/read"),
            params={**EMAIL, "businessUnitId": 99},
            json={"inputs": ["b@example.com"]},
        )
        assert r.json()["results"] == [{"subscriberIdString": "b@example.com", "wideStatuses": []}]


def test_brands_in_v3_and_links(server: Server) -> None:
    portal, brand_def = brands_portal(server)
    d101 = portal.definitions[0]
    with server.client(portal.token) as c:
        c.post(
            url("v4", "statuses/k@example.com/unsubscribe-all"),
            params={**EMAIL, "businessUnitId": BRAND},
        )
        r = c.get(url("2025-09", "status/email/k@example.com"))
        assert r.json()["subscriptionStatuses"] == [
            *[
                v3_row(d, i, "SUBSCRIBED", "SUBSCRIPTION_STATUS", brandId=0)
                for i, d in enumerate(portal.definitions)
            ],
            {
                "id": str(brand_def),
                "name": "Brand news",
                "description": "News of the brand",
                "status": "NOT_SUBSCRIBED",
                "sourceOfStatus": "BRAND_WIDE_STATUS",
                "brandId": BRAND,
                "legalBasis": None,
                "legalBasisExplanation": None,
            },
        ]
        # A single-type write takes the brand from the definition.
        r = c_write(c, "k@example.com", brand_def, "SUBSCRIBED")
        assert r.json()["results"][0]["businessUnitId"] == BRAND
        assert r.json()["results"][0]["setStatusSuccessReason"] == "RESUBSCRIBE_OCCURRED"
        # Links: the definition must belong to the page's business unit.
        r = c.post(
            url("v4", "links/generate"),
            params={**EMAIL, "businessUnitId": BRAND},
            json={"subscriberIdString": "k@example.com", "subscriptionId": d101},
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["in"] == "subscriptionId"
        r = c.post(
            url("v4", "links/generate"),
            params={**EMAIL, "businessUnitId": BRAND},
            json={"subscriberIdString": "k@example.com", "subscriptionId": brand_def},
        )
        assert r.status_code == 200


def test_no_brands_portal_rejects_other_units(server: Server, portal: Portal) -> None:
    with server.client(portal.token) as c:
        r = c.post(
            url("v4", "statuses/n@example.com/unsubscribe-all"),
            params={**EMAIL, "businessUnitId": 0},
        )
        assert r.status_code == 200
        r = c.get(
            url("v4", "statuses/n@example.com/unsubscribe-all"),
            params={**EMAIL, "businessUnitId": 0},
        )
        assert [w["wideStatusType"] for w in r.json()["results"]] == ["PORTAL_WIDE"]
        assert "businessUnitId" not in r.json()["results"][0]
        r = c.get(url("v3", "status/email/n@example.com"))
        assert all("brandId" not in s for s in r.json()["subscriptionStatuses"])


# --- v3 rules ----------------------------------------------------------------------------


def test_v3_refusals(server: Server, portal: Portal) -> None:
    d101, d102, _ = portal.definitions
    with server.client(portal.token) as c:
        body = {"emailAddress": "R@example.com", "subscriptionId": str(d102)}
        assert c.post(url("v3", "unsubscribe"), json=body).status_code == 200
        r = c.post(url("v3", "unsubscribe"), json=body)
        assert_error(
            r, 400, f"r@example.com is already unsubscribed to subscription {d102}", request_id=True
        )
        body = {"emailAddress": "r@example.com", "subscriptionId": str(d101)}
        assert c.post(url("2025-09", "subscribe"), json=body).json()["status"] == "SUBSCRIBED"
        r = c.post(url("2025-09", "resubscribe"), json=body)
        assert_error(
            r, 400, f"r@example.com is already subscribed to subscription {d101}", request_id=True
        )


def test_strict_v3_unknown_404(server: Server) -> None:
    portal = server.new_portal(strict_v3_unknown_404=True)
    d101 = portal.definitions[0]
    with server.client(portal.token) as c:
        for path in ["subscribe", "unsubscribe", "resubscribe"]:
            r = c.post(
                url("v3", path),
                json={"emailAddress": "nobody@example.com", "subscriptionId": str(d101)},
            )
            assert_error(
                r,
                404,
                "nobody@example.com either has no subscriptions associated with this portal "
                "or does not exist",
                "OBJECT_NOT_FOUND",
                request_id=True,
            )
        assert c.get(url("v3", "status/email/nobody@example.com")).status_code == 200
        assert c_write(c, "nobody@example.com", d101, "UNSUBSCRIBED").status_code == 200
        r = c.post(
            url("v3", "resubscribe"),
            json={"emailAddress": "nobody@example.com", "subscriptionId": str(d101)},
        )
        assert r.status_code == 200
