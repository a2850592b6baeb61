"""Requests that arrive together, served by one round of database work.

On PostgreSQL most of the cost of a single-address request, the server's and PostgreSQL's,
is fixed: a pool checkout and round trips, one more fsync for a write. Jobs of one portal
that start in the same turn of the event loop wait for the end of that turn and are run
together by one call of `run`: reads as one query (the DataLoader pattern), writes as one
transaction (group commit, as SQLite's writer does). Under load that is most of them
(benchmarks S3 and S4). A job still sees everything acknowledged before it started, since
the shared work starts after it was asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

J = TypeVar("J")  # a job
R = TypeVar("R")  # its result

# One outcome per job, in order: (True, result) or (False, the exception it raised).
Outcomes = list[tuple[bool, Any]]
Run = Callable[[int, list[J]], Awaitable[Outcomes]]


class Batcher(Generic[J, R]):
    """`submit(portal_id, job)` answered by `run(portal_id, jobs)`: one call of `run` per
    portal and loop turn. `run` returns one outcome per job; an exception it raises itself
    fails every job of its batch.

    With `limit`, at most that many runs per portal are under way at once: jobs submitted
    meanwhile wait and go together in the next run once one ends (as SQLite's writer does).
    Under load that makes fewer, larger batches on fewer database connections."""

    def __init__(self, run: Run[J], *, limit: int | None = None) -> None:
        self._run = run
        self._limit = limit
        self._waiting: dict[int, list[tuple[J, asyncio.Future[R]]]] = {}
        self._scheduled: set[int] = set()  # portals with a `_dispatch` to come
        self._under_way: dict[int, int] = {}  # runs per portal
        self._running: set[asyncio.Task[None]] = set()  # strong references until done

    async def submit(self, portal_id: int, job: J) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(portal_id, []).append((job, future))
        self._schedule(portal_id)
        return await future

    def _schedule(self, portal_id: int) -> None:
        if portal_id in self._scheduled or portal_id not in self._waiting:
            return
        if self._limit is not None and self._under_way.get(portal_id, 0) >= self._limit:
            return  # the end of a run schedules the next
        self._scheduled.add(portal_id)
        asyncio.get_running_loop().call_soon(self._dispatch, portal_id)

    def _dispatch(self, portal_id: int) -> None:
        self._scheduled.discard(portal_id)
        self._under_way[portal_id] = self._under_way.get(portal_id, 0) + 1
        task = asyncio.ensure_future(self._serve(portal_id, self._waiting.pop(portal_id)))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _serve(self, portal_id: int, batch: list[tuple[J, asyncio.Future[R]]]) -> None:
        try:
            outcomes = await self._run(portal_id, [job for job, _ in batch])
        except Exception as exc:
            outcomes = [(False, exc)] * len(batch)
        except BaseException as exc:  # cancelled: so are its callers
            _settle(batch, [(False, exc)] * len(batch))
            raise
        finally:
            left = self._under_way.pop(portal_id) - 1
            if left:
                self._under_way[portal_id] = left
            self._schedule(portal_id)
        _settle(batch, outcomes)


def _settle(batch: list[tuple[Any, asyncio.Future[Any]]], outcomes: Outcomes) -> None:
    for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
        if future.done():  # a caller that went away
            continue
        if ok:
            future.set_result(value)
        elif isinstance(value, asyncio.CancelledError):
            future.cancel()
        else:
            future.set_exception(value)


async def one_by_one(run: Run[J], portal_id: int, jobs: list[J]) -> Outcomes:
    """`run` for each job alone, concurrently: after a batch failed, so that one job's bad
    input or conflict fails that job only."""
    answers = await asyncio.gather(*(run(portal_id, [job]) for job in jobs), return_exceptions=True)
    return [(False, a) if isinstance(a, BaseException) else a[0] for a in answers]
