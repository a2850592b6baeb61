"""HubSpot's Communication Preferences API under `/communication-preferences/{version}/`:
its operation table (`operations`), handlers (`v3`, `v4`), wire shapes (`wire`, `render`)."""

from __future__ import annotations

from typing import Any

from commpref.domain.model import Token
from commpref.domain.scopes import ALL_SCOPES, EXTENSION_SCOPES
from commpref.http import body, errors
from commpref.http.errors import CORRELATION_HEADERS, json_error
from commpref.http.hubspot import wire
from commpref.http.hubspot.operations import OPERATIONS, operation_id
from commpref.http.operation import Operation, Surface
from commpref.http.routing import Router
from commpref.services.context import api_source

PREFIX = "communication-preferences"
ERROR_TEXTS = {
    **errors.ERROR_TEXTS,
    403: "Missing scopes (MISSING_SCOPES)",
    404: "Unknown address with strict_v3_unknown_404 (OBJECT_NOT_FOUND)",
    405: "A subscriber id spelled like a literal path segment (`batch`, `bulk`) names that "
    "path, which takes another method (docs/wire-contract.md §2.5)",
}


def _decode(raw: bytes, o: Operation) -> Any:
    return body.parse(raw, o.body)


def _token_source(token: Token) -> str:
    return api_source(token.app_id)


def surface(operations: tuple[Operation, ...] = OPERATIONS) -> Surface:
    oauth2 = {
        "type": "oauth2",
        "flows": {
            "authorizationCode": {
                "authorizationUrl": "https://app.hubspot.com/oauth/authorize",
                "tokenUrl": "https://api.hubapi.com/oauth/v1/token",
                "scopes": {s: s for s in sorted(ALL_SCOPES - EXTENSION_SCOPES)},
            }
        },
    }
    return Surface(
        name="hubspot",
        operations=operations,
        router=Router((o.method, o.path, o.versions, o) for o in operations),
        unmatched_label="unmatched",
        decode_body=_decode,
        source=_token_source,
        render_error=json_error,
        correlation_headers=CORRELATION_HEADERS,
        url=lambda version, o: f"/{PREFIX}/{version}/{o.path}",
        operation_id=operation_id,
        tag=lambda version: version,
        error_texts=ERROR_TEXTS,
        components=wire.RESPONSE_STRUCTS,
        security_schemes={
            "oauth2": oauth2,
            "private_apps": {"type": "apiKey", "in": "header", "name": "private-app"},
            "private_apps_legacy": {
                "type": "apiKey",
                "in": "header",
                "name": "private-app-legacy",
            },
        },
    )
