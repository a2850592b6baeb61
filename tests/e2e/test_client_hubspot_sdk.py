"""hubspot-sdk 0.1.0a9 (Stainless, 2026-03 paths) against a real server, strict validation on.

Every method of `client.communication_preferences` is called here; `COVERAGE` names the
tests that call each one and `test_every_sdk_method_is_covered` checks it against the
methods the installed package exposes, so a method added by a new SDK release fails it.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pydantic
import pytest
from hubspot_sdk import (
    AsyncHubSpot,
    AuthenticationError,
    BadRequestError,
    HubSpot,
    PermissionDeniedError,
)
from hubspot_sdk.types.communication_preferences import PublicStatus

from commpref.domain.scopes import ALL_SCOPES, BATCH_READ, BATCH_WRITE, READ, READ_WRITE, WRITE
from commpref.services import admin
from commpref.services.context import now_ms
from tests.support.server import Portal, Server

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)
GDPR_MESSAGE = "legalBasis and legalBasisExplanation are required to subscribe in this portal"
ONE_OF = "One or more of the following scopes are required."
ALL_OF = "All of the following scopes are required."

# HubSpot's seeded definitions (docs/wire-contract.md §5.1), in id order:
# (name, description, purpose, communicationMethod, isInternal)
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

# Every SDK method → the tests that call it (through the `cp` alias).
COVERAGE: dict[str, tuple[str, ...]] = {
    "definitions.list": (
        "test_definitions_list_defaults",
        "test_definitions_business_units_and_translations",
    ),
    "get_statuses": (
        "test_get_statuses_unknown_address_reads_defaults",
        "test_get_statuses_business_unit_filter",
        "test_update_status_reasons_and_state",
    ),
    "update_status": (
        "test_update_status_reasons_and_state",
        "test_update_status_legal_basis_in_gdpr_portal",
        "test_resubscribe_after_opt_out",
    ),
    "unsubscribe_all": (
        "test_unsubscribe_all_and_wide_status",
        "test_unsubscribe_all_verbose_rows",
        "test_unsubscribe_all_business_units",
    ),
    "get_unsubscribe_all_status": (
        "test_unsubscribe_all_and_wide_status",
        "test_unsubscribe_all_business_units",
    ),
    "statuses.batch.read": ("test_batch_read_200_207_and_duplicates",),
    "statuses.batch.update_statuses": ("test_batch_update_statuses",),
    "statuses.batch.unsubscribe_all": ("test_batch_unsubscribe_all_and_wide_read",),
    "statuses.batch.get_unsubscribe_all_statuses": ("test_batch_unsubscribe_all_and_wide_read",),
    "generate_links": ("test_generate_links", "test_generate_links_business_units"),
}


def make_client(server: Server, token: str) -> HubSpot:
    return HubSpot(
        access_token=token,
        base_url=server.base_url,
        _strict_response_validation=True,
        max_retries=0,
    )


@pytest.fixture
def sdk(server: Server, portal: Portal) -> Iterator[HubSpot]:
    with make_client(server, portal.token) as client:
        yield client


def brand_portal(server: Server) -> tuple[Portal, int]:
    """A portal with brands on, business unit 41857 and one definition in it."""
    p = server.new_portal(brands=True)
    server.admin(admin.create_business_unit, portal_id=p.id, business_unit_id=BRAND, name="B")
    d = server.admin(
        admin.create_definition,
        portal_id=p.id,
        name="Brand News",
        description="News of brand B",
        business_unit_id=BRAND,
        purpose="Marketing",
        communication_method="Email",
    )
    return p, d.id


def exposed_methods(resource: object, prefix: str = "") -> set[str]:
    """Dotted names of the public methods of an SDK resource and its sub-resources."""
    found: set[str] = set()
    for name in dir(type(resource)):
        if name.startswith("_") or name in ("with_raw_response", "with_streaming_response"):
            continue
        attr = inspect.getattr_static(type(resource), name)
        if isinstance(attr, functools.cached_property):
            found |= exposed_methods(getattr(resource, name), f"{prefix}{name}.")
        elif inspect.isfunction(attr):
            found.add(prefix + name)
    return found


def body_of(exc: Any) -> dict[str, Any]:
    assert isinstance(exc.body, dict), exc.body
    return exc.body


def assert_error(
    exc: Any, status: int, category: str, message: str | None = None
) -> dict[str, Any]:
    body = body_of(exc)
    assert exc.status_code == status
    assert body["status"] == "error"
    assert body["category"] == category
    assert body["correlationId"] == exc.response.headers["X-HubSpot-Correlation-Id"]
    assert body["correlationId"] == exc.response.headers["x-request-id"]
    assert exc.response.headers["content-type"].startswith("application/json")
    if message is not None:
        assert body["message"] == message
    return body


def exact(value: object, top_level_extras: frozenset[str] = frozenset()) -> None:
    """No key the SDK's models do not declare, at any depth; envelopes omit requestedAt/links."""
    if isinstance(value, pydantic.BaseModel):
        assert set(value.model_extra or {}) <= top_level_extras, value.model_extra
        if "requested_at" in type(value).model_fields:
            assert "requested_at" not in value.model_fields_set
            assert "links" not in value.model_fields_set
        for name in type(value).model_fields:
            exact(getattr(value, name))
    elif isinstance(value, list):
        for item in value:
            exact(item)


def by_id(rows: list[PublicStatus]) -> dict[int, PublicStatus]:
    return {r.subscription_id: r for r in rows}


# --- coverage ----------------------------------------------------------------------------


def test_every_sdk_method_is_covered() -> None:
    with HubSpot(access_token="x", base_url="http://127.0.0.1:9") as client:
        exposed = exposed_methods(client.communication_preferences)
    assert exposed == set(COVERAGE)
    assert len(exposed) == 10
    module = globals()
    for method, tests in COVERAGE.items():
        head, _, last = method.rpartition(".")
        prefix = f"cp.{head}." if head else "cp."
        for test in tests:
            source = inspect.getsource(module[test])
            assert f"{prefix}{last}(" in source or f"{prefix}with_raw_response.{last}(" in source, (
                method,
                test,
            )


async def test_async_client_exposes_the_same_methods() -> None:
    async with AsyncHubSpot(access_token="x", base_url="http://127.0.0.1:9") as client:
        assert exposed_methods(client.communication_preferences) == set(COVERAGE)


# --- A: definitions ----------------------------------------------------------------------


