"""The import worker: claims PENDING import jobs (or ones whose worker died) and runs them
(`services.imports.run`)."""

from __future__ import annotations

import asyncio
import contextlib

from commpref.domain.imports import ImportStatus
from commpref.errors import Unavailable
from commpref.http import logs
from commpref.services import imports
from commpref.services.context import now_ms
from commpref.settings import Settings
from commpref.storage.store import Store


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake at once when asked to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class ImportWorker:
    def __init__(self, store: Store, settings: Settings, *, owner: str) -> None:
        self.store = store
        self.owner = owner
        self.poll_s = settings.job_poll_ms / 1000

    async def run_once(self) -> bool:
        """Claim and run one job; False when there was none."""
        now = now_ms()
        job = await self.store.claim_import(
            owner=self.owner, now=now, lease_until=now + imports.LEASE_MS
        )
        if job is None:
            return False
        try:
            await imports.run(store=self.store, job=job, owner=self.owner)
        except Unavailable:
            raise  # the database is away: the lease lapses and the job resumes later
        except Exception as exc:
            logs.error("import job failed", job.correlation_id, exc)
            await self.store.finish_import(
                job.id, owner=self.owner, status=ImportStatus.FAILED, error=repr(exc),
                now=now_ms(),
            )  # fmt: skip
        return True

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if await self.run_once():
                    continue
            except Unavailable:
                pass
            except Exception as exc:  # never let the worker die
                logs.error("import worker error", None, exc)
            await pause(stop, self.poll_s)
