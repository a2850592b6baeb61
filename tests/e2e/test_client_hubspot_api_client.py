"""hubspot-api-client 12 (OpenAPI Generator, v3 paths) against a real server.

The client is built the way applications build it, `hubspot.Client.create(...)`, with the
generated configuration's `host` pointed at the server and `client_side_validation` on, so
every deserialised model checks its required fields and enums. `COVERAGE` names the tests
that call each method; `test_every_api_client_method_is_covered` checks it against what the
package exposes. The last tests check that the two official clients see one store.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import hubspot
import hubspot.communication_preferences as cp_package
import pytest
from hubspot.communication_preferences import (
    ApiException,
    PublicSubscriptionStatus,
    PublicUpdateSubscriptionStatusRequest,
)
from hubspot.communication_preferences.exceptions import (
    ForbiddenException,
    NotFoundException,
    UnauthorizedException,
)
from hubspot.discovery.communication_preferences.discovery import Discovery
from hubspot_sdk import HubSpot

from commpref.domain.scopes import READ, READ_WRITE, WRITE
from commpref.services import admin
from tests.support.server import Portal, Server

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
GDPR_MESSAGE = "legalBasis and legalBasisExplanation are required to subscribe in this portal"
DEFAULTS = [
    ("Marketing Information", "Marketing offers and updates.", "Marketing", "Email", False),
    (
        "Customer Service Communication",
        "Receive feedback requests and customer service information.",
        "Service",
        "Email",
        True,
    ),
    ("One to One", "One to One emails", "Sales", "Email", True),
]
NAMES = [d[0] for d in DEFAULTS]
BRAND = 41857

COVERAGE: dict[str, tuple[str, ...]] = {
    "definition_api.get_page": ("test_get_page",),
    "definition_api.get_page_with_http_info": ("test_get_page",),
    "status_api.get_email_status": (
        "test_get_email_status_defaults_plus_and_upper_case",
        "test_portal_wide_status_after_v4_opt_out",
        "test_subscribe_and_unsubscribe",
    ),
    "status_api.get_email_status_with_http_info": (
        "test_get_email_status_defaults_plus_and_upper_case",
    ),
    "status_api.subscribe": ("test_subscribe_and_unsubscribe", "test_subscribe_refused_texts"),
    "status_api.subscribe_with_http_info": ("test_subscribe_and_unsubscribe",),
    "status_api.unsubscribe": ("test_subscribe_and_unsubscribe", "test_unsubscribe_refused_text"),
    "status_api.unsubscribe_with_http_info": ("test_subscribe_and_unsubscribe",),
}


def make_client(server: Server, token: str) -> Any:
    return hubspot.Client.create(
        access_token=token, host=server.base_url, client_side_validation=True
    )


@pytest.fixture
def client(server: Server, portal: Portal) -> Any:
    return make_client(server, portal.token)


@pytest.fixture
def sdk(server: Server, portal: Portal) -> Iterator[HubSpot]:
    with HubSpot(
        access_token=portal.token,
        base_url=server.base_url,
        _strict_response_validation=True,
        max_retries=0,
    ) as c:
        yield c


def request(email: str, subscription_id: int | str, **kw: Any) -> Any:
    return PublicUpdateSubscriptionStatusRequest(
        email_address=email, subscription_id=str(subscription_id), **kw
    )


def error_body(exc: ApiException, status: int, category: str, message: str) -> dict[str, Any]:
    assert exc.status == status
    body = json.loads(exc.body)
    assert body["status"] == "error"
    assert body["category"] == category
    assert body["message"] == message
    assert body["correlationId"] == exc.headers["X-HubSpot-Correlation-Id"]
    return dict(body)


def statuses(resp: Any) -> list[tuple[str, str, str, str | None, str | None]]:
    return [
        (s.id, s.status, s.source_of_status, s.legal_basis, s.legal_basis_explanation)
        for s in resp.subscription_statuses
    ]


# --- coverage ----------------------------------------------------------------------------


def test_every_api_client_method_is_covered() -> None:
    discovery = Discovery({"access_token": "x"})
    apis = {
        name: getattr(discovery, name)
        for name, attr in vars(Discovery).items()
        if isinstance(attr, property)
    }
    package_apis = {
        n for n in dir(cp_package) if n.endswith("Api") and inspect.isclass(getattr(cp_package, n))
    }
    assert (
        {type(a).__name__ for a in apis.values()} == package_apis == {"DefinitionApi", "StatusApi"}
    )
    exposed = {
        f"{name}.{method}"
        for name, api in apis.items()
        for method, fn in vars(type(api)).items()
        if inspect.isfunction(fn) and not method.startswith("_")
    }
    assert exposed == set(COVERAGE)
    module = globals()
    for method, tests in COVERAGE.items():
        _, _, last = method.partition(".")
        for test in tests:
            assert f".{last}(" in inspect.getsource(module[test]), (method, test)


def test_configuration_points_at_the_server(server: Server, client: Any) -> None:
    for api in (
        client.communication_preferences.definition_api,
        client.communication_preferences.status_api,
    ):
        config = api.api_client.configuration
        assert config.host == server.base_url
        assert config.client_side_validation is True


# --- A (v3 shape) ------------------------------------------------------------------------


def test_get_page(server: Server, client: Any, portal: Portal) -> None:
    api = client.communication_preferences.definition_api
    resp = api.get_page()
    defs = resp.subscription_definitions
    assert [d.id for d in defs] == [str(i) for i in portal.definitions]
    for d, (name, description, purpose, method, internal) in zip(defs, DEFAULTS, strict=True):
        assert (d.name, d.description, d.purpose, d.communication_method) == (
            name,
            description,
            purpose,
            method,
        )
        assert (d.is_active, d.is_default, d.is_internal) == (True, True, internal)
        assert d.business_unit_id == 0
        assert isinstance(d.created_at, datetime) and d.created_at.tzinfo is not None
        assert d.updated_at >= d.created_at

    data, status, headers = api.get_page_with_http_info()
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert [d.id for d in data.subscription_definitions] == [str(i) for i in portal.definitions]

    # v3 never carries translations, even when asked
    raw = api.get_page(_preload_content=False)
    payload = json.loads(raw.data)
    assert set(payload) == {"subscriptionDefinitions"}
    assert all("subscriptionTranslations" not in d for d in payload["subscriptionDefinitions"])


# --- K -----------------------------------------------------------------------------------


def test_get_email_status_defaults_plus_and_upper_case(client: Any, portal: Portal) -> None:
    api = client.communication_preferences.status_api
    resp = api.get_email_status("Jane.Doe+News@Example.COM")
    assert resp.recipient == "jane.doe+news@example.com"
    assert statuses(resp) == [
        (str(d), "SUBSCRIBED", "SUBSCRIPTION_STATUS", None, None) for d in portal.definitions
    ]
    for s, (name, description, *_rest) in zip(resp.subscription_statuses, DEFAULTS, strict=True):
        assert (s.name, s.description) == (name, description)
        assert s.brand_id is None  # no brands in this portal
        assert s.preference_group_name is None

    data, status, _ = api.get_email_status_with_http_info("JANE.DOE+NEWS@example.com")
    assert status == 200
    assert data.recipient == "jane.doe+news@example.com"

    raw = api.get_email_status("jane.doe+news@example.com", _preload_content=False)
    row = json.loads(raw.data)["subscriptionStatuses"][0]
    assert row["legalBasis"] is None and row["legalBasisExplanation"] is None
    assert "brandId" not in row and "preferenceGroupName" not in row


def test_get_email_status_gdpr_defaults(server: Server) -> None:
    p = server.new_portal(gdpr=True)
    api = make_client(server, p.token).communication_preferences.status_api
    resp = api.get_email_status("g@example.com")
    assert statuses(resp) == [
        (str(d), "NOT_SUBSCRIBED", "SUBSCRIPTION_STATUS", None, None) for d in p.definitions
    ]


def test_get_email_status_brands(server: Server) -> None:
    p = server.new_portal(brands=True)
    server.admin(admin.create_business_unit, portal_id=p.id, business_unit_id=BRAND, name="B")
    brand_def = server.admin(
        admin.create_definition,
        portal_id=p.id,
        name="Brand News",
        description="News of brand B",
        business_unit_id=BRAND,
    ).id
    with HubSpot(
        access_token=p.token, base_url=server.base_url, _strict_response_validation=True
    ) as sdk:
        sdk.communication_preferences.unsubscribe_all(
            "b@example.com", channel="EMAIL", business_unit_id=BRAND
        )
    v3 = make_client(server, p.token).communication_preferences
    defs = v3.definition_api.get_page().subscription_definitions
    assert [(d.id, d.business_unit_id) for d in defs] == [
        *((str(d), 0) for d in p.definitions),
        (str(brand_def), BRAND),
    ]
    api = v3.status_api
    resp = api.get_email_status("b@example.com")
    assert [
        (s.id, s.brand_id, s.status, s.source_of_status) for s in resp.subscription_statuses
    ] == [
        *((str(d), 0, "SUBSCRIBED", "SUBSCRIPTION_STATUS") for d in p.definitions),
        (str(brand_def), BRAND, "NOT_SUBSCRIBED", "BRAND_WIDE_STATUS"),
    ]
    with pytest.raises(ApiException) as err:
        api.subscribe(request("b@example.com", brand_def))
    error_body(
        err.value,
        400,
        "VALIDATION_ERROR",
        f"subscription {brand_def} for b@example.com cannot be updated "
        "because they have unsubscribed",
    )


def test_portal_wide_status_after_v4_opt_out(client: Any, sdk: HubSpot, portal: Portal) -> None:
    """docs/wire-contract.md §10.2: an opt-out-of-all done through v4
    reads as PORTAL_WIDE_STATUS in v3."""
    d1 = portal.definitions[0]
    sdk.communication_preferences.update_status(
        "jane@example.com",
        channel="EMAIL",
        status_state="SUBSCRIBED",
        subscription_id=d1,
        legal_basis="CONSENT_WITH_NOTICE",
        legal_basis_explanation="Booth",
    )
    sdk.communication_preferences.unsubscribe_all("jane@example.com", channel="EMAIL")
    api = client.communication_preferences.status_api
    resp = api.get_email_status("jane@example.com")
    assert resp.recipient == "jane@example.com"
    # the opt-out cleared the legal basis of the rows it changed (§5.7)
    assert statuses(resp) == [
        (str(d), "NOT_SUBSCRIBED", "PORTAL_WIDE_STATUS", None, None) for d in portal.definitions
    ]
    assert [s.name for s in resp.subscription_statuses] == NAMES

    # v4 resubscribe of one type (§10.4): that type SUBSCRIBED, the others their own UNSUBSCRIBED
    sdk.communication_preferences.update_status(
        "jane@example.com", channel="EMAIL", status_state="SUBSCRIBED", subscription_id=d1
    )
    after = api.get_email_status("jane@example.com")
    assert [(s.status, s.source_of_status) for s in after.subscription_statuses] == [
        ("SUBSCRIBED", "SUBSCRIPTION_STATUS"),
        ("NOT_SUBSCRIBED", "SUBSCRIPTION_STATUS"),
        ("NOT_SUBSCRIBED", "SUBSCRIPTION_STATUS"),
    ]


# --- L, M --------------------------------------------------------------------------------


def test_subscribe_and_unsubscribe(client: Any, portal: Portal) -> None:
    api = client.communication_preferences.status_api
    d1, d2, d3 = portal.definitions

    sub = api.subscribe(
        request(
            "New+One@Example.com",
            d1,
            legal_basis="LEGITIMATE_INTEREST_PQL",
            legal_basis_explanation="Trial user",
        )
    )
    assert isinstance(sub, PublicSubscriptionStatus)
    assert (sub.id, sub.name, sub.description) == (str(d1), NAMES[0], DEFAULTS[0][1])
    assert (sub.status, sub.source_of_status) == ("SUBSCRIBED", "SUBSCRIPTION_STATUS")
    assert (sub.legal_basis, sub.legal_basis_explanation) == (
        "LEGITIMATE_INTEREST_PQL",
        "Trial user",
    )

    # already subscribed: 200, nothing written (§8 Q7)
    data, status, _ = api.subscribe_with_http_info(request("new+one@example.com", d1))
    assert status == 200
    assert (data.status, data.legal_basis) == ("SUBSCRIBED", "LEGITIMATE_INTEREST_PQL")

    off = api.unsubscribe(request("new+one@example.com", d2))
    assert (off.id, off.status, off.source_of_status) == (
        str(d2),
        "NOT_SUBSCRIBED",
        "SUBSCRIPTION_STATUS",
    )
    assert off.legal_basis is None

    data, status, _ = api.unsubscribe_with_http_info(request("NEW+ONE@example.com", d1))
    assert status == 200
    assert (data.id, data.status, data.source_of_status) == (
        str(d1),
        "NOT_SUBSCRIBED",
        "SUBSCRIPTION_STATUS",
    )

    resp = api.get_email_status("new+one@example.com")
    assert [(s.id, s.status) for s in resp.subscription_statuses] == [
        (str(d1), "NOT_SUBSCRIBED"),
        (str(d2), "NOT_SUBSCRIBED"),
        (str(d3), "SUBSCRIBED"),
    ]
    assert resp.subscription_statuses[2].legal_basis is None  # still only a default


def test_subscribe_refused_texts(client: Any, portal: Portal) -> None:
    api = client.communication_preferences.status_api
    d1 = portal.definitions[0]
    api.unsubscribe(request("refused@example.com", d1))
    with pytest.raises(ApiException) as err:
        api.subscribe(request("Refused@Example.com", d1))
    body = error_body(
        err.value,
        400,
        "VALIDATION_ERROR",
        f"subscription {d1} for refused@example.com cannot be updated "
        "because they have unsubscribed",
    )
    assert body["requestId"] == body["correlationId"]

    with pytest.raises(ApiException) as err:
        api.subscribe(request("refused@example.com", 123456789))
    body = error_body(
        err.value, 400, "VALIDATION_ERROR", "Subscription definition 123456789 does not exist"
    )
    assert body["errors"][0]["in"] == "subscriptionId"

    with pytest.raises(ApiException) as err:
        api.subscribe(request("not-an-email", d1))
    body = error_body(err.value, 400, "VALIDATION_ERROR", "Invalid email address")
    assert body["errors"] == [{"message": "Invalid email address", "in": "emailAddress"}]

    with pytest.raises(ApiException) as err:
        api.subscribe({})
    error_body(
        err.value,
        400,
        "VALIDATION_ERROR",
        "Invalid input JSON on line 1, column 2: Cannot build "
        "PublicUpdateSubscriptionStatusRequest, some of required attributes are not set "
        "[emailAddress, subscriptionId]",
    )


def test_unsubscribe_refused_text(client: Any, portal: Portal) -> None:
    api = client.communication_preferences.status_api
    d2 = portal.definitions[1]
    api.unsubscribe(request("twice@example.com", d2))
    with pytest.raises(ApiException) as err:
        api.unsubscribe(request("twice@example.com", d2))
    body = error_body(
        err.value,
        400,
        "VALIDATION_ERROR",
        f"twice@example.com is already unsubscribed to subscription {d2}",
    )
    assert body["requestId"] == err.value.headers["x-request-id"]


def test_subscribe_needs_legal_basis_in_gdpr_portal(server: Server) -> None:
    p = server.new_portal(gdpr=True)
    api = make_client(server, p.token).communication_preferences.status_api
    d1 = p.definitions[0]
    with pytest.raises(ApiException) as err:
        api.subscribe(request("g@example.com", d1))
    error_body(err.value, 400, "VALIDATION_ERROR", GDPR_MESSAGE)
    ok = api.subscribe(
        request(
            "g@example.com", d1, legal_basis="CONSENT_WITH_NOTICE", legal_basis_explanation="Form"
        )
    )
    assert (ok.status, ok.legal_basis, ok.legal_basis_explanation) == (
        "SUBSCRIBED",
        "CONSENT_WITH_NOTICE",
        "Form",
    )
    # unsubscribing never needs it
    assert api.unsubscribe(request("g2@example.com", d1)).status == "NOT_SUBSCRIBED"


def test_strict_unknown_address_404(server: Server) -> None:
    p = server.new_portal(strict_v3_unknown_404=True)
    api = make_client(server, p.token).communication_preferences.status_api
    d1 = p.definitions[0]
    for call in (api.subscribe, api.unsubscribe):
        with pytest.raises(NotFoundException) as err:
            call(request("Ghost@Example.com", d1))
        error_body(
            err.value,
            404,
            "OBJECT_NOT_FOUND",
            "ghost@example.com either has no subscriptions associated with this portal "
            "or does not exist",
        )
    # reads still answer with defaults
    assert api.get_email_status("ghost@example.com").recipient == "ghost@example.com"


# --- auth errors -------------------------------------------------------------------------


def test_wrong_token_is_unauthorized(server: Server) -> None:
    c = make_client(server, "pat-na1-wrong")
    with pytest.raises(UnauthorizedException) as err:
        c.communication_preferences.definition_api.get_page()
    error_body(err.value, 401, "INVALID_AUTHENTICATION", AUTH_MESSAGE)
    with pytest.raises(UnauthorizedException):
        c.communication_preferences.status_api.get_email_status("x@example.com")


def test_missing_scopes_is_forbidden(server: Server, portal: Portal) -> None:
    writer = make_client(server, server.token(portal.id, frozenset({WRITE})))
    with pytest.raises(ForbiddenException) as err:
        writer.communication_preferences.status_api.get_email_status("x@example.com")
    body = json.loads(err.value.body)
    assert err.value.status == 403 and body["category"] == "MISSING_SCOPES"
    assert body["context"] == {"missingScopes": [READ, READ_WRITE]}

    reader = make_client(server, server.token(portal.id, frozenset({READ})))
    with pytest.raises(ForbiddenException) as err:
        reader.communication_preferences.status_api.subscribe(
            request("x@example.com", portal.definitions[0])
        )
    assert json.loads(err.value.body)["context"] == {"missingScopes": [READ_WRITE, WRITE]}
    # and a read token reads
    assert (
        len(reader.communication_preferences.definition_api.get_page().subscription_definitions)
        == 3
    )


# --- one store behind both clients -------------------------------------------------------


def test_sdk_writes_read_back_through_v3(client: Any, sdk: HubSpot, portal: Portal) -> None:
    cp = sdk.communication_preferences
    d1, d2, d3 = portal.definitions
    cp.update_status(
        "Cross+Sdk@Example.com",
        channel="EMAIL",
        status_state="SUBSCRIBED",
        subscription_id=d1,
        legal_basis="LEGITIMATE_INTEREST_OTHER",
        legal_basis_explanation="Partner list",
    )
    cp.statuses.batch.update_statuses(
        inputs=[
            {
                "subscriber_id_string": "cross+sdk@example.com",
                "channel": "EMAIL",
                "status_state": "UNSUBSCRIBED",
                "subscription_id": d2,
            }
        ]
    )
    resp = client.communication_preferences.status_api.get_email_status("cross+sdk@example.com")
    assert resp.recipient == "cross+sdk@example.com"
    assert statuses(resp) == [
        (str(d1), "SUBSCRIBED", "SUBSCRIPTION_STATUS", "LEGITIMATE_INTEREST_OTHER", "Partner list"),
        (str(d2), "NOT_SUBSCRIBED", "SUBSCRIPTION_STATUS", None, None),
        (str(d3), "SUBSCRIBED", "SUBSCRIPTION_STATUS", None, None),
    ]

    cp.statuses.batch.unsubscribe_all(channel="EMAIL", inputs=["CROSS+SDK@example.com"])
    after = client.communication_preferences.status_api.get_email_status("cross+sdk@example.com")
    assert [(s.status, s.source_of_status) for s in after.subscription_statuses] == [
        ("NOT_SUBSCRIBED", "PORTAL_WIDE_STATUS")
    ] * 3


def test_v3_writes_read_back_through_sdk(client: Any, sdk: HubSpot, portal: Portal) -> None:
    api = client.communication_preferences.status_api
    d1, d2, d3 = portal.definitions
    api.subscribe(
        request(
            "Cross+V3@Example.com",
            d1,
            legal_basis="PROCESS_AND_STORE",
            legal_basis_explanation="Contract",
        )
    )
    api.unsubscribe(request("cross+v3@example.com", d2))

    cp = sdk.communication_preferences
    resp = cp.get_statuses("cross+v3@example.com", channel="EMAIL")
    rows = [
        (r.subscription_id, r.status, r.source, r.legal_basis, r.legal_basis_explanation)
        for r in resp.results
    ]
    assert rows == [
        (d1, "SUBSCRIBED", "Public status API", "PROCESS_AND_STORE", "Contract"),
        (d2, "UNSUBSCRIBED", "Public status API", None, None),
        (d3, "NOT_SPECIFIED", "Not specified", None, None),
    ]
    assert {r.subscriber_id_string for r in resp.results} == {"cross+v3@example.com"}
    assert cp.get_unsubscribe_all_status("cross+v3@example.com", channel="EMAIL").results == []
    batch = cp.statuses.batch.read(channel="EMAIL", inputs=["cross+v3@example.com"])
    assert [(s.subscription_id, s.status) for s in batch.results[0].statuses] == [
        (d1, "SUBSCRIBED"),
        (d2, "UNSUBSCRIBED"),
        (d3, "NOT_SPECIFIED"),
    ]
    # the v3 writes are the same records the v4 write sees
    again = cp.update_status(
        "cross+v3@example.com", channel="EMAIL", status_state="UNSUBSCRIBED", subscription_id=d2
    )
    assert again.results[0].set_status_success_reason == "NO_STATUS_CHANGE"
    back = cp.update_status(
        "cross+v3@example.com", channel="EMAIL", status_state="SUBSCRIBED", subscription_id=d2
    )
    assert back.results[0].set_status_success_reason == "RESUBSCRIBE_OCCURRED"
    assert (
        api.get_email_status("cross+v3@example.com").subscription_statuses[1].status == "SUBSCRIBED"
    )
