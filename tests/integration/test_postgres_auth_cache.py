"""PostgreSQL's per-process cache of `authenticate`: a repeated look-up makes no round trip,
and any change to what it read, made by any process, reaches every cache by NOTIFY; without
its listening connection a process caches nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from commpref.services.auth import hash_secret
from commpref.storage.postgres.auth_cache import APPLICATION_NAME
from commpref.storage.postgres.store import PostgresStore
from tests.conftest import POSTGRES_URL
from tests.integration.test_postgres_mutate import CountingStore

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs COMMPREF_TEST_POSTGRES_URL"),
]
NOW = 1_700_000_000_000


async def eventually(check: Callable[[], Any], attempts: int = 500) -> None:
    """Poll until the notification has arrived (synchronisation, not a timing assertion)."""
    for _ in range(attempts):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the change never reached the cache")


async def cached(store: PostgresStore, secret_hash: str) -> None:
    """Authenticate until the answer is kept: a notification of an earlier change (the
    token's own creation) may still arrive and empty the cache once."""

    async def kept() -> bool:
        await store.authenticate(secret_hash)
        return store.auth_cache.get(secret_hash) is not None

    await eventually(kept)


async def test_a_repeated_look_up_is_answered_without_a_round_trip(url: str) -> None:
    store = CountingStore(url)
    await store.open()
    try:
        portal = await store.create_portal(name="p", now=NOW)
        await store.create_token(
            portal_id=portal.id, name="t", secret_hash="h1", scopes=frozenset({"x"}), now=NOW
        )
        assert store.auth_cache.live
        # Warm-up: asyncpg's first use of a statement adds its own type look-ups.
        await store.count(store.authenticate("nope"))
        unknown = await store.count(store.authenticate("nope"))  # unknown: never kept
        await cached(store, "h1")
        again = await store.count(store.authenticate("h1"))
        assert (unknown, again) == (1, 0)
    finally:
        await store.close()


async def test_changes_by_another_process_reach_the_cache(
    url: str, pg_store: PostgresStore
) -> None:
    other = pg_store  # as another process's store
    store = PostgresStore(url, pool_size=2)
    await store.open()
    try:
        portal = await store.create_portal(name="p", now=NOW)
        token = await store.create_token(
            portal_id=portal.id, name="t", secret_hash="h1", scopes=frozenset({"x"}), now=NOW
        )
        found = await store.authenticate("h1")
        assert found is not None and len(found[1].definitions) == 3

        await other.create_definition(portal_id=portal.id, name="News", description="", now=NOW)

        async def sees_four() -> bool:
            found = await store.authenticate("h1")
            return found is not None and len(found[1].definitions) == 4

        await eventually(sees_four)
        await other.update_portal(portal.id, gdpr=True)

        async def sees_gdpr() -> bool:
            found = await store.authenticate("h1")
            return found is not None and found[1].portal.gdpr

        await eventually(sees_gdpr)
        assert await other.revoke_token(portal_id=portal.id, token_id=token.id, now=NOW + 1)

        async def sees_revoked() -> bool:
            found = await store.authenticate("h1")
            return found is not None and found[0].revoked_at is not None

        await eventually(sees_revoked)
    finally:
        await store.close()


async def test_a_lost_listener_drops_the_cache_and_comes_back(url: str) -> None:
    store = PostgresStore(url, pool_size=2)
    await store.open()
    admin = await asyncpg.connect(url)
    listening = (
        "SELECT pid FROM pg_stat_activity "
        "WHERE application_name = $1 AND datname = current_database()"
    )
    try:
        portal = await store.create_portal(name="p", now=NOW)
        await store.create_token(
            portal_id=portal.id, name="t", secret_hash="h1", scopes=frozenset({"x"}), now=NOW
        )
        await cached(store, "h1")
        pid = await admin.fetchval(listening, APPLICATION_NAME)
        assert pid is not None
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        # Told nothing while the listener is down, the process still sees the change.
        await admin.execute("UPDATE tokens SET revoked_at = 5 WHERE secret_hash = 'h1'")

        async def sees_revoked() -> bool:
            found = await store.authenticate("h1")
            return found is not None and found[0].revoked_at == 5

        await eventually(sees_revoked)

        async def listening_again() -> bool:
            new = await admin.fetchval(listening, APPLICATION_NAME)
            return new not in (None, pid) and store.auth_cache.live

        await eventually(listening_again, attempts=1000)
        await cached(store, "h1")  # caching again
    finally:
        await admin.close()
        await store.close()


async def test_a_look_up_overtaken_by_a_change_is_not_kept(url: str) -> None:
    store = PostgresStore(url, pool_size=2)
    await store.open()
    try:
        before = store.auth_cache.generation
        store.auth_cache.changed()  # as if a notification arrived during the query
        found = await store.authenticate(hash_secret("unknown"))
        assert found is None
        portal = await store.create_portal(name="p", now=NOW)
        token = await store.create_token(
            portal_id=portal.id, name="t", secret_hash="h1", scopes=frozenset({"x"}), now=NOW
        )
        found = await store.authenticate("h1")
        assert found is not None
        store.auth_cache.put("h1", before, found)  # a stale generation: refused
        store.auth_cache.changed()
        assert store.auth_cache.get("h1") is None and token.id == found[0].id
    finally:
        await store.close()
