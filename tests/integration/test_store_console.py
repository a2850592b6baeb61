"""Storage contract: console users, sessions, the sign-in throttle, finding addresses and the
newest ledger entries (`storage/console.py`). Runs on every backend (the `store` fixture)."""

from __future__ import annotations

import pytest

from commpref.domain.console import Role
from commpref.domain.model import Actor, Status
from commpref.errors import Conflict, NotFound
from commpref.services import console, statuses
from commpref.services.context import Call
from commpref.services.statuses import StatusWrite
from commpref.storage.store import Store

NOW = 1_700_000_000_000


async def test_users_are_created_found_listed_and_changed(store: Store) -> None:
    a = await store.create_portal(name="A", now=NOW)
    b = await store.create_portal(name="B", now=NOW)
    everywhere = await store.create_user(
        email="owner@example.com", password_hash="h1", role="owner", portals=None, now=NOW
    )
    only_a = await store.create_user(
        email="viewer@example.com", password_hash="h2", role="viewer", portals=[a.id], now=NOW
    )
    assert everywhere.portals is None and everywhere.sees(b.id)
    assert only_a.portals == frozenset({a.id}) and not only_a.sees(b.id)
    assert only_a.role is Role.VIEWER and only_a.password_hash == "h2"
    assert await store.find_user("viewer@example.com") == only_a
    assert await store.get_user(only_a.id) == only_a
    assert await store.find_user("nobody@example.com") is None
    assert [u.id for u in await store.list_users()] == [everywhere.id, only_a.id]
    assert [u.id for u in await store.list_users(b.id)] == [everywhere.id]
    with pytest.raises(Conflict):
        await store.create_user(
            email="viewer@example.com", password_hash="x", role="owner", portals=None, now=NOW
        )
    with pytest.raises(NotFound):
        await store.create_user(
            email="new@example.com", password_hash="x", role="owner", portals=[999_999], now=NOW
        )
    assert await store.find_user("new@example.com") is None  # nothing half-made
    changed = await store.update_user(
        only_a.id, now=NOW + 1, role="editor", portals=[a.id, b.id], set_portals=True
    )
    assert changed.role is Role.EDITOR and changed.portals == frozenset({a.id, b.id})
    assert changed.updated_at == NOW + 1 and changed.password_hash == "h2"
    assert (await store.update_user(only_a.id, now=NOW + 2, role="viewer")).portals == frozenset(
        {a.id, b.id}
    )
    assert (await store.update_user(only_a.id, now=NOW + 3, set_portals=True)).portals is None
    with pytest.raises(NotFound):
        await store.update_user(999_999, now=NOW, role="owner")


async def test_sessions_end_at_sign_out_on_disable_and_on_a_new_password(store: Store) -> None:
    user = await store.create_user(
        email="u@example.com", password_hash="h", role="admin", portals=None, now=NOW
    )
    first = await store.create_session(id_hash="s1", user_id=user.id, csrf="c1", now=NOW)
    await store.create_session(id_hash="s2", user_id=user.id, csrf="c2", now=NOW)
    found = await store.get_session("s1")
    assert found is not None and found == (first, user)
    await store.touch_session("s1", now=NOW + 5)
    await store.touch_session("s1", now=NOW + 2)  # an older use never rewinds it
    found = await store.get_session("s1")
    assert found is not None and found[0].seen_at == NOW + 5
    await store.end_session("s1", now=NOW + 6)
    ended = await store.get_session("s1")
    assert ended is not None and ended[0].ended_at == NOW + 6
    live = await store.get_session("s2")
    assert live is not None and live[0].ended_at is None
    await store.update_user(user.id, now=NOW + 7, password_hash="h2")
    gone = await store.get_session("s2")
    assert gone is not None and gone[0].ended_at == NOW + 7
    await store.create_session(id_hash="s3", user_id=user.id, csrf="c3", now=NOW + 8)
    disabled = await store.update_user(user.id, now=NOW + 9, disabled=True)
    assert disabled.disabled_at == NOW + 9
    s3 = await store.get_session("s3")
    assert s3 is not None and s3[0].ended_at == NOW + 9
    assert (await store.update_user(user.id, now=NOW + 10, disabled=False)).disabled_at is None
    assert await store.get_session("nope") is None


async def test_failed_sign_ins_are_counted_per_key_and_forgotten(store: Store) -> None:
    keys = ["address:a@example.com", "client:10.0.0.1"]
    for at in (NOW, NOW + 10, NOW + 20):
        await store.note_signin_failure(keys, now=at, keep_ms=1_000)
    assert await store.signin_failures(keys[0], since=NOW) == 3
    assert await store.signin_failures(keys[1], since=NOW + 10) == 2
    await store.note_signin_failure(keys[1:], now=NOW + 2_000, keep_ms=1_000)
    assert await store.signin_failures(keys[0], since=0) == 0  # older than keep_ms: gone
    assert await store.signin_failures(keys[1], since=0) == 1
    await store.clear_signin_failures(keys[1:])
    assert await store.signin_failures(keys[1], since=0) == 0


async def test_addresses_are_found_by_prefix_within_the_portal(store: Store) -> None:
    portal = await store.create_portal(name="P", now=NOW)
    other = await store.create_portal(name="O", now=NOW)
    for pid, addresses in ((portal.id, ["ann@x.example", "anna@x.example", "bob@x.example",
                                        "änne@x.example"]),
                           (other.id, ["anders@x.example"])):  # fmt: skip
        ctx = await store.portal_context(pid)
        call = Call(ctx, Actor("cli"), "test", "cid", NOW)
        for email in addresses:
            write = StatusWrite(email, ctx.definitions[0].id, Status.SUBSCRIBED)
            await statuses.set_status(store=store, call=call, write=write)
    assert await store.find_addresses(portal.id, "an", limit=10) == [
        "ann@x.example",
        "anna@x.example",
    ]
    assert await store.find_addresses(portal.id, "an", limit=1) == ["ann@x.example"]
    assert await store.find_addresses(portal.id, "ä", limit=10) == ["änne@x.example"]
    assert await store.find_addresses(portal.id, "zz", limit=10) == []
    assert await store.find_addresses(other.id, "a", limit=10) == ["anders@x.example"]
    newest = await store.latest_entry_ids(portal.id, limit=2)
    entries = await store.ledger_entries(portal.id, newest)
    assert sorted(e.event.email for e in entries) == ["bob@x.example", "änne@x.example"]
    assert newest == sorted(newest, reverse=True)


async def test_sign_in_hashes_with_argon2id_and_rehashes_nothing_current(store: Store) -> None:
    user = await console.create_user(
        store=store, email=" Op@Example.com ", password="twelve chars!", role="ADMIN",
        portals=None, now=NOW,
    )  # fmt: skip
    assert user.email == "op@example.com" and user.role is Role.ADMIN
    assert user.password_hash.startswith("$argon2id$")
    assert await console.check_credentials(store=store, email=user.email, password="twelve chars!")
    assert not await console.check_credentials(store=store, email=user.email, password="twelve")
