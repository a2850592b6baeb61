"""How one operation of `/commpref/v1` is described: `operation()`, its query parameters
(`param()`), the scope check, and what every table shares.

Its own module, below every concept's table (`*_operations.py`) and `operations.py`, which
assembles them: the tables use it and `operations.py` imports the tables, so keeping it in
`operations.py` would make an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from commpref.domain import scopes
from commpref.domain.model import PortalContext, Token
from commpref.errors import MissingScopes
from commpref.http.operation import Authorize, Handler, Operation
from commpref.http.params import Param

PREFIX = "commpref"  # first path segment of every path of this API
VERSION = "v1"
SECURITY_SCHEME = "commpref_token"


def param(name: str, kind: str, description: str, **options: Any) -> Param:
    """A query parameter of this API: `?name=` counts as absent."""
    return Param(name, kind, description, blank_is_missing=True, **options)


def require(scope: str) -> Authorize:
    """The check of an operation that needs `scope` (`commpref.admin` grants every one)."""

    def authorize(token: Token, ctx: PortalContext) -> None:
        if not scopes.allows_extension(scope, token.scopes):
            raise MissingScopes(sorted({scope, scopes.ADMIN}))

    return authorize


def operation(
    name: str,
    method: str,
    path: str,
    scope: str,
    handler: Handler,
    summary: str,
    responses: Mapping[int, type[msgspec.Struct] | str],
    query: tuple[Param, ...] = (),
    body: type[msgspec.Struct] | None = None,
    *,
    upload: tuple[str, ...] = (),
    param_description: str = "",
    conflict: bool = False,
) -> Operation:
    """One operation of this API (how to fill it in: `operations.py`'s docstring)."""
    errors = {400, 401, 403, 404, 414, 429, 500, 503} | ({409} if conflict else set())
    if body is not None or upload:
        errors |= {408, 413, 415}
    return Operation(
        name=name,
        label=f"commpref_{name}",
        method=method,
        path=path,
        versions=(VERSION,),
        handler=handler,
        summary=summary,
        responses=responses,
        authorize=require(scope),
        errors=frozenset(errors),
        security=({SECURITY_SCHEME: []},),
        query=query,
        body=body,
        upload=upload,
        gated=not upload,  # an upload streams for as long as the file takes
        scope=scope,
        description=f"Needs scope `{scope}` (or `{scopes.ADMIN}`).",
        param_description=param_description,
    )


# Every paged list of every table takes the same page size.
LIMIT = param("limit", "int", "Most results in one page (1-1000).", default=100,
                 minimum=1, maximum=1000)  # fmt: skip
