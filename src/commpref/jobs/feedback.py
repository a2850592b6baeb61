"""Forgetting applied mailbox-feedback event ids (`services.feedback.prune`) once no
delivery that old is taken any more (`feedback_max_age_hours`): every process runs it,
and a delete of nothing costs one indexed look-up."""

from __future__ import annotations

import asyncio

from commpref.errors import Unavailable
from commpref.http import logs
from commpref.jobs.imports import pause
from commpref.services import feedback
from commpref.services.context import now_ms
from commpref.settings import Settings
from commpref.storage.store import Store

PRUNE_EVERY_S = 3600.0


class FeedbackPruner:
    def __init__(self, store: Store, settings: Settings, *, every_s: float = PRUNE_EVERY_S) -> None:
        self.store = store
        self.max_age_hours = settings.feedback_max_age_hours
        self.every_s = every_s

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await feedback.prune(
                    store=self.store, now=now_ms(), max_age_hours=self.max_age_hours
                )
            except Unavailable:
                pass  # the database is away: the next turn prunes
            except Exception as exc:  # never let the worker die
                logs.error("feedback pruning error", None, exc)
            await pause(stop, self.every_s)
