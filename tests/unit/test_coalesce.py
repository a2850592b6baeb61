"""The batcher: jobs of one portal submitted in one loop turn share one `run`, each gets its
own outcome."""

from __future__ import annotations

import asyncio

import pytest

from commpref.errors import Unavailable, ValidationError
from commpref.storage.postgres.coalesce import Batcher, Outcomes, one_by_one


class Recorder:
    """A `run` that doubles numbers and records each call; negative numbers fail alone,
    `fail` fails whole batches (as a lost database would)."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.calls: list[tuple[int, list[int]]] = []
        self.fail = fail

    async def __call__(self, portal_id: int, jobs: list[int]) -> Outcomes:
        self.calls.append((portal_id, jobs))
        await asyncio.sleep(0)  # real work yields to the loop
        if self.fail is not None:
            raise self.fail
        return [(False, ValueError(j)) if j < 0 else (True, 2 * j) for j in jobs]


async def test_jobs_of_one_turn_share_one_run_and_each_gets_its_own_outcome() -> None:
    run = Recorder()
    batcher: Batcher[int, int] = Batcher(run)
    got = await asyncio.gather(
        batcher.submit(1, 1), batcher.submit(1, -2), batcher.submit(1, 3), return_exceptions=True
    )
    assert run.calls == [(1, [1, -2, 3])]
    assert got[0] == 2 and got[2] == 6
    assert isinstance(got[1], ValueError)


async def test_portals_and_later_turns_get_runs_of_their_own() -> None:
    run = Recorder()
    batcher: Batcher[int, int] = Batcher(run)
    assert await asyncio.gather(batcher.submit(1, 1), batcher.submit(2, 1)) == [2, 2]
    assert await batcher.submit(1, 5) == 10
    assert sorted(run.calls) == [(1, [1]), (1, [5]), (2, [1])]


async def test_a_failing_run_fails_every_job_of_its_batch() -> None:
    batcher: Batcher[int, int] = Batcher(Recorder(fail=Unavailable("down")))
    got = await asyncio.gather(batcher.submit(1, 1), batcher.submit(1, 2), return_exceptions=True)
    assert [type(g) for g in got] == [Unavailable, Unavailable]


async def test_a_caller_that_goes_away_does_not_disturb_the_others() -> None:
    batcher: Batcher[int, int] = Batcher(Recorder())
    leaving = asyncio.ensure_future(batcher.submit(1, 1))
    staying = asyncio.ensure_future(batcher.submit(1, 2))
    await asyncio.sleep(0)  # both are waiting; the run has started
    leaving.cancel()
    assert await staying == 4
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_one_by_one_keeps_a_bad_job_from_failing_the_others() -> None:
    async def run(portal_id: int, jobs: list[int]) -> Outcomes:
        if 0 in jobs:
            raise ValidationError("zero")
        return [(True, j) for j in jobs]

    got = await one_by_one(run, 1, [1, 0, 3])
    assert [ok for ok, _ in got] == [True, False, True]
    assert isinstance(got[1][1], ValidationError) and got[2] == (True, 3)


class Gated(Recorder):
    """A `run` that holds each call until `open` is set, so that jobs can arrive meanwhile."""

    def __init__(self, fail: BaseException | None = None) -> None:
        super().__init__(fail)
        self.open = asyncio.Event()
        self.entered = 0  # runs under way or done

    async def __call__(self, portal_id: int, jobs: list[int]) -> Outcomes:
        self.entered += 1
        await self.open.wait()
        return await super().__call__(portal_id, jobs)


async def _turns() -> None:
    """Let the loop run a few turns: enough for submitted jobs to reach their run."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_with_a_limit_jobs_arriving_during_a_run_go_together_in_the_next() -> None:
    run = Gated()
    batcher: Batcher[int, int] = Batcher(run, limit=1)
    first = asyncio.ensure_future(batcher.submit(1, 1))
    await _turns()  # the first run is under way, held at the gate
    later = [asyncio.ensure_future(batcher.submit(1, j)) for j in (2, 3)]
    await _turns()  # unlimited, these would have had a run of their own by now
    other_portal = asyncio.ensure_future(batcher.submit(2, 7))
    await _turns()
    assert run.entered == 2  # portal 1's first run and portal 2's; 2 and 3 wait
    run.open.set()
    assert await first == 2
    assert await asyncio.gather(*later) == [4, 6]
    assert await other_portal == 14
    assert sorted(run.calls) == [(1, [1]), (1, [2, 3]), (2, [7])]


async def test_without_a_limit_each_turn_starts_a_run_of_its_own() -> None:
    run = Gated()
    batcher: Batcher[int, int] = Batcher(run)
    first = asyncio.ensure_future(batcher.submit(1, 1))
    await _turns()
    second = asyncio.ensure_future(batcher.submit(1, 2))
    await _turns()
    assert run.entered == 2
    run.open.set()
    assert await asyncio.gather(first, second) == [2, 4]
    assert sorted(run.calls) == [(1, [1]), (1, [2])]  # two runs at once


class FailsJobOne(Gated):
    """A gated `run` that fails as a whole when its batch holds job 1."""

    async def __call__(self, portal_id: int, jobs: list[int]) -> Outcomes:
        if 1 in jobs:
            self.entered += 1
            await self.open.wait()
            raise Unavailable("down")
        return await super().__call__(portal_id, jobs)


async def test_a_failed_or_cancelled_run_still_lets_the_waiting_jobs_run() -> None:
    run = FailsJobOne()
    batcher: Batcher[int, int] = Batcher(run, limit=1)
    failing = asyncio.ensure_future(batcher.submit(1, 1))
    await _turns()
    waiting = asyncio.ensure_future(batcher.submit(1, 2))
    await _turns()
    run.open.set()
    with pytest.raises(Unavailable):
        await failing
    assert await waiting == 4

    gated = Gated()
    batcher = Batcher(gated, limit=1)
    cancelled = asyncio.ensure_future(batcher.submit(1, 1))
    await _turns()
    waiting = asyncio.ensure_future(batcher.submit(1, 2))
    await _turns()
    for task in list(batcher._running):  # the run itself is cancelled (shutdown)
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    gated.open.set()
    assert await waiting == 4
