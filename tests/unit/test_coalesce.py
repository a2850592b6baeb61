"""The read coalescer: reads asked for in one loop turn share one fetch, each gets its own."""

from __future__ import annotations

import asyncio

import pytest

from commpref.domain.model import Subscriber
from commpref.errors import Unavailable, ValidationError
from commpref.storage.coalesce import ReadCoalescer

STORED = {e: Subscriber(e, 1) for e in ("a@x.com", "b@x.com", "c@x.com")}


class Recorder:
    """A fetch over a dict that records each call; `fail` makes calls raise."""

    def __init__(self, fail: dict[str, BaseException] | None = None) -> None:
        self.calls: list[tuple[int, list[str]]] = []
        self.fail = fail or {}

    async def __call__(self, portal_id: int, emails: list[str]) -> dict[str, Subscriber]:
        self.calls.append((portal_id, emails))
        await asyncio.sleep(0)  # a real fetch yields to the loop
        for email, exc in self.fail.items():
            if email in emails:
                raise exc
        return {e: STORED[e] for e in emails if e in STORED}


async def test_reads_of_one_turn_share_one_fetch_and_each_gets_only_its_own() -> None:
    fetch = Recorder()
    reads = ReadCoalescer(fetch)
    got = await asyncio.gather(
        reads.read(1, ["a@x.com"]),
        reads.read(1, ["b@x.com", "zz@x.com"]),
        reads.read(1, ["a@x.com", "c@x.com"]),
    )
    assert fetch.calls == [(1, ["a@x.com", "b@x.com", "zz@x.com", "c@x.com"])]
    assert [sorted(g) for g in got] == [["a@x.com"], ["b@x.com"], ["a@x.com", "c@x.com"]]
    assert got[0]["a@x.com"] is STORED["a@x.com"]


async def test_portals_and_later_turns_get_fetches_of_their_own() -> None:
    fetch = Recorder()
    reads = ReadCoalescer(fetch)
    await asyncio.gather(reads.read(1, ["a@x.com"]), reads.read(2, ["a@x.com"]))
    await reads.read(1, ["b@x.com"])
    assert sorted(fetch.calls) == [(1, ["a@x.com"]), (1, ["b@x.com"]), (2, ["a@x.com"])]


async def test_one_callers_bad_input_fails_only_that_caller() -> None:
    fetch = Recorder(fail={"bad@x.com": ValidationError("no NUL")})
    reads = ReadCoalescer(fetch)
    good, bad = await asyncio.gather(
        reads.read(1, ["a@x.com"]), reads.read(1, ["bad@x.com"]), return_exceptions=True
    )
    assert good == {"a@x.com": STORED["a@x.com"]}
    assert isinstance(bad, ValidationError)
    assert fetch.calls == [(1, ["a@x.com", "bad@x.com"]), (1, ["a@x.com"]), (1, ["bad@x.com"])]


async def test_an_unavailable_database_fails_every_caller_of_the_batch() -> None:
    reads = ReadCoalescer(Recorder(fail={"a@x.com": Unavailable("down")}))
    results = await asyncio.gather(
        reads.read(1, ["a@x.com"]), reads.read(1, ["b@x.com"]), return_exceptions=True
    )
    assert [type(r) for r in results] == [Unavailable, Unavailable]


async def test_a_caller_that_goes_away_does_not_disturb_the_others() -> None:
    fetch = Recorder()
    reads = ReadCoalescer(fetch)
    leaving = asyncio.ensure_future(reads.read(1, ["a@x.com"]))
    staying = asyncio.ensure_future(reads.read(1, ["b@x.com"]))
    await asyncio.sleep(0)  # both are waiting; the fetch has started
    leaving.cancel()
    assert await staying == {"b@x.com": STORED["b@x.com"]}
    with pytest.raises(asyncio.CancelledError):
        await leaving
