"""commpref's own API under `/commpref/v1/` (docs/commpref-api.md): its operation table
(`operations`, assembled from one table per concept, `*_operations`, each entry made by
`declare`), handlers (`handlers`, `webhooks`, `links`, `admin`, `users`) and wire shapes
(`wire`, `admin_wire`; `links` and `users` keep their own)."""

from __future__ import annotations

from typing import Any

from commpref.domain.model import Token
from commpref.http import body, errors
from commpref.http.api import wire
from commpref.http.api.declare import PREFIX, SECURITY_SCHEME, VERSION
from commpref.http.api.operations import OPERATIONS
from commpref.http.errors import CORRELATION_HEADERS, json_error
from commpref.http.operation import Operation, Surface
from commpref.http.routing import Router

PATHS = f"/{PREFIX}/"  # every path under it is answered here
SOURCE = "commpref API"  # `source` of changes made through /commpref/v1 (erasures)
ERROR_TEXTS = {
    **errors.ERROR_TEXTS,
    403: "Missing scope (MISSING_SCOPES): the operation's own, or commpref.admin; or a user "
    "this token may not change (FORBIDDEN)",
    404: "Unknown address, import job, webhook, type, business unit, token or user "
    "(OBJECT_NOT_FOUND)",
    405: "Method not allowed",
    409: "Already there: a console user with this address (CONFLICT)",
}


def _decode(raw: bytes, o: Operation) -> Any:
    assert o.body is not None  # has_body: this API has no bare-array bodies
    return body.decode_struct(raw, o.body)


def _source(token: Token) -> str:
    return SOURCE


def surface(operations: tuple[Operation, ...] = OPERATIONS) -> Surface:
    return Surface(
        name="commpref",
        operations=operations,
        router=Router(((o.method, o.path, o.versions, o) for o in operations), prefix=PREFIX),
        unmatched_label="commpref_unmatched",
        decode_body=_decode,
        source=_source,
        render_error=json_error,
        correlation_headers=CORRELATION_HEADERS,
        url=lambda version, o: f"/{PREFIX}/{VERSION}/{o.path}",
        operation_id=lambda o, version: o.name,
        tag=lambda version: "commpref",
        error_texts=ERROR_TEXTS,
        components=wire.RESPONSE_STRUCTS,
        security_schemes={
            SECURITY_SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "description": "A commpref token (`commpref token create`) holding the "
                "operation's scope or commpref.admin.",
            }
        },
    )