def test_definitions_list_defaults(sdk: HubSpot, portal: Portal) -> None:
    cp = sdk.communication_preferences
    resp = cp.definitions.list()
    exact(resp)
    assert resp.status == "COMPLETE"
    assert isinstance(resp.started_at, datetime) and resp.started_at.tzinfo is not None
    assert resp.completed_at >= resp.started_at
    assert resp.errors is None and resp.num_errors is None
    assert [d.id for d in resp.results] == [str(i) for i in portal.definitions]
    assert [int(d.id) for d in resp.results] == sorted(int(d.id) for d in resp.results)
    for d, (name, description, purpose, method, internal) in zip(
        resp.results, DEFAULTS, strict=True
    ):
        assert (d.name, d.description, d.purpose, d.communication_method) == (
            name,
            description,
            purpose,
            method,
        )
        assert d.is_internal is internal
        assert d.is_active is True and d.is_default is True
        assert d.business_unit_id == 0
        assert d.subscription_translations is None
        assert d.created_at.tzinfo is not None and d.updated_at >= d.created_at

    off = cp.definitions.list(include_translations=False)
    assert [d.subscription_translations for d in off.results] == [None, None, None]
    on = cp.definitions.list(include_translations=True)
    assert [d.subscription_translations for d in on.results] == [[], [], []]


def test_definitions_business_units_and_translations(server: Server) -> None:
    p, brand_def = brand_portal(server)
    archived = server.admin(
        admin.create_definition,
        portal_id=p.id,
        name="Old Newsletter",
        description="",
        is_active=False,
    )
    server.admin(
        lambda store: store.set_translation(
            definition_id=brand_def,
            language_code="fr",
            name="Nouvelles",
            description="Nouvelles de la marque B",
            now=now_ms(),
        )
    )
    with make_client(server, p.token) as client:
        cp = client.communication_preferences
        every = cp.definitions.list()
        assert [d.id for d in every.results] == [
            str(i) for i in [*p.definitions, brand_def, archived.id]
        ]
        assert [d.business_unit_id for d in every.results] == [0, 0, 0, BRAND, 0]
        old = every.results[-1]
        assert (old.name, old.is_active, old.is_default, old.description) == (
            "Old Newsletter",
            False,
            False,
            "",
        )
        assert (old.purpose, old.communication_method) == ("", "")

        brand = cp.definitions.list(business_unit_id=BRAND)
        assert [(d.id, d.name, d.business_unit_id) for d in brand.results] == [
            (str(brand_def), "Brand News", BRAND)
        ]
        default_unit = cp.definitions.list(business_unit_id=0)
        assert [d.id for d in default_unit.results] == [
            str(i) for i in [*p.definitions, archived.id]
        ]
        assert cp.definitions.list(business_unit_id=777).results == []

        translated = cp.definitions.list(business_unit_id=BRAND, include_translations=True)
        exact(translated)
        (t,) = translated.results[0].subscription_translations or []
        assert (t.subscription_id, t.language_code, t.name, t.description) == (
            brand_def,
            "fr",
            "Nouvelles",
            "Nouvelles de la marque B",
        )
        assert isinstance(t.created_at, int) and isinstance(t.updated_at, int)
        assert t.updated_at >= t.created_at > 1_600_000_000_000  # epoch milliseconds
        raw = cp.definitions.with_raw_response.list(business_unit_id=BRAND)
        assert raw.status_code == 200
        payload = raw.json()
        assert isinstance(payload, dict)
        assert "subscriptionTranslations" not in payload["results"][0]


# --- B, C: statuses of one subscriber ----------------------------------------------------


def test_get_statuses_unknown_address_reads_defaults(
    server: Server, sdk: HubSpot, portal: Portal
) -> None:
    cp = sdk.communication_preferences
    resp = cp.get_statuses("  Jane.Doe+News@Example.COM ", channel="EMAIL")
    exact(resp)
    assert resp.status == "COMPLETE"
    assert [r.subscription_id for r in resp.results] == portal.definitions
    for row, name in zip(resp.results, NAMES, strict=True):
        assert row.subscriber_id_string == "jane.doe+news@example.com"
        assert row.subscription_name == name
        assert (row.channel, row.status, row.source) == ("EMAIL", "NOT_SPECIFIED", "Not specified")
        assert row.legal_basis is None and row.legal_basis_explanation is None
        assert row.set_status_success_reason is None
        assert row.business_unit_id == 0
        assert row.timestamp == resp.started_at  # unknown address: the request's time
    # reads never create the subscriber
    stored = server.admin(
        lambda store: store.read_subscribers(portal.id, ["jane.doe+news@example.com"])
    )
    assert stored == {}
    assert server.admin(lambda store: store.events(portal.id)) == []


def test_update_status_reasons_and_state(sdk: HubSpot, portal: Portal) -> None:
    cp = sdk.communication_preferences
    email = "A+B@Example.com"
    d1, d2, _ = portal.definitions

    def write(d: int, state: Any, **kw: Any) -> PublicStatus:
        resp = cp.update_status(email, channel="EMAIL", status_state=state, subscription_id=d, **kw)
        assert resp.status == "COMPLETE"
        (row,) = resp.results
        assert row.subscriber_id_string == "a+b@example.com"
        assert row.subscription_id == d and row.channel == "EMAIL"
        assert row.business_unit_id == 0
        return row

    first = write(
        d1,
        "SUBSCRIBED",
        legal_basis="LEGITIMATE_INTEREST_CLIENT",
        legal_basis_explanation="Customer since 2020",
    )
    assert (first.status, first.set_status_success_reason) == (
        "SUBSCRIBED",
        "REQUESTED_CHANGE_OCCURRED",
    )
    assert first.subscription_name == NAMES[0] and first.source == "Public status API"
    assert first.legal_basis == "LEGITIMATE_INTEREST_CLIENT"
    assert first.legal_basis_explanation == "Customer since 2020"

    again = write(d1, "SUBSCRIBED")
    assert (again.status, again.set_status_success_reason) == ("SUBSCRIBED", "NO_STATUS_CHANGE")
    assert again.timestamp == first.timestamp  # nothing written
    assert again.legal_basis == "LEGITIMATE_INTEREST_CLIENT"

    off = write(d2, "UNSUBSCRIBED")
    assert (off.status, off.set_status_success_reason) == (
        "UNSUBSCRIBED",
        "REQUESTED_CHANGE_OCCURRED",
    )
    assert off.subscription_name == NAMES[1]
    assert off.legal_basis is None
    off_again = write(d2, "UNSUBSCRIBED")
    assert off_again.set_status_success_reason == "NO_STATUS_CHANGE"
    assert off_again.timestamp == off.timestamp

    back = write(d2, "SUBSCRIBED")
    assert (back.status, back.set_status_success_reason) == ("SUBSCRIBED", "RESUBSCRIBE_OCCURRED")
    assert back.timestamp >= off.timestamp

    cleared = write(d2, "NOT_SPECIFIED")
    assert (cleared.status, cleared.set_status_success_reason) == (
        "NOT_SPECIFIED",
        "REQUESTED_CHANGE_OCCURRED",
    )
    assert write(d2, "NOT_SPECIFIED").set_status_success_reason == "NO_STATUS_CHANGE"

    read = cp.get_statuses("A+B@EXAMPLE.com", channel="EMAIL")
    rows = by_id(read.results)
    assert [r.status for r in read.results] == ["SUBSCRIBED", "NOT_SPECIFIED", "NOT_SPECIFIED"]
    assert all(r.set_status_success_reason is None for r in read.results)
    assert rows[d1].timestamp == first.timestamp
    assert rows[d1].legal_basis == "LEGITIMATE_INTEREST_CLIENT"
    assert rows[d2].source == "Public status API"  # stored NOT_SPECIFIED keeps its source
    assert rows[d2].timestamp == cleared.timestamp


