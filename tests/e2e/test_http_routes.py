"""Routing over real HTTP: version prefixes, 404/405, raw-path decoding
(docs/wire-contract.md §1.2, §5.2), response headers, the access log, health endpoints and
`/openapi.json`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.http_helpers import VERSIONS, assert_error, is_uuid4, url
from tests.support.server import Portal, Server

# (op, method, path, body) of every operation; `None` body = none sent.
EMAIL = "route@example.com"
OPS: dict[str, tuple[str, str, Any]] = {
    "A": ("GET", "definitions", None),
    "B": ("GET", f"statuses/{EMAIL}", None),
    "C": (
        "POST",
        f"statuses/{EMAIL}",
        {"channel": "EMAIL", "statusState": "NOT_SPECIFIED", "subscriptionId": 1},
    ),
    "D": ("GET", f"statuses/{EMAIL}/unsubscribe-all", None),
    "E": ("POST", f"statuses/{EMAIL}/unsubscribe-all", None),
    "F": ("POST", "statuses/batch/read", {"inputs": [EMAIL]}),
    "G": ("POST", "statuses/batch/write", {"inputs": []}),
    "H": ("POST", "statuses/batch/unsubscribe-all", {"inputs": [EMAIL]}),
    "I": ("POST", "statuses/batch/unsubscribe-all/read", {"inputs": [EMAIL]}),
    "J": ("POST", "links/generate", {"subscriberIdString": EMAIL}),
    "K": ("GET", f"status/email/{EMAIL}", None),
    "L": ("POST", "subscribe", {"emailAddress": EMAIL, "subscriptionId": "1"}),
    "M": ("POST", "unsubscribe", {"emailAddress": EMAIL, "subscriptionId": "1"}),
    "N": ("POST", "resubscribe", {"emailAddress": EMAIL, "subscriptionId": "1"}),
    "O": ("POST", "status/email/bulk", [EMAIL]),
}
# docs/wire-contract.md §1.2: which version serves which operation.
SERVED = {
    "v3": set("AKLMNO"),
    "v4": set("ABCDEFGHIJ"),
    "2025-09": set("ABCDEFGHIJKLMN"),
    "2026-03": set("ABCDEFGHIJ"),
    "2026-09": set("ABCDEFGHIJKLMN"),
}


@pytest.fixture
def client(server: Server, portal: Portal) -> Iterator[httpx.Client]:
    with server.client(portal.token) as c:
        yield c


def call(client: httpx.Client, version: str, op: str) -> httpx.Response:
    method, path, body = OPS[op]
    params = {"channel": "EMAIL"} if op in "BDEFHIJ" else None
    return client.request(method, url(version, path), params=params, json=body)


@pytest.mark.parametrize("version", VERSIONS)
def test_each_version_serves_exactly_its_operations(client: httpx.Client, version: str) -> None:
    for op in sorted(OPS):
        r = call(client, version, op)
        if op in SERVED[version]:
            # Served: an answer of the operation itself (a business-rule 400 at worst).
            assert r.status_code in (200, 400), (op, r.text)
            if r.status_code == 400:
                assert "does not exist" in r.json()["message"], (op, r.text)
        else:
            method, path, _ = OPS[op]
            assert_error(
                r, 404, f"No route found for {method} {url(version, path)}", "OBJECT_NOT_FOUND"
            )


def test_versions_answer_with_their_own_shapes(client: httpx.Client) -> None:
    v3 = client.get(url("v3", "definitions")).json()
    v4 = client.get(url("v4", "definitions")).json()
    assert list(v3) == ["subscriptionDefinitions"]
    assert v4["status"] == "COMPLETE"
    assert v3["subscriptionDefinitions"] == v4["results"]


@pytest.mark.parametrize(
    "path",
    [
        "/communication-preferences",
        "/communication-preferences/v5/definitions",
        "/communication-preferences/v4/definitions/",
        "/communication-preferences/v4//definitions",
        "/communication-preferences/v4/statuses",
        "/communication-preferences/v4/statuses//unsubscribe-all",
        "/communication-preferences/v4/statuses/a@example.com/extra",
        "/communication-preferences/v4/statuses/batch/read/more",
        "/commpref/v1/portals",
        "/COMMUNICATION-PREFERENCES/v4/definitions",
    ],
)
def test_unknown_routes_are_404(server: Server, path: str) -> None:
    # Routing comes first: no credentials needed to learn a path does not exist.
    with server.client() as anonymous:
        r = anonymous.get(path)
    assert_error(r, 404, f"No route found for GET {path}", "OBJECT_NOT_FOUND")


def test_operations_of_other_versions_are_404_not_405(client: httpx.Client) -> None:
    # `status/email/bulk` exists only on v3; on 2025-09 it is not K's path with a wrong method.
    r = client.post(url("2025-09", "status/email/bulk"), json=[EMAIL])
    assert r.status_code == 404
    r = client.get(url("2026-03", f"status/email/{EMAIL}"))
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", url("v4", "statuses/a@example.com"), "GET, POST"),
        ("DELETE", url("2026-03", "statuses/a@example.com/unsubscribe-all"), "GET, POST"),
        ("GET", url("v4", "statuses/batch/read"), "POST"),
        ("GET", url("v4", "statuses/batch/unsubscribe-all"), "POST"),
        ("POST", url("v4", "definitions"), "GET"),
        ("PATCH", url("v3", "subscribe"), "POST"),
        ("POST", url("v3", f"status/email/{EMAIL}"), "GET"),
        ("POST", "/healthz", "GET"),
        ("DELETE", "/openapi.json", "GET"),
    ],
)
def test_wrong_methods_are_405_with_allow(
    server: Server, method: str, path: str, allow: str
) -> None:
    with server.client() as anonymous:
        r = anonymous.request(method, path)
    assert_error(r, 405, f"Method {method} is not allowed for {path}")
    assert r.headers["allow"] == allow


def test_over_long_uri_is_414(client: httpx.Client) -> None:
    r = client.get(url("v4", "definitions"), params={"padding": "x" * 20_000})
    assert_error(r, 414, "Request URI too long")


def test_a_literal_path_wins_over_the_subscriber_parameter(client: httpx.Client) -> None:
    # `batch` is not read as a subscriber of B/C, `bulk` not as K's email on v3.
    r = client.post(
        url("v4", "statuses/batch/read"), params={"channel": "EMAIL"}, json={"inputs": []}
    )
    assert r.json()["results"] == []
    r = client.get(url("v3", "status/email/bulk"))
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    # Where O does not exist, its path is not K's either: the operation is not served.
    assert client.get(url("2025-09", "status/email/bulk")).status_code == 404
    r = client.get(url("2025-09", "status/email/bulk2@example.com"))
    assert r.json()["recipient"] == "bulk2@example.com"


# --- the email in the path (§5.2) --------------------------------------------------------


def test_plus_percent_forms_name_one_subscriber(client: httpx.Client, portal: Portal) -> None:
    """§10.8: Stainless leaves `@`/`+` raw, the generated clients escape them."""
    r = client.post(
        url("2026-03", "statuses/a+b@example.com"),
        json={
            "channel": "EMAIL",
            "statusState": "SUBSCRIBED",
            "subscriptionId": portal.definitions[0],
        },
    )
    assert r.json()["results"][0]["subscriberIdString"] == "a+b@example.com"
    for form in [
        "a+b@example.com",
        "a%2Bb%40example.com",
        "a+b%40example.com",
        "A%2BB@EXAMPLE.com",
    ]:
        r = client.get(url("2026-03", f"statuses/{form}"), params={"channel": "EMAIL"})
        rows = r.json()["results"]
        assert {row["subscriberIdString"] for row in rows} == {"a+b@example.com"}, form
        assert rows[0]["status"] == "SUBSCRIBED", form
    # Never `a b@example.com`: a literal space is not a valid address.
    r = client.get(url("2026-03", "statuses/a%20b@example.com"), params={"channel": "EMAIL"})
    assert r.status_code == 400


def test_encoded_slash_stays_inside_the_segment(client: httpx.Client) -> None:
    r = client.get(url("v4", "statuses/a%2Fb%40example.com"), params={"channel": "EMAIL"})
    assert {row["subscriberIdString"] for row in r.json()["results"]} == {"a/b@example.com"}
    r = client.post(
        url("v4", "statuses/a%2Fb%40example.com/unsubscribe-all"), params={"channel": "EMAIL"}
    )
    assert r.status_code == 200
    r = client.get(
        url("v4", "statuses/a%2fb@example.com/unsubscribe-all"), params={"channel": "EMAIL"}
    )
    assert [w["subscriberIdString"] for w in r.json()["results"]] == ["a/b@example.com"]
    # Decoded exactly once: %252F is the three characters "%2F".
    r = client.get(url("v4", "statuses/a%252Fb@example.com"), params={"channel": "EMAIL"})
    assert r.json()["results"][0]["subscriberIdString"] == "a%2fb@example.com"


def test_upper_case_and_unicode_addresses(client: httpx.Client) -> None:
    r = client.post(
        url("v4", "statuses/J%C3%B6RG@B%C3%BCcher.DE/unsubscribe-all"), params={"channel": "EMAIL"}
    )
    assert r.status_code == 200
    for form in ["jörg@bücher.de", "J%C3%96RG%40B%C3%9CCHER.de"]:
        r = client.get(url("v4", f"statuses/{form}/unsubscribe-all"), params={"channel": "EMAIL"})
        assert [w["subscriberIdString"] for w in r.json()["results"]] == ["jörg@bücher.de"], form
    r = client.get(url("v3", "status/email/J%C3%B6RG%40b%C3%BCcher.de"))
    assert r.json()["recipient"] == "jörg@bücher.de"
    assert {s["status"] for s in r.json()["subscriptionStatuses"]} == {"NOT_SUBSCRIBED"}
    r = client.post(
        url("v4", "statuses/batch/unsubscribe-all/read"),
        params={"channel": "EMAIL"},
        json={"inputs": ["JÖRG@BÜCHER.DE", " jörg@bücher.de "]},
    )
    assert [x["subscriberIdString"] for x in r.json()["results"]] == ["jörg@bücher.de"]


# --- headers, health, logs ---------------------------------------------------------------


def test_every_response_carries_json_and_one_correlation_id(server: Server, portal: Portal) -> None:
    with server.client(portal.token) as c, server.client() as anonymous:
        responses = [
            c.get(url("v4", "definitions")),  # 200
            c.post(
                url("v4", "statuses/batch/read"),
                params={"channel": "EMAIL"},
                json={"inputs": ["x"]},
            ),
            c.post(
                url("v4", "statuses/batch/read"),
                params={"channel": "EMAIL"},
                json={"inputs": ["x"]},
            ),
            c.get(url("v4", "statuses/x")),  # 400
            anonymous.get(url("v4", "definitions")),  # 401
            anonymous.get("/nowhere"),  # 404
            anonymous.put("/readyz"),  # 405
            c.post(
                url("v4", "statuses/x@example.com"),
                content=b"x",
                headers={"content-type": "text/csv"},
            ),
            anonymous.get("/healthz"),
            anonymous.get("/openapi.json"),
        ]
    ids = []
    for r in responses:
        assert r.headers["content-type"] == "application/json"
        cid = r.headers["x-hubspot-correlation-id"]
        assert r.headers["x-request-id"] == cid
        assert is_uuid4(cid)
        if r.status_code >= 400:
            assert r.json()["correlationId"] == cid
            assert "requestId" not in r.json()  # only K–O and 429 carry it
        ids.append(cid)
    assert len(set(ids)) == len(ids)
    assert [r.status_code for r in responses] == [200, 207, 207, 400, 401, 404, 405, 415, 200, 200]


def test_v3_style_errors_carry_the_request_id(client: httpx.Client, server: Server) -> None:
    r = client.post(url("2025-09", "subscribe"), json={"emailAddress": "x"})
    assert r.json()["requestId"] == r.headers["x-request-id"] == r.json()["correlationId"]
    with server.client() as anonymous:
        r = anonymous.get(url("v3", f"status/email/{EMAIL}"))
    assert_error(r, 401, r.json()["message"], "INVALID_AUTHENTICATION", request_id=True)


def test_health_and_readiness(server: Server) -> None:
    with server.client() as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        assert anonymous.get("/readyz").json() == {"status": "ready"}


def test_access_log_has_one_json_line_per_request_without_secrets(
    server: Server, portal: Portal
) -> None:
    with server.client(portal.token) as c:
        r = c.get(url("v4", "definitions"), params={"hapikey": "super-secret-key", "x": "1"})
    cid = r.headers["x-request-id"]
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if cid in line]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["method"] == "GET"
    assert entry["path"] == url("v4", "definitions")
    assert entry["status"] == 200
    assert entry["correlationId"] == cid
    assert isinstance(entry["durationMs"], float | int)
    log = server.log_path.read_text()
    assert portal.token not in log
    assert "super-secret-key" not in log


# --- /openapi.json -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec(server: Server) -> dict[str, Any]:
    with server.client() as anonymous:
        r = anonymous.get("/openapi.json")
    assert r.status_code == 200
    return dict(r.json())


def test_openapi_lists_every_route(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    expected: set[tuple[str, str]] = set()
    for version, ops in SERVED.items():
        for op in ops:
            method, path, _ = OPS[op]
            template = path.replace(f"statuses/{EMAIL}", "statuses/{subscriberIdString}").replace(
                f"email/{EMAIL}", "email/{emailAddress}"
            )
            expected.add((method.lower(), url(version, template)))
    listed = {
        (method, path)
        for path, item in spec["paths"].items()
        if path.startswith("/communication-preferences/")
        for method in item
    }
    assert listed == expected
    assert {"/healthz", "/readyz"} <= set(spec["paths"])
    ids = [o["operationId"] for item in spec["paths"].values() for o in item.values()]
    assert len(ids) == len(set(ids))


def test_openapi_documents_bodies_codes_and_schemas(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    schemas = spec["components"]["schemas"]

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for v in node.values():
                yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for ref in refs(spec):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref
    f_v4 = paths[url("v4", "statuses/batch/read")]["post"]
    f_2609 = paths[url("2026-09", "statuses/batch/read")]["post"]
    assert {"200", "207"} <= set(f_v4["responses"])
    assert "207" not in f_2609["responses"]
    assert f_v4["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BatchInputString"
    }
    c = paths[url("2026-03", "statuses/{subscriberIdString}")]["post"]
    assert schemas["PartialPublicStatusRequest"]["required"] == [
        "channel",
        "statusState",
        "subscriptionId",
    ]
    assert {"400", "401", "403", "413", "415"} <= set(c["responses"])
    status = schemas["PublicStatus"]
    assert list(status["properties"]) == [
        "subscriberIdString",
        "subscriptionId",
        "subscriptionName",
        "channel",
        "status",
        "source",
        "legalBasis",
        "legalBasisExplanation",
        "setStatusSuccessReason",
        "businessUnitId",
        "timestamp",
    ]
    assert status["properties"]["timestamp"]["format"] == "date-time"
    e = paths[url("v4", "statuses/{subscriberIdString}/unsubscribe-all")]["post"]
    params = {p["name"]: p for p in e["parameters"]}
    assert params["channel"]["required"] is True
    assert params["channel"]["schema"] == {"type": "string", "enum": ["EMAIL"]}
    assert params["verbose"]["schema"]["type"] == "boolean"
    assert "requestBody" not in e
    assert paths[url("v3", "status/email/bulk")]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"] == {"type": "array", "items": {"type": "string"}}


def test_a_person_finds_a_home_page_and_a_self_hosted_api_reference(server: Server) -> None:
    with httpx.Client(base_url=server.base_url) as c:
        home = c.get("/")
        docs = c.get("/docs")
        described = c.get("/openapi.json").json()
    for page in (home, docs):
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        # Nothing loaded from anywhere: no script, no stylesheet or image to fetch.
        assert "<script" not in page.text and "<link" not in page.text
        assert " src=" not in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert 'href="/docs"' in home.text and 'href="/openapi.json"' in home.text
    for path, item in described["paths"].items():
        for method in item:
            assert f"<span class=m>{method.upper()}</span> <code>{path}</code>" in docs.text
