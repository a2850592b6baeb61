"""The `/commpref/v1` part of `/openapi.json`, generated from `http.ext_ops` and the Structs
of `http.ext_wire` (merged into the document by `http.openapi.document`)."""

from __future__ import annotations

from typing import Any

import msgspec

from commpref.domain.scopes import ADMIN
from commpref.http import ext_wire
from commpref.http.ext import PREFIX, VERSION, ExtOperation, ExtParam

SECURITY_SCHEME = "commpref_token"
_REF = "#/components/schemas/{name}"
_ERROR = {"$ref": _REF.format(name="Error")}
_TEXT = {
    400: "Invalid request (VALIDATION_ERROR)",
    401: "Missing, unknown, revoked or expired credentials",
    403: "Missing scope (MISSING_SCOPES): the operation's own, or commpref.admin",
    404: "Unknown address, import job or webhook (OBJECT_NOT_FOUND)",
    405: "Method not allowed",
    408: "The request body was not received in time",
    413: "Request body too large",
    414: "Request URI too long",
    415: "Unsupported Content-Type",
    429: "Rate limit reached (RATE_LIMITS); see Retry-After",
    500: "Internal error",
    503: "Database unavailable, or the process is at its concurrency limit (Retry-After)",
}
_STREAMED = ("text/csv", "text/csv; charset=utf-8", "application/x-ndjson")


def _param_schema(p: ExtParam) -> dict[str, Any]:
    schema: dict[str, Any]
    if p.kind == "int":
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


def _operation(o: ExtOperation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = []
    if o.path_param:
        parameters.append(
            {
                "name": o.path_param,
                "in": "path",
                "required": True,
                "description": o.param_description,
                "schema": {"type": "string", "minLength": 1},
            }
        )
    parameters += [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            # `?name=` counts as absent for an optional parameter (`http.ext.parse_params`)
            **({} if p.required else {"allowEmptyValue": True}),
            "description": p.description,
            "schema": _param_schema(p),
        }
        for p in o.query
    ]
    responses: dict[str, Any] = {}
    for code, answer in o.responses.items():
        if isinstance(answer, str):
            content = {media: {"schema": {"type": "string"}} for media in _STREAMED}
            responses[str(code)] = {"description": "The file, streamed", "content": content}
        else:
            schema = {"$ref": _REF.format(name=answer.__name__)}
            responses[str(code)] = {
                "description": "Success",
                "content": {"application/json": {"schema": schema}},
            }
    errors = {400, 401, 403, 404, 414, 429, 500, 503}
    if o.body is not None or o.upload:
        errors |= {408, 413, 415}
    for code in sorted(errors):
        responses[str(code)] = {
            "description": _TEXT[code],
            "content": {"application/json": {"schema": _ERROR}},
        }
    out: dict[str, Any] = {
        "operationId": o.name,
        "summary": o.summary,
        "tags": ["commpref"],
        "parameters": parameters,
        "responses": responses,
        "security": [{SECURITY_SCHEME: []}],
        "description": f"Needs scope `{o.scope}` (or `{ADMIN}`).",
    }
    if o.body is not None:
        schema = {"$ref": _REF.format(name=o.body.__name__)}
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    elif o.upload:
        content = {media: {"schema": {"type": "string"}} for media in o.upload}
        out["requestBody"] = {"required": True, "content": content}
    return out


def paths(operations: tuple[ExtOperation, ...]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for o in operations:
        item = out.setdefault(f"/{PREFIX}/{VERSION}/{o.path}", {})
        item[o.method.lower()] = _operation(o)
    return out


def security_scheme() -> dict[str, Any]:
    return {
        "type": "http",
        "scheme": "bearer",
        "description": "A commpref token (`commpref token create`) holding the operation's "
        "scope or commpref.admin.",
    }


def components(operations: tuple[ExtOperation, ...]) -> dict[str, Any]:
    """Schemas of every Struct the extension operations answer or accept."""
    structs: list[Any] = [*ext_wire.RESPONSE_STRUCTS]
    for o in operations:
        structs += [r for r in o.responses.values() if not isinstance(r, str)]
        if o.body is not None:
            structs.append(o.body)
    structs = list(dict.fromkeys(structs))
    _, found = msgspec.json.schema_components(structs, ref_template=_REF)
    return found