def test_update_status_source_names_the_app(server: Server, portal: Portal) -> None:
    token = server.token(portal.id, ALL_SCOPES, app_id=5848098)
    with make_client(server, token) as client:
        cp = client.communication_preferences
        resp = cp.update_status(
            "app@example.com",
            channel="EMAIL",
            status_state="UNSUBSCRIBED",
            subscription_id=portal.definitions[0],
        )
        assert resp.results[0].source == "Public status API, App ID:5848098"


def test_update_status_legal_basis_in_gdpr_portal(server: Server) -> None:
    p = server.new_portal(gdpr=True)
    d1 = p.definitions[0]
    with make_client(server, p.token) as client:
        cp = client.communication_preferences
        with pytest.raises(BadRequestError) as err:
            cp.update_status(
                "g@example.com", channel="EMAIL", status_state="SUBSCRIBED", subscription_id=d1
            )
        body = assert_error(err.value, 400, "VALIDATION_ERROR", GDPR_MESSAGE)
        assert [e["in"] for e in body["errors"]] == ["legalBasis", "legalBasisExplanation"]

        with pytest.raises(BadRequestError) as err:
            cp.update_status(
                "g@example.com",
                channel="EMAIL",
                status_state="SUBSCRIBED",
                subscription_id=d1,
                legal_basis="CONSENT_WITH_NOTICE",
            )
        body = assert_error(err.value, 400, "VALIDATION_ERROR", GDPR_MESSAGE)
        assert [e["in"] for e in body["errors"]] == ["legalBasisExplanation"]

        ok = cp.update_status(
            "g@example.com",
            channel="EMAIL",
            status_state="SUBSCRIBED",
            subscription_id=d1,
            legal_basis="CONSENT_WITH_NOTICE",
            legal_basis_explanation="Signed up at the booth",
        )
        (row,) = ok.results
        assert (row.status, row.legal_basis, row.legal_basis_explanation) == (
            "SUBSCRIBED",
            "CONSENT_WITH_NOTICE",
            "Signed up at the booth",
        )
        # opting out never needs a legal basis
        out = cp.update_status(
            "g@example.com", channel="EMAIL", status_state="UNSUBSCRIBED", subscription_id=d1
        )
        assert out.results[0].status == "UNSUBSCRIBED"
        assert out.results[0].legal_basis is None


def test_get_statuses_business_unit_filter(server: Server) -> None:
    p, brand_def = brand_portal(server)
    with make_client(server, p.token) as client:
        cp = client.communication_preferences
        every = cp.get_statuses("x@example.com", channel="EMAIL")
        assert [(r.subscription_id, r.business_unit_id) for r in every.results] == [
            *((d, 0) for d in p.definitions),
            (brand_def, BRAND),
        ]
        assert every.results[-1].subscription_name == "Brand News"
        brand = cp.get_statuses("x@example.com", channel="EMAIL", business_unit_id=BRAND)
        assert [r.subscription_id for r in brand.results] == [brand_def]
        zero = cp.get_statuses("x@example.com", channel="EMAIL", business_unit_id=0)
        assert [r.subscription_id for r in zero.results] == p.definitions
        assert cp.get_statuses("x@example.com", channel="EMAIL", business_unit_id=777).results == []


# --- D, E: opt-out of all ----------------------------------------------------------------


def test_unsubscribe_all_and_wide_status(sdk: HubSpot, portal: Portal) -> None:
    cp = sdk.communication_preferences
    email = "Wide+1@Example.com"
    d1, d2, d3 = portal.definitions
    cp.update_status(email, channel="EMAIL", status_state="SUBSCRIBED", subscription_id=d1)
    before = cp.update_status(
        email, channel="EMAIL", status_state="UNSUBSCRIBED", subscription_id=d2
    ).results[0]

    assert cp.get_unsubscribe_all_status(email, channel="EMAIL").results == []
    assert cp.get_unsubscribe_all_status(email, channel="EMAIL", verbose=True).results == []

    done = cp.unsubscribe_all(email, channel="EMAIL")
    assert done.status == "COMPLETE" and done.results == []

    wide = cp.get_unsubscribe_all_status(email, channel="EMAIL")
    exact(wide)
    (w,) = wide.results
    assert (w.subscriber_id_string, w.wide_status_type, w.status, w.channel) == (
        "wide+1@example.com",
        "PORTAL_WIDE",
        "UNSUBSCRIBED",
        "EMAIL",
    )
    assert w.business_unit_id is None  # no brands: PORTAL_WIDE rows carry no businessUnitId
    assert w.timestamp == done.started_at
    assert cp.get_unsubscribe_all_status(email, channel="EMAIL", verbose=True).results == [w]
    assert cp.get_unsubscribe_all_status(email, channel="EMAIL", business_unit_id=0).results == [w]
    assert cp.get_unsubscribe_all_status(email, channel="EMAIL", business_unit_id=5).results == []

    rows = by_id(cp.get_statuses(email, channel="EMAIL").results)
    assert {d: r.status for d, r in rows.items()} == {
        d1: "UNSUBSCRIBED",
        d2: "UNSUBSCRIBED",
        d3: "UNSUBSCRIBED",
    }
    assert rows[d1].timestamp == rows[d3].timestamp == done.started_at
    assert rows[d2].timestamp == before.timestamp  # already unsubscribed: untouched
    assert all(r.source == "Public status API" for r in rows.values())

    # idempotent: nothing changes, verbose shows every row as NO_STATUS_CHANGE
    again = cp.unsubscribe_all(email, channel="EMAIL", verbose=True)
    assert [r.set_status_success_reason for r in again.results] == ["NO_STATUS_CHANGE"] * 3
    assert [r.status for r in again.results] == ["UNSUBSCRIBED"] * 3
    assert cp.get_unsubscribe_all_status(email, channel="EMAIL").results == [w]


