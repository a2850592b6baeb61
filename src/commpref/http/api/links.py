"""Preference links under `/commpref/v1`.

- `POST list-unsubscribe`: the two RFC 8058 header lines for one address. A sender adds
  them to every email to that address; they name its one-click unsubscribe-all URL
  (docs/preference-pages.md). Validation as `links/generate`; nothing is written.
- `portal/link-keys`: the portal's own keys that seal its links, their rotation and the
  retirement of the old ones (docs/preference-pages.md, "Link keys"). Secrets never leave
  the server.
"""

from __future__ import annotations

import msgspec

from commpref.domain.model import LinkKey, Portal
from commpref.http.operation import Reply, Request
from commpref.http.values import DateTime, Int64, iso
from commpref.services import admin, links


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


class LinkKeyView(msgspec.Struct, kw_only=True, gc=False):
    id: Int64
    createdAt: DateTime
    retiredAt: DateTime | None
    sealing: bool  # seals the portal's new links


class LinkKeyList(msgspec.Struct, kw_only=True, gc=False):
    results: list[LinkKeyView]  # newest first
    serverKeysVerify: bool  # links sealed with the server's keys still work


def _key(k: LinkKey, portal: Portal) -> LinkKeyView:
    return LinkKeyView(
        id=k.id,
        createdAt=iso(k.created_at),
        retiredAt=None if k.retired_at is None else iso(k.retired_at),
        sealing=portal.link_key is not None and portal.link_key.id == k.id,
    )


async def _key_list(rq: Request) -> LinkKeyList:
    store, portal_id = rq.runtime.store, rq.call.ctx.portal.id
    portal = await admin.get_portal(store=store, portal_id=portal_id)
    found = await links.list_keys(store=store, portal_id=portal_id)
    return LinkKeyList(
        results=[_key(k, portal) for k in found], serverKeysVerify=portal.server_link_keys
    )


async def list_link_keys(rq: Request) -> Reply:
    return 200, await _key_list(rq)


async def rotate_link_keys(rq: Request) -> Reply:
    """A new key seals the portal's links from now on; links already sent keep working."""
    made = await links.rotate_keys(
        store=rq.runtime.store, portal_id=rq.call.ctx.portal.id, now=rq.call.now
    )
    portal = await admin.get_portal(store=rq.runtime.store, portal_id=made.portal_id)
    return 201, _key(made, portal)


async def retire_link_keys(rq: Request) -> Reply:
    """Links not sealed by the newest key stop working, in every server process at once."""
    await links.retire_keys(store=rq.runtime.store, ctx=rq.call.ctx, now=rq.call.now)
    return 200, await _key_list(rq)
