"""The tally folder: every few seconds, works out the tally deltas writers appended and
moves them into the totals (`Store.fold_tallies`), so that the pending ones a read adds up
stay few and each distinct state and change list is worked out once for many writes."""

from __future__ import annotations

import asyncio

from commpref.errors import Unavailable
from commpref.http import logs
from commpref.jobs.imports import pause
from commpref.storage.store import Store

FOLD_EVERY_S = 2.0


class TallyFolder:
    def __init__(self, store: Store, *, every_s: float = FOLD_EVERY_S) -> None:
        self.store = store
        self.every_s = every_s

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.store.fold_tallies()
            except Unavailable:
                pass  # the database is away: the deltas wait for the next turn
            except Exception as exc:  # never let the worker die
                logs.error("tally folder error", None, exc)
            await pause(stop, self.every_s)