def test_unsubscribe_all_verbose_rows(sdk: HubSpot, portal: Portal) -> None:
    """docs/wire-contract.md §10.3."""
    cp = sdk.communication_preferences
    d1, d2, d3 = portal.definitions
    cp.update_status(
        "li@example.com",
        channel="EMAIL",
        status_state="SUBSCRIBED",
        subscription_id=d1,
        legal_basis="NON_GDPR",
        legal_basis_explanation="Asked us",
    )
    earlier = cp.update_status(
        "li@example.com", channel="EMAIL", status_state="UNSUBSCRIBED", subscription_id=d2
    ).results[0]

    resp = cp.unsubscribe_all("LI@example.com", channel="EMAIL", verbose=True)
    exact(resp)
    assert [r.subscription_id for r in resp.results] == [d1, d2, d3]
    assert [r.subscription_name for r in resp.results] == NAMES
    assert [r.set_status_success_reason for r in resp.results] == [
        "UNSUBSCRIBE_FROM_ALL_OCCURRED",
        "NO_STATUS_CHANGE",
        "UNSUBSCRIBE_FROM_ALL_OCCURRED",
    ]
    for r in resp.results:
        assert (r.subscriber_id_string, r.status, r.source) == (
            "li@example.com",
            "UNSUBSCRIBED",
            "Public status API",
        )
        assert r.legal_basis is None and r.legal_basis_explanation is None
        assert r.business_unit_id == 0
    assert resp.results[0].timestamp == resp.results[2].timestamp == resp.started_at
    assert resp.results[1].timestamp == earlier.timestamp


def test_resubscribe_after_opt_out(sdk: HubSpot, portal: Portal) -> None:
    """docs/wire-contract.md §10.4."""
    cp = sdk.communication_preferences
    d1, d2, d3 = portal.definitions
    email = "jane@example.com"
    opt_out = cp.unsubscribe_all(email, channel="EMAIL")

    resp = cp.update_status(email, channel="EMAIL", status_state="SUBSCRIBED", subscription_id=d1)
    (row,) = resp.results
    assert (row.status, row.set_status_success_reason) == ("SUBSCRIBED", "RESUBSCRIBE_OCCURRED")
    assert row.timestamp == resp.started_at

    (w,) = cp.get_unsubscribe_all_status(email, channel="EMAIL").results
    assert (w.wide_status_type, w.status, w.timestamp) == (
        "PORTAL_WIDE",
        "SUBSCRIBED",
        row.timestamp,
    )

    rows = by_id(cp.get_statuses(email, channel="EMAIL").results)
    assert (rows[d1].status, rows[d2].status, rows[d3].status) == (
        "SUBSCRIBED",
        "UNSUBSCRIBED",
        "UNSUBSCRIBED",
    )
    assert rows[d2].timestamp == rows[d3].timestamp == opt_out.started_at

    again = cp.update_status(email, channel="EMAIL", status_state="SUBSCRIBED", subscription_id=d1)
    assert again.results[0].set_status_success_reason == "NO_STATUS_CHANGE"
    assert again.results[0].timestamp == row.timestamp
    # another type, still UNSUBSCRIBED but no longer opted out: a resubscribe, wide untouched
    d2_back = cp.update_status(
        email, channel="EMAIL", status_state="SUBSCRIBED", subscription_id=d2
    ).results[0]
    assert d2_back.set_status_success_reason == "RESUBSCRIBE_OCCURRED"
    assert cp.get_unsubscribe_all_status(email, channel="EMAIL").results == [w]


def test_unsubscribe_all_business_units(server: Server) -> None:
    p, brand_def = brand_portal(server)
    email = "brand@example.com"
    with make_client(server, p.token) as client:
        cp = client.communication_preferences
        brand = cp.unsubscribe_all(email, channel="EMAIL", business_unit_id=BRAND, verbose=True)
        assert [(r.subscription_id, r.business_unit_id) for r in brand.results] == [
            (brand_def, BRAND)
        ]
        assert brand.results[0].set_status_success_reason == "UNSUBSCRIBE_FROM_ALL_OCCURRED"
        (w,) = cp.get_unsubscribe_all_status(email, channel="EMAIL").results
        assert (w.wide_status_type, w.business_unit_id, w.status) == (
            "BUSINESS_UNIT_WIDE",
            BRAND,
            "UNSUBSCRIBED",
        )
        zero = cp.get_statuses(email, channel="EMAIL", business_unit_id=0).results
        assert [r.status for r in zero] == ["NOT_SPECIFIED"] * 3

        # without businessUnitId: business unit 0
        cp.unsubscribe_all(email, channel="EMAIL")
        wide = cp.get_unsubscribe_all_status(email, channel="EMAIL").results
        assert [(x.wide_status_type, x.business_unit_id) for x in wide] == [
            ("BUSINESS_UNIT_WIDE", 0),
            ("BUSINESS_UNIT_WIDE", BRAND),
        ]
        only = cp.get_unsubscribe_all_status(email, channel="EMAIL", business_unit_id=BRAND)
        assert [x.business_unit_id for x in only.results] == [BRAND]
        assert [r.status for r in cp.get_statuses(email, channel="EMAIL").results] == [
            "UNSUBSCRIBED"
        ] * 4

        with pytest.raises(BadRequestError) as err:
            cp.unsubscribe_all(email, channel="EMAIL", business_unit_id=777)
        body = assert_error(err.value, 400, "VALIDATION_ERROR", "Business unit 777 does not exist")
        assert body["errors"][0]["in"] == "businessUnitId"


def test_unsubscribe_all_unknown_business_unit_without_brands(sdk: HubSpot) -> None:
    cp = sdk.communication_preferences
    with pytest.raises(BadRequestError) as err:
        cp.unsubscribe_all("nobrand@example.com", channel="EMAIL", business_unit_id=BRAND)
    assert_error(err.value, 400, "VALIDATION_ERROR", f"Business unit {BRAND} does not exist")
    assert cp.get_unsubscribe_all_status("nobrand@example.com", channel="EMAIL").results == []


# --- F, G, H, I: batches -----------------------------------------------------------------


