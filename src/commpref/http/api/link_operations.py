"""The preference-link operations of `/commpref/v1`: RFC 8058 List-Unsubscribe headers
and the portal's link keys (handlers in `links.py`)."""

from __future__ import annotations

from commpref.domain import scopes
from commpref.http.api import links
from commpref.http.api.declare import operation
from commpref.http.operation import Operation

OPERATIONS: tuple[Operation, ...] = (
    operation(
        "list_unsubscribe",
        "POST",
        "list-unsubscribe",
        scopes.READ_WRITE,  # what links/generate needs: these headers carry such a link
        links.list_unsubscribe,
        "The List-Unsubscribe and List-Unsubscribe-Post headers (RFC 8058) for one address",
        {200: links.ListUnsubscribeResponse},
        body=links.ListUnsubscribeRequest,
    ),
    operation(
        "list_link_keys",
        "GET",
        "portal/link-keys",
        scopes.PORTAL_READ,
        links.list_link_keys,
        "The portal's own keys that seal its preference links (never their secrets)",
        {200: links.LinkKeyList},
    ),
    operation(
        "rotate_link_keys",
        "POST",
        "portal/link-keys/rotate",
        scopes.PORTAL_WRITE,
        links.rotate_link_keys,
        "A new key seals the portal's links from now on; links already sent keep working",
        {201: links.LinkKeyView},
    ),
    operation(
        "retire_link_keys",
        "POST",
        "portal/link-keys/retire",
        scopes.PORTAL_WRITE,
        links.retire_link_keys,
        "Links not sealed by the newest key stop working (409 before a first rotation)",
        {200: links.LinkKeyList},
        conflict=True,
    ),
)
