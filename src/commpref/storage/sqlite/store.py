"""The SQLite backend: one writer thread, a pool of reader threads, checkpoints off the
commit path (`connection`).

`SqliteStore` is its parts put together, one per concept of the storage interface, each
with the statements it runs; here are its lifecycle and what `/metrics` reads.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from commpref.errors import Unavailable
from commpref.storage import migrations
from commpref.storage.sqlite.admin import SqliteAdmin
from commpref.storage.sqlite.console import SqliteConsole
from commpref.storage.sqlite.feedback import SqliteFeedback
from commpref.storage.sqlite.imports import SqliteImports
from commpref.storage.sqlite.ledger import SqliteLedger
from commpref.storage.sqlite.linkkeys import SqliteLinkKeys
from commpref.storage.sqlite.mail import SqliteMail
from commpref.storage.sqlite.ratelimits import SqliteRateLimits
from commpref.storage.sqlite.subscribers import SqliteSubscribers
from commpref.storage.sqlite.tallies import SqliteTallies
from commpref.storage.sqlite.transactions import applied_version, one
from commpref.storage.sqlite.webhooks import SqliteWebhooks
from commpref.storage.tallies import RECOUNTED_AFTER


class SqliteStore(
    SqliteSubscribers,
    SqliteLedger,
    SqliteAdmin,
    SqliteRateLimits,
    SqliteImports,
    SqliteWebhooks,
    SqliteTallies,
    SqliteConsole,
    SqliteLinkKeys,
    SqliteFeedback,
    SqliteMail,
):
    kind = "sqlite"

    # --- lifecycle ---------------------------------------------------------------------
    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader_pool = ThreadPoolExecutor(self._reader_count, "sqlite-reader")
        try:
            await asyncio.get_running_loop().run_in_executor(self._writer_pool, self._open_writer)
            if RECOUNTED_AFTER & self.migrated_now:  # an upgrade: count what is there
                await self._recount_every_portal()
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop,
                args=(self._connect(),),
                name="sqlite-checkpointer",
                daemon=True,
            )
            self._checkpointer.start()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.join()
        if self._reader_pool is not None:
            self._reader_pool.shutdown(wait=True)
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        if self._writer_pool is not None:
            # Queued behind any in-flight write, so those commit first.
            self._writer_pool.submit(self._close_writer).result()
            self._writer_pool.shutdown(wait=True)

    async def ping(self) -> None:
        try:
            await self._read(lambda c: one(c, "SELECT 1 FROM schema_migrations LIMIT 1"))
        except (sqlite3.Error, RuntimeError, Unavailable) as e:
            raise Unavailable("database unavailable") from e

    async def schema_version(self) -> tuple[int, int]:
        return await self._read(applied_version), migrations.LATEST

    async def pragma(self, name: str) -> Any:
        """A PRAGMA's value as the writer connection sees it (diagnostics and tests)."""
        if not name.replace("_", "").isalpha():
            raise ValueError(f"not a pragma name: {name!r}")
        return await self._write(lambda c: one(c, f"PRAGMA {name}")[0])

    # --- observation ---------------------------------------------------------------------
    def pool_stats(self) -> dict[str, int]:
        with self._readers_lock:
            readers = len(self._readers)
        return {"size": readers + 1, "max": self._reader_count + 1}