def test_batch_read_200_207_and_duplicates(sdk: HubSpot, portal: Portal) -> None:
    """docs/wire-contract.md §10.6: 207 when an input failed, 200 otherwise;
    duplicates answered once."""
    cp = sdk.communication_preferences
    d1, d2, _ = portal.definitions
    cp.update_status(
        "jane@example.com", channel="EMAIL", status_state="SUBSCRIBED", subscription_id=d1
    )
    cp.update_status(
        "a+b@example.com", channel="EMAIL", status_state="UNSUBSCRIBED", subscription_id=d2
    )

    raw = cp.statuses.batch.with_raw_response.read(
        channel="EMAIL",
        inputs=["jane@example.com", "JANE@example.com", "not-an-email", "A+B@example.com"],
    )
    assert raw.status_code == 207
    resp = raw.parse()
    exact(resp, frozenset({"errors", "numErrors"}))
    assert resp.status == "COMPLETE"
    assert [r.subscriber_id_string for r in resp.results] == ["jane@example.com", "a+b@example.com"]
    jane, ab = resp.results
    assert [s.status for s in jane.statuses] == ["SUBSCRIBED", "NOT_SPECIFIED", "NOT_SPECIFIED"]
    assert [s.status for s in ab.statuses] == ["NOT_SPECIFIED", "UNSUBSCRIBED", "NOT_SPECIFIED"]
    for s in [*jane.statuses, *ab.statuses]:
        assert s.set_status_success_reason is None
    assert [s.subscription_name for s in jane.statuses] == NAMES
    assert {s.subscriber_id_string for s in ab.statuses} == {"a+b@example.com"}
    extra = resp.model_extra or {}
    assert extra["numErrors"] == 1
    assert extra["errors"] == [
        {
            "status": "error",
            "category": "VALIDATION_ERROR",
            "message": "Invalid email address",
            "context": {"subscriberIdString": ["not-an-email"]},
            "errors": [],
            "links": {},
        }
    ]

    ok = cp.statuses.batch.with_raw_response.read(channel="EMAIL", inputs=["jane@example.com"])
    assert ok.status_code == 200
    ok_body = ok.parse()
    assert len(ok_body.results) == 1
    assert "errors" not in (ok_body.model_extra or {})
    assert "numErrors" not in (ok_body.model_extra or {})

    bad = cp.statuses.batch.with_raw_response.read(channel="EMAIL", inputs=["bad", "worse@"])
    assert bad.status_code == 207
    bad_body = bad.parse()
    assert bad_body.results == []
    assert (bad_body.model_extra or {})["numErrors"] == 2

    empty = cp.statuses.batch.with_raw_response.read(channel="EMAIL", inputs=[])
    assert empty.status_code == 200
    assert empty.parse().results == []

    brand_filter = cp.statuses.batch.read(
        channel="EMAIL", inputs=["jane@example.com"], business_unit_id=9
    )
    assert [r.statuses for r in brand_filter.results] == [[]]


def test_batch_update_statuses(server: Server, sdk: HubSpot, portal: Portal) -> None:
    cp = sdk.communication_preferences
    d1, d2, d3 = portal.definitions
    raw = cp.statuses.batch.with_raw_response.update_statuses(
        inputs=[
            {
                "subscriber_id_string": "One@Example.com",
                "channel": "EMAIL",
                "status_state": "SUBSCRIBED",
                "subscription_id": d1,
                "legal_basis": "PERFORMANCE_OF_CONTRACT",
                "legal_basis_explanation": "Order 17",
            },
            {
                "subscriber_id_string": "not-an-email",
                "channel": "EMAIL",
                "status_state": "SUBSCRIBED",
                "subscription_id": d1,
            },
            {
                "subscriber_id_string": "one@example.com",
                "channel": "EMAIL",
                "status_state": "SUBSCRIBED",
                "subscription_id": d1,
            },
            {
                "subscriber_id_string": "two+x@example.com",
                "channel": "EMAIL",
                "status_state": "UNSUBSCRIBED",
                "subscription_id": d3,
            },
            {
                "subscriber_id_string": "two+x@example.com",
                "channel": "EMAIL",
                "status_state": "UNSUBSCRIBED",
                "subscription_id": 999_999_999,
            },
        ]
    )
    assert raw.status_code == 200  # G never answers 207
    resp = raw.parse()
    exact(resp)
    assert resp.status == "COMPLETE"
    assert [
        (r.subscriber_id_string, r.subscription_id, r.status, r.set_status_success_reason)
        for r in resp.results
    ] == [
        ("one@example.com", d1, "SUBSCRIBED", "REQUESTED_CHANGE_OCCURRED"),
        ("one@example.com", d1, "SUBSCRIBED", "NO_STATUS_CHANGE"),
        ("two+x@example.com", d3, "UNSUBSCRIBED", "REQUESTED_CHANGE_OCCURRED"),
    ]
    first = resp.results[0]
    assert (first.legal_basis, first.legal_basis_explanation) == (
        "PERFORMANCE_OF_CONTRACT",
        "Order 17",
    )
    assert first.subscription_name == NAMES[0] and first.business_unit_id == 0
    assert all(r.timestamp == resp.started_at for r in resp.results)
    assert resp.num_errors == 2
    errors = resp.errors or []
    assert [(e.status, e.category, e.message) for e in errors] == [
        ("error", "VALIDATION_ERROR", "Invalid email address"),
        ("error", "VALIDATION_ERROR", "Subscription definition 999999999 does not exist"),
    ]
    assert errors[0].context == {"subscriberIdString": ["not-an-email"]}
    assert errors[1].context == {
        "subscriberIdString": ["two+x@example.com"],
        "subscriptionId": ["999999999"],
    }
    assert [(e.errors, e.links) for e in errors] == [([], {}), ([], {})]

    two = by_id(cp.get_statuses("two+x@example.com", channel="EMAIL").results)
    assert (two[d1].status, two[d2].status, two[d3].status) == (
        "NOT_SPECIFIED",
        "NOT_SPECIFIED",
        "UNSUBSCRIBED",
    )
    events = server.admin(lambda store: store.events(portal.id))
    changes = sorted(
        (e.event.email, c.target, c.old.value, c.new.value) for e in events for c in e.event.changes
    )
    assert changes == [
        ("one@example.com", d1, "NOT_SPECIFIED", "SUBSCRIBED"),
        ("two+x@example.com", d3, "NOT_SPECIFIED", "UNSUBSCRIBED"),
    ]

    clean = cp.statuses.batch.update_statuses(
        inputs=[
            {
                "subscriber_id_string": "three@example.com",
                "channel": "EMAIL",
                "status_state": "NOT_SPECIFIED",
                "subscription_id": d2,
            }
        ]
    )
    assert clean.errors is None and clean.num_errors is None
    assert clean.results[0].set_status_success_reason == "NO_STATUS_CHANGE"


