"""A per-process cache of `authenticate` for PostgreSQL, dropped whenever a table it reads
changes.

Every request authenticates, and on PostgreSQL that was one round trip of the two a single
status read makes. Tokens, portals, business units and definitions change rarely, and each
change fires `NOTIFY commpref_config` when it commits (triggers of migration 5), so each
process keeps what it looked up until told otherwise. One connection per process listens.
Without it (not yet connected, or lost) nothing is cached, so a revoked token never
outlives its revocation by more than the notification's delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Any

import asyncpg

from commpref.domain.model import PortalContext, Token
from commpref.storage.postgres import connection as conn

log = logging.getLogger(__name__)

CHANNEL = "commpref_config"
APPLICATION_NAME = "commpref-listener"  # how it shows in pg_stat_activity
MAX_ENTRIES = 10_000  # tokens per process; past it the cache starts over
MAX_AGE_S = 60.0  # a safety net only: notifications are what keep entries right
RETRY_S = 1.0  # between attempts to (re)open the listening connection
PROBE_TIMEOUT_S = 5.0  # for a notification of our own to come back

Found = tuple[Token, PortalContext]


class AuthCache:
    def __init__(self, url: str) -> None:
        self.url = url
        self.generation = 0  # bumped by every change: a look-up older than it is not kept
        self._entries: dict[str, tuple[float, Found]] = {}
        self._listener: Any = None
        self._task: asyncio.Task[None] | None = None

    @property
    def live(self) -> bool:
        return self._listener is not None

    def get(self, secret_hash: str) -> Found | None:
        entry = self._entries.get(secret_hash) if self._listener is not None else None
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, secret_hash: str, generation: int, found: Found) -> None:
        """Keep a look-up that started at `generation`, unless something changed since."""
        if generation != self.generation or self._listener is None:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[secret_hash] = (time.monotonic() + MAX_AGE_S, found)

    def changed(self, *_: Any) -> None:
        self.generation += 1
        self._entries.clear()

    # --- the listening connection ---------------------------------------------------------
    async def start(self) -> None:
        """Listen now if the database answers, else keep trying in the background (a
        database that does not deliver notifications leaves the cache off)."""
        if not await self._listen():
            self._task = asyncio.create_task(self._reconnect())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        listener, self._listener = self._listener, None
        self.changed()
        if listener is not None:
            listener.terminate()  # no round trip: the process is stopping

    async def _listen(self) -> bool:
        """Open the listening connection; True once notifications are seen to arrive."""
        try:
            listener = await asyncpg.connect(
                self.url,
                timeout=conn.CONNECT_TIMEOUT,
                server_settings={"application_name": APPLICATION_NAME},
            )
        except (*conn.CONNECTION_ERRORS, asyncpg.PostgresError) as e:
            log.warning("auth cache off: cannot listen for changes: %s", e)
            return False
        probe, arrived = secrets.token_hex(8), asyncio.Event()

        def notified(*args: Any) -> None:
            self.changed()
            if args[-1] == probe:
                arrived.set()

        try:
            await listener.add_listener(CHANNEL, notified)
            await listener.execute(f"NOTIFY {CHANNEL}, '{probe}'")
            await asyncio.wait_for(arrived.wait(), PROBE_TIMEOUT_S)
        except TimeoutError:
            # e.g. PgBouncer in transaction mode, which does not carry LISTEN: caching
            # would never be told of a change, so it stays off for good.
            log.warning(
                "auth cache off: notifications do not arrive on %s", conn.describe(self.url)
            )
            listener.terminate()
            return True
        except (*conn.CONNECTION_ERRORS, asyncpg.PostgresError) as e:
            log.warning("auth cache off: cannot listen for changes: %s", e)
            listener.terminate()
            return False
        listener.add_termination_listener(self._lost)
        self.changed()  # whatever changed before listening is unknown: start empty
        self._listener = listener
        return True

    def _lost(self, _: Any) -> None:
        if self._listener is None:
            return
        self._listener = None
        self.changed()
        log.warning("auth cache off: the listening connection was lost")
        self._task = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        while True:
            if await self._listen():
                return
            await asyncio.sleep(RETRY_S)
