"""Forgetting what is kept only for a while, every hour in every process (a delete of
nothing costs one indexed look-up):

- applied mailbox-feedback event ids, once no delivery that old is taken any more
  (`services.feedback.prune`, `feedback_max_age_hours`);
- sign-ups and their emails, `signup_keep_days` after their link expired
  (`services.signups.prune`).
"""

from __future__ import annotations

import asyncio

from commpref.errors import Unavailable
from commpref.http import logs
from commpref.jobs.imports import pause
from commpref.services import feedback, signups
from commpref.services.context import now_ms
from commpref.settings import Settings
from commpref.storage.store import Store

PRUNE_EVERY_S = 3600.0


class Pruner:
    def __init__(self, store: Store, settings: Settings, *, every_s: float = PRUNE_EVERY_S) -> None:
        self.store = store
        self.settings = settings
        self.every_s = every_s

    async def prune(self) -> None:
        now, s = now_ms(), self.settings
        await feedback.prune(store=self.store, now=now, max_age_hours=s.feedback_max_age_hours)
        await signups.prune(store=self.store, now=now, keep_days=s.signup_keep_days)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.prune()
            except Unavailable:
                pass  # the database is away: the next turn prunes
            except Exception as exc:  # never let the worker die
                logs.error("pruning error", None, exc)
            await pause(stop, self.every_s)
