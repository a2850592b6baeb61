"""`POST /commpref/v1/list-unsubscribe`: the two RFC 8058 header lines for one address.

A sender adds them to every email to that address; they name its one-click
unsubscribe-all URL (docs/preference-pages.md). Validation as `links/generate`; nothing is
written.
"""

from __future__ import annotations

import msgspec

from commpref.http.operation import Reply, Request
from commpref.http.values import Int64
from commpref.services import links


class ListUnsubscribeRequest(msgspec.Struct, kw_only=True, gc=False):
    email: str
    businessUnitId: Int64 = 0
    language: str | None = None


class ListUnsubscribeResponse(msgspec.Struct, kw_only=True, gc=False):
    email: str  # normalised
    listUnsubscribe: str  # the value of the `List-Unsubscribe` header
    listUnsubscribePost: str  # the value of `List-Unsubscribe-Post`
    headers: list[str]  # both header lines, ready to add to a message


async def list_unsubscribe(rq: Request) -> Reply:
    body: ListUnsubscribeRequest = rq.body
    rt = rq.runtime
    found = links.list_unsubscribe(
        call=rq.call,
        email=body.email,
        business_unit_id=body.businessUnitId,
        language=body.language,
        base_url=rt.base_url,
        key=rt.link_keys[0],
        mailto=rt.settings.list_unsubscribe_mailto,
    )
    return 200, ListUnsubscribeResponse(
        email=found.email,
        listUnsubscribe=found.list_unsubscribe,
        listUnsubscribePost=found.list_unsubscribe_post,
        headers=found.lines(),
    )