def test_batch_update_statuses_legal_basis_in_gdpr_portal(server: Server) -> None:
    p = server.new_portal(gdpr=True)
    d1 = p.definitions[0]
    with make_client(server, p.token) as client:
        cp = client.communication_preferences
        resp = cp.statuses.batch.update_statuses(
            inputs=[
                {
                    "subscriber_id_string": "g1@example.com",
                    "channel": "EMAIL",
                    "status_state": "SUBSCRIBED",
                    "subscription_id": d1,
                },
                {
                    "subscriber_id_string": "g2@example.com",
                    "channel": "EMAIL",
                    "status_state": "SUBSCRIBED",
                    "subscription_id": d1,
                    "legal_basis": "CONSENT_WITH_NOTICE",
                    "legal_basis_explanation": "Form",
                },
            ]
        )
        assert [r.subscriber_id_string for r in resp.results] == ["g2@example.com"]
        assert resp.num_errors == 1
        (e,) = resp.errors or []
        assert e.message == GDPR_MESSAGE
        assert e.context == {"subscriberIdString": ["g1@example.com"], "subscriptionId": [str(d1)]}


def test_batch_unsubscribe_all_and_wide_read(sdk: HubSpot, portal: Portal) -> None:
    cp = sdk.communication_preferences
    d1, _, _ = portal.definitions
    cp.update_status(
        "p@example.com", channel="EMAIL", status_state="SUBSCRIBED", subscription_id=d1
    )

    raw = cp.statuses.batch.with_raw_response.unsubscribe_all(
        channel="EMAIL", inputs=["P@example.com", "p@example.com", "nope", "q+1@example.com"]
    )
    assert raw.status_code == 200  # H never answers 207
    resp = raw.parse()
    exact(resp)
    assert [r.subscriber_id_string for r in resp.results] == ["p@example.com", "q+1@example.com"]
    assert [r.statuses for r in resp.results] == [None, None]
    assert resp.num_errors == 1
    assert (resp.errors or [])[0].context == {"subscriberIdString": ["nope"]}

    verbose = cp.statuses.batch.unsubscribe_all(
        channel="EMAIL", inputs=["p@example.com", "r@example.com"], verbose=True
    )
    assert verbose.errors is None and verbose.num_errors is None
    p_rows, r_rows = (r.statuses or [] for r in verbose.results)
    assert [s.set_status_success_reason for s in p_rows] == ["NO_STATUS_CHANGE"] * 3
    assert [s.set_status_success_reason for s in r_rows] == ["UNSUBSCRIBE_FROM_ALL_OCCURRED"] * 3
    assert {s.subscriber_id_string for s in r_rows} == {"r@example.com"}
    assert [s.subscription_name for s in r_rows] == NAMES
    assert all(s.timestamp == verbose.started_at for s in r_rows)

    read = cp.statuses.batch.with_raw_response.get_unsubscribe_all_statuses(
        channel="EMAIL",
        inputs=["q+1@example.com", "never@example.com", "P@EXAMPLE.COM", "bad@", "p@example.com"],
    )
    assert read.status_code == 207
    body = read.parse()
    exact(body, frozenset({"errors", "numErrors"}))
    assert [r.subscriber_id_string for r in body.results] == [
        "q+1@example.com",
        "never@example.com",
        "p@example.com",
    ]
    q, never, p = body.results
    assert never.wide_statuses == []
    for result in (q, p):
        (w,) = result.wide_statuses
        assert (w.subscriber_id_string, w.wide_status_type, w.status, w.channel) == (
            result.subscriber_id_string,
            "PORTAL_WIDE",
            "UNSUBSCRIBED",
            "EMAIL",
        )
        assert w.business_unit_id is None
        assert w.timestamp == resp.started_at
    extra = body.model_extra or {}
    assert extra["numErrors"] == 1
    assert extra["errors"][0]["context"] == {"subscriberIdString": ["bad@"]}

    ok = cp.statuses.batch.with_raw_response.get_unsubscribe_all_statuses(
        channel="EMAIL", inputs=["p@example.com"], business_unit_id=0
    )
    assert ok.status_code == 200
    assert [len(r.wide_statuses) for r in ok.parse().results] == [1]
    assert "numErrors" not in (ok.parse().model_extra or {})
    other = cp.statuses.batch.get_unsubscribe_all_statuses(
        channel="EMAIL", inputs=["p@example.com"], business_unit_id=3
    )
    assert [r.wide_statuses for r in other.results] == [[]]


# --- J: links ----------------------------------------------------------------------------


def check_link(url: str, server: Server, path: str) -> dict[str, list[str]]:
    parts = urlsplit(url)
    assert parts.scheme == "http"
    assert f"{parts.scheme}://{parts.netloc}" == server.base_url
    assert parts.path == f"/hs/manage-preferences/{path}"
    query = parse_qs(parts.query)
    assert re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", query["d"][0])
    assert query["v"] == ["3"]
    return query


def test_generate_links(server: Server, sdk: HubSpot, portal: Portal) -> None:
    cp = sdk.communication_preferences
    links = cp.generate_links(channel="EMAIL", subscriber_id_string="Link+Me@Example.com")
    exact(links)
    assert links.subscriber_id_string == "link+me@example.com"
    manage = check_link(links.manage_preferences_url, server, "unsubscribe")
    every = check_link(links.unsubscribe_all_url, server, "unsubscribe-all")
    assert manage["languagePreference"] == every["languagePreference"] == ["en"]
    assert links.unsubscribe_single_url is None

    d2 = portal.definitions[1]
    single = cp.generate_links(
        channel="EMAIL",
        subscriber_id_string="link+me@example.com",
        subscription_id=d2,
        language="fr",
    )
    query = check_link(single.unsubscribe_single_url or "", server, "unsubscribe-single")
    assert query["subscriptionId"] == [str(d2)]
    assert query["languagePreference"] == ["fr"]  # a language of the pages' own text

    other = cp.generate_links(channel="EMAIL", subscriber_id_string="someone@example.com")
    assert parse_qs(urlsplit(other.manage_preferences_url).query)["d"] != manage["d"]

    with pytest.raises(BadRequestError) as err:
        cp.generate_links(
            channel="EMAIL", subscriber_id_string="x@example.com", subscription_id=999_999_999
        )
    assert_error(
        err.value, 400, "VALIDATION_ERROR", "Subscription definition 999999999 does not exist"
    )
    with pytest.raises(BadRequestError) as err:
        cp.generate_links(channel="EMAIL", subscriber_id_string="not an email")
    assert_error(err.value, 400, "VALIDATION_ERROR", "Invalid email address")
    # link generation never creates subscribers
    assert (
        server.admin(lambda store: store.read_subscribers(portal.id, ["link+me@example.com"])) == {}
    )


