"""Each portal's own preference-link keys (`storage/linkkeys.py`, `services.links`): the
store contract, and what rotating and retiring do to links already sent. Every backend."""

from __future__ import annotations

import pytest

from commpref.domain.model import Actor
from commpref.errors import Conflict, NotFound
from commpref.services import links, preferences
from commpref.services.context import Call
from commpref.settings import Settings
from commpref.storage import open_store
from commpref.storage.store import Store

NOW = 1_700_000_000_000
SERVER_KEYS = (b"the server's current key", b"the server's previous key")


async def _link(store: Store, portal_id: int, email: str = "ada@example.com") -> str:
    """A fresh manage-preferences token for `email`, as `links/generate` seals it."""
    ctx = await store.portal_context(portal_id)
    made = links.generate_links(
        call=Call.make(ctx, Actor("test"), now=NOW),
        email=email,
        business_unit_id=0,
        language=None,
        subscription_id=None,
        base_url="https://prefs.example.com",
        key=SERVER_KEYS[0],
    )
    return made.manage_preferences_url.split("&d=")[1].split("&")[0]


async def _opens(store: Store, token: str) -> bool:
    try:
        await preferences.open_link(
            store=store, keys=SERVER_KEYS, token=token, now=NOW, max_age_days=0
        )
    except links.InvalidLink:
        return False
    return True


async def test_a_rotated_key_seals_and_is_read_with_the_portal(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    assert portal.link_key is None and portal.server_link_keys
    assert await store.list_link_keys(portal.id) == []
    first = await links.rotate_keys(store=store, portal_id=portal.id, now=NOW)
    second = await links.rotate_keys(store=store, portal_id=portal.id, now=NOW + 1)
    assert first.id != second.id and first.secret != second.secret
    assert len(second.secret) >= 43  # 32 random bytes
    ctx = await store.portal_context(portal.id)
    assert ctx.portal.link_key == second
    assert (await store.get_portal(portal.id)).link_key == second  # type: ignore[union-attr]
    assert [k.id for k in await store.list_link_keys(portal.id)] == [second.id, first.id]
    assert await store.link_key(first.id) == first
    assert await store.link_key(second.id + 1000) is None
    assert second.secret not in repr(second)  # never in a log line
    with pytest.raises(NotFound):
        await store.add_link_key(portal_id=portal.id + 99, secret="x", now=NOW)


async def test_retiring_keeps_only_the_newest_key(store: Store) -> None:
    a = await store.create_portal(name="A", now=NOW)
    b = await store.create_portal(name="B", now=NOW)
    old = await store.add_link_key(portal_id=a.id, secret="old", now=NOW)
    newest = await store.add_link_key(portal_id=a.id, secret="new", now=NOW + 1)
    others = await store.add_link_key(portal_id=b.id, secret="b's", now=NOW)
    assert await store.retire_link_keys(portal_id=a.id, now=NOW + 2) == 1
    assert (await store.link_key(old.id)).retired_at == NOW + 2  # type: ignore[union-attr]
    assert (await store.link_key(newest.id)).retired_at is None  # type: ignore[union-attr]
    assert (await store.link_key(others.id)).retired_at is None  # type: ignore[union-attr]
    assert not (await store.portal_context(a.id)).portal.server_link_keys
    assert (await store.portal_context(b.id)).portal.server_link_keys
    assert await store.retire_link_keys(portal_id=a.id, now=NOW + 3) == 0  # again: nothing


async def test_links_survive_a_rotation_and_die_at_retirement(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    by_server = await _link(store, portal.id)
    assert links.sealing_key_id(by_server) is None
    await links.rotate_keys(store=store, portal_id=portal.id, now=NOW)
    by_first = await _link(store, portal.id)
    first_id = links.sealing_key_id(by_first)
    assert first_id is not None
    await links.rotate_keys(store=store, portal_id=portal.id, now=NOW + 1)
    by_second = await _link(store, portal.id)
    assert links.sealing_key_id(by_second) not in (None, first_id)
    # A rotation breaks nothing already sent.
    assert [await _opens(store, t) for t in (by_server, by_first, by_second)] == [True] * 3
    ctx = await store.portal_context(portal.id)
    assert await links.retire_keys(store=store, ctx=ctx, now=NOW + 2) == 1
    assert [await _opens(store, t) for t in (by_server, by_first, by_second)] == [
        False,
        False,
        True,
    ]


async def test_retiring_needs_a_key_of_the_portal_first(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    token = await _link(store, portal.id)
    with pytest.raises(Conflict):
        await links.retire_keys(store=store, ctx=await store.portal_context(portal.id), now=NOW)
    assert await _opens(store, token)


async def test_a_portal_key_opens_only_its_own_portal_and_its_own_header(store: Store) -> None:
    a = await store.create_portal(name="A", now=NOW)
    b = await store.create_portal(name="B", now=NOW)
    key = await links.rotate_keys(store=store, portal_id=a.id, now=NOW)
    # Sealed with A's key but naming portal B: whoever holds one portal's key cannot make
    # links for another.
    forged = links.sign(
        links.LinkClaims(b.id, "ada@example.com", 0, "en", NOW // 1000), key.secret.encode(), key.id
    )
    assert not await _opens(store, forged)
    genuine = await _link(store, a.id)
    assert await _opens(store, genuine)
    # The same sealed claims under another key id: the header is authenticated.
    other = await links.rotate_keys(store=store, portal_id=a.id, now=NOW + 1)
    moved = links.sign(
        links.LinkClaims(a.id, "ada@example.com", 0, "en", NOW // 1000),
        key.secret.encode(),
        other.id,
    )
    assert not await _opens(store, moved)
    assert not await _opens(store, genuine[:-2] + ("AA" if genuine[-2:] != "AA" else "BB"))


async def test_another_process_sees_a_rotation_and_a_retirement_at_once(
    store: Store, database_url: str
) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    other = open_store(Settings(database_url=database_url))
    await other.open()
    try:
        old = await _link(other, portal.id)  # warms the other process's caches
        assert await _opens(other, old)
        await links.rotate_keys(store=store, portal_id=portal.id, now=NOW)
        fresh = await _link(other, portal.id)
        assert links.sealing_key_id(fresh) is not None
        ctx = await store.portal_context(portal.id)
        await links.retire_keys(store=store, ctx=ctx, now=NOW + 1)
        assert not await _opens(other, old)
        assert await _opens(other, fresh)
    finally:
        await other.close()
