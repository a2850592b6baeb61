"""Bounded concurrency per process (docs/architecture.md "Operations").

At most `limit` API requests are worked on at once; up to `queue` more wait at most `wait_s`
for a slot, first come first served; any other request is refused at once with 503 and
`Retry-After` rather than joining an unbounded queue. A refused request's body is never read.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from commpref.errors import Unavailable

RETRY_AFTER_S = 1
BUSY_MESSAGE = "The server is busy. Retry after a short wait."


class Gate:
    def __init__(self, *, limit: int, queue: int, wait_s: float) -> None:
        self.limit = max(1, limit)
        self.queue = max(0, queue)
        self.wait_s = wait_s
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.on_refuse: Callable[[], None] | None = None  # /metrics counts refusals

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        """Take a slot, or raise `Unavailable` (503) when none frees up in time."""
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return
        if len(self._waiters) >= self.queue or self.wait_s <= 0:
            raise self._busy()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.wait_s):
                await waiter
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return  # the slot was handed over just as the wait ran out: keep it
            self._remove(waiter)
            raise self._busy() from None
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over, but the request is gone: pass it on
            else:
                self._remove(waiter)
            raise

    def release(self) -> None:
        """Give the slot to the longest waiter, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on; `active` stays
                return
        self.active -= 1

    def _remove(self, waiter: asyncio.Future[None]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)

    def _busy(self) -> Unavailable:
        if self.on_refuse is not None:
            self.on_refuse()
        return Unavailable(BUSY_MESSAGE, headers={"Retry-After": str(RETRY_AFTER_S)})