def test_generate_links_business_units(server: Server) -> None:
    p, brand_def = brand_portal(server)
    with make_client(server, p.token) as client:
        cp = client.communication_preferences
        links = cp.generate_links(
            channel="EMAIL",
            subscriber_id_string="b@example.com",
            business_unit_id=BRAND,
            subscription_id=brand_def,
        )
        query = check_link(links.unsubscribe_single_url or "", server, "unsubscribe-single")
        assert query["subscriptionId"] == [str(brand_def)]
        with pytest.raises(BadRequestError) as err:
            # a default-brand type is not part of business unit 41857
            cp.generate_links(
                channel="EMAIL",
                subscriber_id_string="b@example.com",
                business_unit_id=BRAND,
                subscription_id=p.definitions[0],
            )
        assert_error(err.value, 400, "VALIDATION_ERROR")
        with pytest.raises(BadRequestError) as err:
            cp.generate_links(
                channel="EMAIL", subscriber_id_string="b@example.com", business_unit_id=777
            )
        assert_error(err.value, 400, "VALIDATION_ERROR", "Business unit 777 does not exist")


# --- errors through the SDK --------------------------------------------------------------


def test_wrong_token_is_authentication_error(server: Server, portal: Portal) -> None:
    with make_client(server, "pat-na1-00000000-not-a-token") as client:
        with pytest.raises(AuthenticationError) as err:
            client.communication_preferences.definitions.list()
        body = assert_error(err.value, 401, "INVALID_AUTHENTICATION", AUTH_MESSAGE)
        assert set(body) == {"status", "message", "correlationId", "category"}
        with pytest.raises(AuthenticationError):
            client.communication_preferences.update_status(
                "x@example.com",
                channel="EMAIL",
                status_state="SUBSCRIBED",
                subscription_id=portal.definitions[0],
            )


def test_developer_api_key_needs_hapikey_enabled(
    server: Server, portal: Portal, tmp_path: Path
) -> None:
    """The SDK sends a developer key as `?hapikey=`; commpref ignores it unless enabled (§2.2)."""
    with HubSpot(
        developer_api_key=portal.token,
        base_url=server.base_url,
        _strict_response_validation=True,
        max_retries=0,
    ) as client:
        with pytest.raises(AuthenticationError) as err:
            client.communication_preferences.definitions.list()
        assert_error(err.value, 401, "INVALID_AUTHENTICATION", AUTH_MESSAGE)
    # Authorization wins over hapikey
    with HubSpot(
        access_token=portal.token,
        developer_api_key="pat-na1-wrong",
        base_url=server.base_url,
        _strict_response_validation=True,
        max_retries=0,
    ) as client:
        assert len(client.communication_preferences.definitions.list().results) == 3

    enabled = Server(
        server.database_url, tmp_path / "hapikey.log", env={"COMMPREF_HAPIKEY_ENABLED": "true"}
    )
    enabled.start()
    try:
        with HubSpot(
            developer_api_key=portal.token,
            base_url=enabled.base_url,
            _strict_response_validation=True,
            max_retries=0,
        ) as client:
            cp = client.communication_preferences
            assert [d.id for d in cp.definitions.list().results] == [
                str(i) for i in portal.definitions
            ]
    finally:
        enabled.stop()


def test_revoked_and_expired_tokens(server: Server, portal: Portal) -> None:
    token, secret = server.admin(admin.create_token, portal_id=portal.id, scopes=ALL_SCOPES)
    with make_client(server, secret) as client:
        assert len(client.communication_preferences.definitions.list().results) == 3
        server.admin(admin.revoke_token, portal_id=portal.id, token_id=token.id)
        with pytest.raises(AuthenticationError) as err:
            client.communication_preferences.definitions.list()
        assert_error(err.value, 401, "INVALID_AUTHENTICATION", AUTH_MESSAGE)

    expired = server.token(portal.id, ALL_SCOPES, expires_at=now_ms() - 5 * 60_000 - 30_000)
    with make_client(server, expired) as client:
        with pytest.raises(AuthenticationError) as err:
            client.communication_preferences.get_statuses("x@example.com", channel="EMAIL")
        assert_error(
            err.value,
            401,
            "EXPIRED_AUTHENTICATION",
            "The OAuth token used to make this call expired 5 minute(s) ago.",
        )


@pytest.mark.parametrize(
    ("scopes", "call", "required", "detail"),
    [
        (
            {READ},
            lambda cp, d: cp.update_status(
                "x@example.com", channel="EMAIL", status_state="SUBSCRIBED", subscription_id=d
            ),
            [READ_WRITE, WRITE],
            ONE_OF,
        ),
        (
            {WRITE},
            lambda cp, d: cp.get_statuses("x@example.com", channel="EMAIL"),
            [READ, READ_WRITE],
            ONE_OF,
        ),
        (
            {READ_WRITE},
            lambda cp, d: cp.statuses.batch.read(channel="EMAIL", inputs=["x@example.com"]),
            [BATCH_READ],
            ONE_OF,
        ),
        (
            {BATCH_READ},
            lambda cp, d: cp.statuses.batch.unsubscribe_all(channel="EMAIL", inputs=["x@e.com"]),
            [BATCH_WRITE],
            ONE_OF,
        ),
        (
            {BATCH_WRITE},
            lambda cp, d: cp.statuses.batch.get_unsubscribe_all_statuses(
                channel="EMAIL", inputs=["x@example.com"]
            ),
            [BATCH_READ],
            ONE_OF,
        ),
        (
            {READ},
            lambda cp, d: cp.generate_links(channel="EMAIL", subscriber_id_string="x@example.com"),
            [READ, WRITE],
            ALL_OF,
        ),
    ],
    ids=["write", "read", "batch-read", "batch-write", "batch-wide-read", "links"],
)
def test_missing_scopes_is_permission_denied(
    server: Server,
    portal: Portal,
    scopes: set[str],
    call: Any,
    required: list[str],
    detail: str,
) -> None:
    token = server.token(portal.id, frozenset(scopes))
    with make_client(server, token) as client, pytest.raises(PermissionDeniedError) as err:
        call(client.communication_preferences, portal.definitions[0])
    body = assert_error(err.value, 403, "MISSING_SCOPES", SCOPES_MESSAGE)
    assert body["context"] == {"missingScopes": required}
    assert body["errors"] == [{"message": detail, "context": {"requiredGranularScopes": required}}]
    assert body["links"] == {"scopes": "https://developers.hubspot.com/scopes"}


