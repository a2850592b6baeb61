"""`/openapi.json`: an OpenAPI 3.1 document generated from the operation table (`http.ops`)
and the wire Structs (`http.wire`), so it cannot drift from what the server does."""

from __future__ import annotations

import re
from typing import Any

import msgspec

import commpref
from commpref.domain.scopes import ALL_SCOPES, ALTERNATIVES, EXTENSION_SCOPES
from commpref.http import openapi_ext, wire
from commpref.http.ext_ops import EXT_OPERATIONS
from commpref.http.ops import Operation
from commpref.http.params import QueryParam

_REF = "#/components/schemas/{name}"
_ERROR = {"$ref": _REF.format(name="Error")}
_ERROR_TEXT = {
    400: "Invalid request (VALIDATION_ERROR)",
    401: "Missing, unknown, revoked or expired credentials",
    403: "Missing scopes (MISSING_SCOPES)",
    404: "Unknown address with strict_v3_unknown_404 (OBJECT_NOT_FOUND)",
    405: "A subscriber id spelled like a literal path segment (`batch`, `bulk`) names that "
    "path, which takes another method (docs/wire-contract.md §2.5)",
    408: "The request body was not received in time",
    413: "Request body too large",
    414: "Request URI too long",
    415: "Unsupported Content-Type",
    429: "Rate limit reached (RATE_LIMITS); see Retry-After",
    500: "Internal error",
    503: "Database unavailable, or the process is at its concurrency limit (Retry-After)",
}
_SUCCESS_TEXT = {200: "Success", 207: "Some inputs failed (multi-status)"}
_HEALTH = {"$ref": _REF.format(name="Health")}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query_schema(p: QueryParam) -> dict[str, Any]:
    schema: dict[str, Any]
    if p.kind == "channel":
        schema = {"type": "string", "enum": ["EMAIL"]}
    elif p.kind == "int64":
        schema = {"type": "integer", "format": "int64"}
    else:
        schema = {"type": "boolean"}
    if p.default is not None:
        schema["default"] = p.default
    return schema


def _operation_id(method: str, version: str, path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{method.lower()} {version} {path}").strip("_")


def _operation(o: Operation, version: str) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = []
    if o.path_param:
        parameters.append(
            {
                "name": o.path_param,
                "in": "path",
                "required": True,
                "description": "The email address (percent-decoded once; `+` stays `+`).",
                "schema": {"type": "string", "minLength": 1},
            }
        )
    parameters += [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "description": p.description,
            "schema": _query_schema(p),
        }
        for p in o.query
    ]
    responses: dict[str, Any] = {
        str(code): _json({"$ref": _REF.format(name=struct.__name__)}, _SUCCESS_TEXT[code])
        for code, struct in o.responses.items()
    }
    # Every code this operation can answer, and no catch-all: the fuzzer checks that each
    # answer's code is listed here.
    errors = [400, 401, 403, 414, 429, 500, 503]
    if o.v3_style and o.has_body:
        errors.append(404)
    if o.path_param:
        errors.append(405)
    if o.has_body:
        errors += [408, 413, 415]
    for code in sorted(errors):
        responses[str(code)] = _json(_ERROR, _ERROR_TEXT[code])
    out: dict[str, Any] = {
        "operationId": _operation_id(o.method, version, o.path),
        "summary": o.summary,
        "tags": [version],
        "parameters": parameters,
        "responses": responses,
        "security": [{"oauth2": sorted(alt)} for alt in ALTERNATIVES[o.op]]
        + [{"private_apps": []}, {"private_apps_legacy": []}],
    }
    schema: dict[str, Any]
    if o.body is not None:
        schema = {"$ref": _REF.format(name=o.body.__name__)}
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    elif o.bare_array:
        schema = {"type": "array", "items": {"type": "string"}}
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    return out


def _service(summary: str, description: str, ok: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "get": {
            "operationId": summary.lower().replace(" ", "_"),
            "summary": summary,
            "tags": ["operations"],
            "security": [],
            "responses": {
                "200": ok or _json(_HEALTH, description),
                "414": _json(_ERROR, _ERROR_TEXT[414]),
                "500": _json(_ERROR, _ERROR_TEXT[500]),
                "503": _json(_ERROR, "Not ready: the database is unavailable or not migrated"),
            },
        }
    }


_METRICS = {
    "description": "Prometheus text exposition format",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}


def document(operations: tuple[Operation, ...]) -> dict[str, Any]:
    structs: list[Any] = [*wire.RESPONSE_STRUCTS]
    structs += [o.body for o in operations if o.body is not None]
    _, components = msgspec.json.schema_components(structs, ref_template=_REF)
    # /commpref/v1 (docs/wire-contract.md §11)
    components.update(openapi_ext.components(EXT_OPERATIONS))
    paths: dict[str, dict[str, Any]] = {}
    for o in operations:
        for version in o.versions:
            item = paths.setdefault(f"/communication-preferences/{version}/{o.path}", {})
            item[o.method.lower()] = _operation(o, version)
    paths.update(openapi_ext.paths(EXT_OPERATIONS))
    paths["/healthz"] = _service("Health", "The process is up")
    paths["/readyz"] = _service("Readiness", "The database answers and its schema is current")
    paths["/metrics"] = _service("Metrics", "", _METRICS)
    scopes = {s: s for s in sorted(ALL_SCOPES - EXTENSION_SCOPES)}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "commpref — HubSpot Communication Preferences API",
            "version": commpref.__version__,
            "description": "HubSpot's Communication Preferences API (v3, v4, 2025-09, "
            "2026-03, 2026-09) as served by commpref.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                openapi_ext.SECURITY_SCHEME: openapi_ext.security_scheme(),
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": "https://app.hubspot.com/oauth/authorize",
                            "tokenUrl": "https://api.hubapi.com/oauth/v1/token",
                            "scopes": scopes,
                        }
                    },
                },
                "private_apps": {"type": "apiKey", "in": "header", "name": "private-app"},
                "private_apps_legacy": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "private-app-legacy",
                },
            },
        },
    }
