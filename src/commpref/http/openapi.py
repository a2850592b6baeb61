"""`/openapi.json`: one OpenAPI 3.1 document generated from the operation table of every
surface and their wire Structs, so it cannot drift from what the server does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

import commpref
from commpref.http.operation import Operation, Surface
from commpref.http.params import Param

REF = "#/components/schemas/{name}"
ERROR = {"$ref": REF.format(name="Error")}
_SUCCESS_TEXT = {207: "Some inputs failed (multi-status)"}
_STREAMED = ("text/csv", "text/csv; charset=utf-8", "application/x-ndjson")


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _param_schema(p: Param) -> dict[str, Any]:
    schema: dict[str, Any]
    if p.kind == "channel":
        schema = {"type": "string", "enum": ["EMAIL"]}
    elif p.kind == "int":
        schema = {"type": "integer", "format": "int64"}
        if p.minimum is not None:
            schema["minimum"] = p.minimum
        if p.maximum is not None:
            schema["maximum"] = p.maximum
    elif p.kind == "bool":
        schema = {"type": "boolean"}
    elif p.kind == "choice":
        schema = {"type": "string", "enum": list(p.choices)}
    elif p.kind == "time":
        schema = {"oneOf": [{"type": "integer"}, {"type": "string", "format": "date-time"}]}
    else:
        schema = {"type": "string"}
    if p.default is not None:
        schema["default"] = p.default
    return schema


def _parameters(o: Operation) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if o.path_param:
        out.append(
            {
                "name": o.path_param,
                "in": "path",
                "required": True,
                "description": o.param_description,
                "schema": {"type": "string", "minLength": 1},
            }
        )
    for p in o.query:
        entry: dict[str, Any] = {"name": p.name, "in": "query", "required": p.required}
        if p.blank_is_missing and not p.required:
            entry["allowEmptyValue"] = True  # `?name=` counts as absent (`http.params`)
        entry["description"] = p.description
        entry["schema"] = _param_schema(p)
        out.append(entry)
    return out


def _operation(surface: Surface, o: Operation, version: str) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for code, answer in o.responses.items():
        if isinstance(answer, str):
            content = {media: {"schema": {"type": "string"}} for media in _STREAMED}
            responses[str(code)] = {"description": "The file, streamed", "content": content}
        else:
            ref = {"$ref": REF.format(name=answer.__name__)}
            responses[str(code)] = json_content(ref, _SUCCESS_TEXT.get(code, "Success"))
    # Every code this operation can answer, and no catch-all: the fuzzer checks that each
    # answer's code is listed here.
    for code in sorted(o.errors):
        responses[str(code)] = json_content(ERROR, surface.error_texts[code])
    out: dict[str, Any] = {
        "operationId": surface.operation_id(o, version),
        "summary": o.summary,
        "tags": [surface.tag(version)],
        "parameters": _parameters(o),
        "responses": responses,
        "security": list(o.security),
    }
    if o.description:
        out["description"] = o.description
    if o.body is not None:
        schema: dict[str, Any] = {"$ref": REF.format(name=o.body.__name__)}
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    elif o.bare_array:
        schema = {"type": "array", "items": {"type": "string"}}
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    elif o.upload:
        content = {media: {"schema": {"type": "string"}} for media in o.upload}
        out["requestBody"] = {"required": True, "content": content}
    return out


def _components(surface: Surface) -> dict[str, Any]:
    """Schemas of every Struct the surface answers or accepts."""
    structs: list[Any] = [*surface.components]
    for o in surface.operations:
        structs += [r for r in o.responses.values() if not isinstance(r, str)]
        if o.body is not None:
            structs.append(o.body)
    _, found = msgspec.json.schema_components(list(dict.fromkeys(structs)), ref_template=REF)
    return found


def document(surfaces: Sequence[Surface]) -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    security_schemes: dict[str, Any] = {}
    for surface in surfaces:
        components.update(_components(surface))
        security_schemes.update(surface.security_schemes)
        for o in surface.operations:
            for version in o.versions:
                item = paths.setdefault(surface.url(version, o), {})
                item[o.method.lower()] = o.doc or _operation(surface, o, version)
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
            "securitySchemes": security_schemes,
        },
    }
