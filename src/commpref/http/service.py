"""The service endpoints: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, and for a
person `/` and `/docs` (`http.reference`). Public (no credential), never counted against
the concurrency limit, answered by the same pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

import commpref
from commpref.errors import CommprefError, Unavailable
from commpref.http import openapi, reference
from commpref.http.errors import CORRELATION_HEADERS, json_error
from commpref.http.hubspot import ERROR_TEXTS
from commpref.http.metrics import CONTENT_TYPE as METRICS_TYPE
from commpref.http.operation import Handler, Operation, Raw, Reply, Request, Surface
from commpref.http.routing import Paths, not_found

PATHS = frozenset({"/", "/docs", "/healthz", "/readyz", "/metrics", "/openapi.json"})
_HTML = "text/html; charset=utf-8"
_encode = msgspec.json.Encoder().encode
_HEALTH = {"$ref": openapi.REF.format(name="Health")}
_METRICS = {
    "description": "Prometheus text exposition format",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}


class Health(msgspec.Struct, kw_only=True, gc=False):
    status: str


async def healthz(rq: Request) -> Reply:
    """The process is up (no database check)."""
    return 200, Health(status="ok")


async def readyz(rq: Request) -> Reply:
    """The store answers and its schema is the latest; 503 otherwise."""
    store = rq.runtime.store
    try:
        await store.ping()
        applied, latest = await store.schema_version()
    except CommprefError:
        raise
    except Exception as exc:
        raise Unavailable(f"database unavailable: {exc}") from exc
    if applied != latest:
        raise Unavailable(f"database schema is at version {applied}, expected {latest}")
    return 200, Health(status="ready")


async def metrics(rq: Request) -> Reply:
    """Prometheus text format (`http.metrics`); 404 when metrics are off."""
    if rq.runtime.metrics is None:
        raise not_found("GET", "/metrics")
    return 200, Raw(METRICS_TYPE, rq.runtime.metrics.render())


def _doc(summary: str, description: str, ok: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "operationId": summary.lower().replace(" ", "_"),
        "summary": summary,
        "tags": ["operations"],
        "security": [],
        "responses": {
            "200": ok or openapi.json_content(_HEALTH, description),
            "414": openapi.json_content(openapi.ERROR, ERROR_TEXTS[414]),
            "500": openapi.json_content(openapi.ERROR, ERROR_TEXTS[500]),
            "503": openapi.json_content(
                openapi.ERROR, "Not ready: the database is unavailable or not migrated"
            ),
        },
    }


def _operation(path: str, handler: Handler, doc: dict[str, Any] | None) -> Operation:
    label = path.strip("/").removesuffix(".json") or "home"
    return Operation(
        name=label,
        label=label,
        method="GET",
        path=path,
        versions=("",),
        handler=handler,
        summary=label,
        responses={},
        authorize=None,
        errors=frozenset({414, 500, 503}),
        gated=False,
        doc=doc,
    )


def surface(surfaces: Sequence[Surface]) -> Surface:
    """The service endpoints; `/openapi.json` describes `surfaces` and these."""
    document: list[bytes] = []

    def described() -> dict[str, Any]:
        return openapi.document([*surfaces, service])

    async def openapi_json(rq: Request) -> Reply:
        if not document:
            document.append(_encode(described()))
        return 200, Raw("application/json", document[0])

    async def home(rq: Request) -> Reply:
        rq.headers.extend(reference.HEADERS)
        return 200, Raw(_HTML, reference.home(commpref.__version__))

    async def docs(rq: Request) -> Reply:
        rq.headers.extend(reference.HEADERS)
        return 200, Raw(_HTML, reference.reference(described()))

    operations = (
        _operation("/healthz", healthz, _doc("Health", "The process is up")),
        _operation(
            "/readyz", readyz, _doc("Readiness", "The database answers and its schema is current")
        ),
        _operation("/metrics", metrics, _doc("Metrics", "", _METRICS)),
        _operation("/openapi.json", openapi_json, None),
        _operation("/", home, None),
        _operation("/docs", docs, None),
    )
    service = Surface(
        name="service",
        operations=operations[:3],  # /openapi.json does not describe itself
        router=Paths((o.method, o.path, o) for o in operations),
        unmatched_label="unmatched",
        render_error=json_error,
        correlation_headers=CORRELATION_HEADERS,
        url=lambda version, o: o.path,
        operation_id=lambda o, version: o.name,
        tag=lambda version: "operations",
        error_texts=ERROR_TEXTS,
        components=(Health,),
    )
    return service