def test_links_with_read_and_write_scopes(server: Server, portal: Portal) -> None:
    token = server.token(portal.id, frozenset({READ, WRITE}))
    with make_client(server, token) as client:
        links = client.communication_preferences.generate_links(
            channel="EMAIL", subscriber_id_string="rw@example.com"
        )
        assert links.subscriber_id_string == "rw@example.com"


def test_batch_gate_closed(server: Server) -> None:
    p = server.new_portal(batch_scopes_enabled=False)
    with make_client(server, p.token) as client:
        cp = client.communication_preferences
        with pytest.raises(PermissionDeniedError) as err:
            cp.statuses.batch.read(channel="EMAIL", inputs=["x@example.com"])
        body = assert_error(err.value, 403, "MISSING_SCOPES")
        assert body["context"] == {"missingScopes": [BATCH_READ]}
        # single-subscriber operations are not gated
        assert len(cp.get_statuses("x@example.com", channel="EMAIL").results) == 3


def test_validation_errors(sdk: HubSpot, portal: Portal) -> None:
    cp = sdk.communication_preferences
    with pytest.raises(BadRequestError) as err:
        cp.get_statuses("not-an-email", channel="EMAIL")
    body = assert_error(err.value, 400, "VALIDATION_ERROR", "Invalid email address")
    assert body["errors"] == [{"message": "Invalid email address", "in": "subscriberIdString"}]
    assert body["context"] == {"subscriberIdString": ["not-an-email"]}

    with pytest.raises(BadRequestError) as err:
        cp.update_status(
            "x@example.com", channel="EMAIL", status_state="SUBSCRIBED", subscription_id=424242
        )
    body = assert_error(
        err.value, 400, "VALIDATION_ERROR", "Subscription definition 424242 does not exist"
    )
    assert body["errors"][0]["in"] == "subscriptionId"

    with pytest.raises(BadRequestError) as err:
        cp.get_statuses("x@example.com", channel="SMS")  # type: ignore[arg-type]
    body = assert_error(
        err.value, 400, "VALIDATION_ERROR", "Invalid value for channel: SMS. Allowed values: EMAIL"
    )
    assert body["errors"][0]["in"] == "channel"

    with pytest.raises(BadRequestError) as err:
        cp.statuses.batch.read(channel="EMAIL", inputs=[f"u{i}@example.com" for i in range(1001)])
    body = assert_error(
        err.value, 400, "VALIDATION_ERROR", "Too many inputs: 1001. The maximum is 1000"
    )
    assert body["errors"][0]["in"] == "inputs"

    with pytest.raises(BadRequestError) as err:
        cp.statuses.batch.update_statuses(
            inputs=[{"subscriber_id_string": "x@example.com", "channel": "EMAIL"}]  # type: ignore[typeddict-item]
        )
    body = assert_error(err.value, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("Invalid input JSON on line ")
    assert body["message"].endswith(
        "Cannot build PublicStatusRequest, some of required attributes are not set "
        "[statusState, subscriptionId]"
    )


# --- the async client --------------------------------------------------------------------


async def test_async_client_calls_every_method(server: Server, portal: Portal) -> None:
    d1 = portal.definitions[0]
    async with AsyncHubSpot(
        access_token=portal.token,
        base_url=server.base_url,
        _strict_response_validation=True,
        max_retries=0,
    ) as client:
        acp = client.communication_preferences
        assert len((await acp.definitions.list()).results) == 3
        set_ = await acp.update_status(
            "async@example.com", channel="EMAIL", status_state="SUBSCRIBED", subscription_id=d1
        )
        assert set_.results[0].set_status_success_reason == "REQUESTED_CHANGE_OCCURRED"
        got = await acp.get_statuses("async@example.com", channel="EMAIL")
        assert [r.status for r in got.results] == ["SUBSCRIBED", "NOT_SPECIFIED", "NOT_SPECIFIED"]
        assert (await acp.unsubscribe_all("async@example.com", channel="EMAIL")).results == []
        wide = await acp.get_unsubscribe_all_status("async@example.com", channel="EMAIL")
        assert [w.status for w in wide.results] == ["UNSUBSCRIBED"]
        batch = acp.statuses.batch
        read = await batch.read(channel="EMAIL", inputs=["async@example.com"])
        assert [s.status for s in read.results[0].statuses] == ["UNSUBSCRIBED"] * 3
        write = await batch.update_statuses(
            inputs=[
                {
                    "subscriber_id_string": "async@example.com",
                    "channel": "EMAIL",
                    "status_state": "SUBSCRIBED",
                    "subscription_id": d1,
                }
            ]
        )
        assert write.results[0].set_status_success_reason == "RESUBSCRIBE_OCCURRED"
        opt = await batch.unsubscribe_all(channel="EMAIL", inputs=["async2@example.com"])
        assert [r.subscriber_id_string for r in opt.results] == ["async2@example.com"]
        wides = await batch.get_unsubscribe_all_statuses(
            channel="EMAIL", inputs=["async@example.com", "async2@example.com"]
        )
        assert [[w.status for w in r.wide_statuses] for r in wides.results] == [
            ["SUBSCRIBED"],
            ["UNSUBSCRIBED"],
        ]
        links = await acp.generate_links(channel="EMAIL", subscriber_id_string="async@example.com")
        assert links.manage_preferences_url.startswith(server.base_url + "/hs/manage-preferences/")


def test_sdk_requests_reach_the_server_as_documented(server: Server, portal: Portal) -> None:
    """§9.1: `+` and `@` stay raw in the SDK's path and the empty-body POST still works."""
    seen: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [seen.append]})
    with HubSpot(
        access_token=portal.token,
        base_url=server.base_url,
        _strict_response_validation=True,
        max_retries=0,
        http_client=http,
    ) as client:
        cp = client.communication_preferences
        cp.unsubscribe_all("raw+plus@example.com", channel="EMAIL")
        rows = cp.get_statuses("raw+plus@example.com", channel="EMAIL").results
    assert [r.status for r in rows] == ["UNSUBSCRIBED"] * 3
    assert seen[0].url.raw_path.startswith(
        b"/communication-preferences/2026-03/statuses/raw+plus@example.com/unsubscribe-all?"
    )
    assert seen[0].headers["content-type"] == "application/json"
    with server.client(portal.token) as plain:
        encoded = plain.get(
            "/communication-preferences/2026-03/statuses/raw%2Bplus%40example.com",
            params={"channel": "EMAIL"},
        )
    assert [r["status"] for r in encoded.json()["results"]] == ["UNSUBSCRIBED"] * 3
