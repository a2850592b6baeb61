"""The PostgreSQL backend: asyncpg, one connection pool per process.

Several commpref processes may share one database. Start-up migrations run under a
session advisory lock; `mutate` serialises writers per address with row locks taken in
email order (see `subscribers_sql.CLAIM_SUBSCRIBERS`), so concurrent batches neither lose
updates nor deadlock. Lost connections surface as `errors.Unavailable`; the
pool replaces dead connections on the next acquire, so service resumes by itself.

`PostgresStore` is its parts put together, one per concept of the storage interface, each
with its SQL; here are its state, its lifecycle and what `/metrics` reads.
"""

from __future__ import annotations

import asyncio
from typing import Any

from commpref.storage.migrations import LATEST
from commpref.storage.postgres import connection as conn
from commpref.storage.postgres.admin import PostgresAdmin
from commpref.storage.postgres.auth_cache import AuthCache
from commpref.storage.postgres.coalesce import Batcher
from commpref.storage.postgres.console import PostgresConsole
from commpref.storage.postgres.feedback import PostgresFeedback
from commpref.storage.postgres.imports import PostgresImports
from commpref.storage.postgres.ledger import PostgresLedger
from commpref.storage.postgres.linkkeys import PostgresLinkKeys
from commpref.storage.postgres.mail import PostgresMail
from commpref.storage.postgres.ratelimits import PostgresRateLimits
from commpref.storage.postgres.subscribers import PostgresSubscribers
from commpref.storage.postgres.tallies import PostgresTallies
from commpref.storage.postgres.webhooks import PostgresWebhooks
from commpref.storage.tallies import RECOUNTED_AFTER

CLOSE_TIMEOUT = 10.0  # seconds


class PostgresStore(
    PostgresLedger,
    PostgresImports,
    PostgresMail,
    PostgresFeedback,
    PostgresSubscribers,
    PostgresAdmin,
    PostgresRateLimits,
    PostgresWebhooks,
    PostgresTallies,
    PostgresConsole,
    PostgresLinkKeys,
):
    kind = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool = None
        self._portal_secrets = {}  # never change: see `PostgresSubscribers._secret`
        self.auth_cache = AuthCache(url)
        # One read at a time per portal and process: the reads that arrive meanwhile go
        # together next, on one connection, instead of each turn's on a connection of its own.
        self._reads = Batcher(self._read_batch, limit=1)
        self._writes = Batcher(self._write_batch)

    # --- lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:
        if self._pool is None:
            self._pool, applied = await conn.create_pool(
                self.url, size=self.pool_size, init=self._init_connection
            )
            if RECOUNTED_AFTER & set(applied):  # an upgrade: count what is there
                try:
                    await self._recount_every_portal()
                except BaseException:
                    await self.close()
                    raise
            await self.auth_cache.start()

    async def _init_connection(self, con: Any) -> None:
        """Called for each new pool connection (tests hook in here to count statements)."""

    async def close(self) -> None:
        """Wait for in-flight calls to finish (bounded: a hung query must not hang shutdown)."""
        pool, self._pool = self._pool, None
        await self.auth_cache.stop()
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT)
            except TimeoutError:
                pool.terminate()

    async def ping(self) -> None:
        async with self._connection() as con:
            await con.fetchval("SELECT 1")

    async def schema_version(self) -> tuple[int, int]:
        async with self._connection() as con:
            applied = await con.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(applied), LATEST

    # --- observation ---------------------------------------------------------------------
    def pool_stats(self) -> dict[str, int]:
        pool = self._pool
        if pool is None:
            return {}
        size = pool.get_size()
        return {"size": size, "in_use": size - pool.get_idle_size(), "max": pool.get_max_size()}
