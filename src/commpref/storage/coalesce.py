"""Subscriber reads that arrive together, answered by one query (the DataLoader pattern).

On PostgreSQL a single-address GET costs one pool checkout and one round trip, and most of
its CPU (the server's and PostgreSQL's) is that fixed cost, not the row. The reads that
start in the same turn of the event loop wait for the end of the turn and share one query;
under load that is most of them (issue 4, S3). A read never sees older data than it would
have alone: its query starts after the read was asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from commpref.domain.model import Subscriber
from commpref.errors import ValidationError

Fetch = Callable[[int, list[str]], Awaitable[dict[str, Subscriber]]]
_Waiter = tuple[Sequence[str], "asyncio.Future[dict[str, Subscriber]]"]


class ReadCoalescer:
    """`read(portal_id, emails)` as `fetch` answers it, one `fetch` per portal and loop turn.

    Waiters that asked for the same address get the same `Subscriber`: the results are
    read-only, as `Store.read_subscribers` says.
    """

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._waiting: dict[int, list[_Waiter]] = {}
        self._running: set[asyncio.Task[None]] = set()  # strong references until done

    async def read(self, portal_id: int, emails: Sequence[str]) -> dict[str, Subscriber]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Subscriber]] = loop.create_future()
        waiting = self._waiting.get(portal_id)
        if waiting is None:
            waiting = self._waiting[portal_id] = []
            loop.call_soon(self._dispatch, portal_id)
        waiting.append((emails, future))
        return await future

    def _dispatch(self, portal_id: int) -> None:
        self._start(portal_id, self._waiting.pop(portal_id))

    def _start(self, portal_id: int, batch: list[_Waiter]) -> None:
        task = asyncio.ensure_future(self._run(portal_id, batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, portal_id: int, batch: list[_Waiter]) -> None:
        emails = list(dict.fromkeys(e for wanted, _ in batch for e in wanted))
        try:
            found = await self._fetch(portal_id, emails)
        except BaseException as exc:
            if isinstance(exc, ValidationError) and len(batch) > 1:
                for waiter in batch:  # one caller's bad input must not fail the others
                    self._start(portal_id, [waiter])
                return
            for _, future in batch:
                if future.done():  # a caller that went away
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for wanted, future in batch:
            if not future.done():
                future.set_result({e: found[e] for e in wanted if e in found})
