"""Contract of `Store.count_request` (docs/wire-contract.md §7.2), on every backend: the rolling
window, the UTC day, "refused requests do not count", per-token counters, and atomicity under
concurrency (one store, and two stores standing for two processes)."""

from __future__ import annotations

import asyncio

import pytest

from commpref.settings import Settings
from commpref.storage import open_store
from commpref.storage.store import Store

DAY = 86_400_000
T0 = 1_780_000_000_000 - (1_780_000_000_000 % DAY) + 5 * 3_600_000  # 05:00 UTC on some day


async def count(
    store: Store, now: int, *, token: int = 1, window: int = 10_000, cap: int = 3, daily: int = 100
) -> tuple[bool, tuple[int, ...], int]:
    r = await store.count_request(
        token_id=token, now=now, window_ms=window, window_max=cap, daily_max=daily
    )
    return r.counted, r.hits, r.day_count


async def test_first_request_is_counted(store: Store) -> None:
    assert await count(store, T0) == (True, (T0,), 1)


async def test_window_full_refuses_without_counting(store: Store) -> None:
    for i in range(3):
        assert (await count(store, T0 + i))[0]
    assert await count(store, T0 + 5) == (False, (T0, T0 + 1, T0 + 2), 3)
    assert await count(store, T0 + 6) == (False, (T0, T0 + 1, T0 + 2), 3)


async def test_window_rolls_one_request_at_a_time(store: Store) -> None:
    for t in (T0, T0 + 4_000, T0 + 8_000):
        assert (await count(store, t))[0]
    # T0 is exactly 10 s old at T0 + 10_000: it has left the window
    assert await count(store, T0 + 9_999) == (False, (T0, T0 + 4_000, T0 + 8_000), 3)
    assert await count(store, T0 + 10_000) == (True, (T0 + 4_000, T0 + 8_000, T0 + 10_000), 4)
    assert await count(store, T0 + 30_000) == (True, (T0 + 30_000,), 5)


async def test_daily_allowance_refuses_and_resets_at_utc_midnight(store: Store) -> None:
    for i in range(2):
        assert await count(store, T0 + i * 20_000, daily=2) == (True, (T0 + i * 20_000,), i + 1)
    refused = await count(store, T0 + 60_000, daily=2)
    assert refused == (False, (), 2)  # the window has room; the day has not
    midnight = T0 - T0 % DAY + DAY
    assert (await count(store, midnight - 1, daily=2))[0] is False
    assert await count(store, midnight, daily=2) == (True, (midnight,), 1)


async def test_tokens_are_counted_apart(store: Store) -> None:
    for _ in range(3):
        assert (await count(store, T0, token=7))[0]
    assert (await count(store, T0, token=7))[0] is False
    assert await count(store, T0, token=8) == (True, (T0,), 1)


async def test_concurrent_requests_never_exceed_the_window(store: Store) -> None:
    results = await asyncio.gather(*(count(store, T0 + i, cap=10) for i in range(40)))
    assert sum(r[0] for r in results) == 10
    assert (await count(store, T0 + 100, cap=10))[2] == 10


async def test_two_stores_share_one_count(database_url: str) -> None:
    """Two stores on one database stand for two server processes."""
    a = open_store(Settings(database_url=database_url))
    b = open_store(Settings(database_url=database_url))
    await a.open()
    await b.open()
    try:
        calls = [count(s, T0 + i, cap=25, daily=30) for i in range(30) for s in (a, b)]
        results = await asyncio.gather(*calls)
        assert sum(r[0] for r in results) == 25
        last = await count(a, T0 + 11_000, cap=25, daily=30)
        assert last == (True, (T0 + 11_000,), 26)
        for _ in range(4):
            assert (await count(b, T0 + 12_000, cap=25, daily=30))[0]
        assert (await count(a, T0 + 13_000, cap=25, daily=30)) == (
            False,
            (T0 + 11_000,) + (T0 + 12_000,) * 4,
            30,
        )
    finally:
        await a.close()
        await b.close()


@pytest.mark.parametrize("cap", [1, 190])
async def test_window_holds_up_to_the_tier_maximum(store: Store, cap: int) -> None:
    for i in range(cap):
        assert (await count(store, T0 + i, cap=cap, daily=1_000))[0]
    counted, hits, today = await count(store, T0 + cap, cap=cap, daily=1_000)
    assert (counted, len(hits), today) == (False, cap, cap)
