"""What every part of the SQLite backend runs on: one writer thread, a pool of reader
threads, checkpoints off the commit path.

SQLite allows one writer at a time, so every write runs on one dedicated thread that owns
the only writing connection (docs/architecture.md "Storage"); in WAL mode readers use their own
connections and never wait for it. The writer never checkpoints (wal_autocheckpoint=0): a
background thread runs PASSIVE checkpoints, so a commit pays only for its own WAL fsync.
The statements themselves live with the part of the store that runs them (`subscribers`,
`ledger`, `admin`, `ratelimits`, `imports`, `webhooks`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from commpref.domain.model import PortalContext, Token
from commpref.errors import Unavailable
from commpref.storage.sqlite.transactions import group_transaction, migrate, one
from commpref.storage.store import Store

R = TypeVar("R")
Conn = sqlite3.Connection
log = logging.getLogger(__name__)

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
CACHE_KIB = 64 * 1024  # the writer's page cache: random writes want interior pages hot
READER_CACHE_KIB = 8 * 1024  # readers lean on the OS page cache; each connection has its own
BUSY_TIMEOUT_S = 30.0
# Under steady writes a PASSIVE checkpoint never catches up with the writer, so SQLite never
# starts the WAL over and it grows without bound. Past RESTART_WAL_FRAMES the checkpointer
# repeats its passes until they nearly catch up, then the writer finishes the job between
# two transactions (RESTART, copying at most RESTART_LEFT_FRAMES) and the next transaction
# rewrites the WAL from its start.
RESTART_WAL_FRAMES = 65536  # 256 MiB: a restart briefly stalls writes, so not too often
RESTART_LEFT_FRAMES = 512  # 2 MiB: what the writer may have to copy itself
WAL_SIZE_LIMIT = 512 * 2**20  # a restarted WAL keeps its file (no re-extending) up to this
RESTART_BUSY_MS = 20  # the longest a restart may wait for readers (writers wait meanwhile)


def database_path(url: str) -> Path:
    """`sqlite:///rel/path.db` (relative to the working directory) or `sqlite:////abs.db`."""
    prefix = "sqlite:///"
    rest = url[len(prefix) :].split("?", 1)[0] if url.startswith(prefix) else ""
    if not rest or rest == ":memory:":  # several connections must share one file
        raise ValueError(f"unsupported SQLite URL {url!r}: use sqlite:///PATH")
    return Path(rest).absolute()


def _enable_wal(conn: Conn) -> None:
    """Switch to WAL (persistent: a no-op once done). The switch needs an exclusive lock, and
    SQLite skips the busy handler where waiting could deadlock (several processes starting
    on a new file), so retry here."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            mode = str(one(conn, "PRAGMA journal_mode = WAL")[0]).lower()
            break
        except sqlite3.OperationalError as e:
            if e.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))
    if mode != "wal":
        raise RuntimeError(f"cannot enable WAL (journal_mode={mode})")


def _applied(conn: Conn) -> set[int]:
    """The versions of the migrations a database holds."""
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    if one(conn, sql) is None:
        return set()
    return {version for (version,) in conn.execute("SELECT version FROM schema_migrations")}


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.cancelled():  # the caller gave up; the write itself stands or fell as a whole
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class SqliteConnections(Store):
    """The threads and connections every part of `SqliteStore` runs its statements on:
    `_write` on the writer thread (group commit), `_read` on a reader thread, `_read_now` on
    the calling one."""

    def __init__(
        self,
        url: str,
        *,
        synchronous: str = "FULL",
        readers: int = 4,
        checkpoint_interval: float = 1.0,
        restart_wal_frames: int = RESTART_WAL_FRAMES,
    ) -> None:
        self.path = database_path(url)
        self.synchronous = synchronous.upper()
        if self.synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        self._reader_count = readers
        self._checkpoint_interval = checkpoint_interval
        self._restart_wal_frames = restart_wal_frames
        self.wal_restarts = 0  # diagnostics: times the writer started the WAL over
        self._writer_pool: ThreadPoolExecutor | None = None
        self._reader_pool: ThreadPoolExecutor | None = None
        self._writer: Conn | None = None
        self._readers: list[Conn] = []
        self._readers_lock = threading.Lock()
        self._local = threading.local()
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._closed = False
        self._inline: Conn | None = None
        self._pending: list[tuple[Callable[[Conn], Any], asyncio.Future[Any], Any]] = []
        self._pending_lock = threading.Lock()
        self._drain_scheduled = False
        self._restart_wal = threading.Event()
        self.migrated_now: set[int] = set()  # migrations this store's opening applied
        # What `authenticate` found, by the config version it was read at (`admin`).
        self._auth_cache: dict[str, tuple[int, tuple[Token, PortalContext]]] = {}

    # --- threads and connections ------------------------------------------------------
    def _connect(self, *, read_only: bool = False) -> Conn:
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_S,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # used by one thread, but closed by the closing one
            cached_statements=256,
        )
        conn.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB if read_only else CACHE_KIB}")
        conn.execute("PRAGMA foreign_keys = ON")
        if read_only:
            conn.execute("PRAGMA query_only = ON")
        return conn

    def _open_writer(self) -> None:
        conn = self._writer = self._connect()
        _enable_wal(conn)
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpointer thread does it
        # Each group-commit job runs in a SAVEPOINT, whose journal keeps the first version of
        # every page the job changes. Past 64 KiB SQLite spills that journal to a temporary
        # file: a write syscall per page, a noticeable part of a batch opt-out's CPU.
        # In memory it costs a few MiB at most (the pages of one job), and no crash needs it.
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        before = _applied(conn)
        migrate(conn)
        # Another process starting at the same time may be the one that applied some of
        # them: what depends on this (`SqliteStore.open`) is safe to do twice.
        self.migrated_now = _applied(conn) - before

    def _close_writer(self) -> None:
        if self._writer is not None:
            try:
                # Other processes may still be writing: wait briefly, never hold up shutdown.
                self._writer.execute("PRAGMA busy_timeout = 1000")
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.Error as e:  # the next start checkpoints instead
                log.warning("sqlite final checkpoint failed: %s", e)
            finally:
                self._writer.close()
                self._writer = None

    def _reader(self) -> Conn:
        conn: Conn | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect(read_only=True)
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _checkpoint_loop(self, conn: Conn) -> None:
        db = os.open(self.path, os.O_RDONLY)
        try:
            while not self._stop.wait(self._checkpoint_interval):
                try:
                    self._checkpoint(conn, db)
                except (sqlite3.Error, OSError) as e:  # retried on the next tick
                    log.warning("sqlite checkpoint failed: %s", e)
        finally:
            os.close(db)
            conn.close()

    def _checkpoint(self, conn: Conn, db: int) -> None:
        _, frames, copied = one(conn, "PRAGMA wal_checkpoint(PASSIVE)")
        while frames >= self._restart_wal_frames and not self._stop.is_set():
            if frames - copied <= RESTART_LEFT_FRAMES:
                # SQLite syncs the database file only when a pass copies the whole WAL: sync
                # what the passes wrote here, not in the writer's RESTART.
                os.fsync(db)
                self._restart_wal.set()  # done by the writer after its next commit
                return
            _, frames, copied = one(conn, "PRAGMA wal_checkpoint(PASSIVE)")

    async def _write(self, fn: Callable[[Conn], R]) -> R:
        """Run `fn` atomically on the writer thread; acknowledged once its commit is durable.

        Group commit: writes that queue up while the writer is busy run together in the next
        transaction, each inside its own SAVEPOINT, so a failing one is rolled back alone
        while one fsync makes all the others durable.
        """
        if self._closed or self._writer_pool is None:
            raise Unavailable("database unavailable")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        with self._pending_lock:
            self._pending.append((fn, future, loop))
            schedule = not self._drain_scheduled
            self._drain_scheduled = True
        if schedule:
            self._writer_pool.submit(self._drain)
        return await future

    def _drain(self) -> None:
        with self._pending_lock:
            jobs, self._pending = self._pending, []
            self._drain_scheduled = False
        if self._writer is None:
            outcomes: list[tuple[bool, Any]] = [(False, Unavailable("database unavailable"))]
            outcomes *= len(jobs)
        else:
            outcomes = group_transaction(self._writer, [fn for fn, _, _ in jobs])
        for (_, future, loop), outcome in zip(jobs, outcomes, strict=True):
            loop.call_soon_threadsafe(_settle, future, outcome)
        if self._writer is not None and self._restart_wal.is_set():
            self._restart_wal.clear()
            self._restart_checkpoint(self._writer)

    def _restart_checkpoint(self, conn: Conn) -> None:
        """Checkpoint what is left and make the next transaction start the WAL over."""
        try:
            conn.execute(f"PRAGMA busy_timeout = {RESTART_BUSY_MS}")
            busy, _, _ = one(conn, "PRAGMA wal_checkpoint(RESTART)")
            self.wal_restarts += not busy
        except sqlite3.Error as e:  # a reader held on; the checkpointer will ask again
            log.warning("sqlite restart checkpoint failed: %s", e)
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")

    def _read_now(self, fn: Callable[[Conn], R]) -> R:
        """Run a small point read on the calling (event-loop) thread.

        WAL readers never wait for the writer, and these reads are short: the two thread
        hops of `_read` would cost more than the read itself and be the main cost of a
        single GET. Anything that may read many rows goes through `_read`.
        """
        if self._closed:
            raise Unavailable("database unavailable")
        if self._inline is None:
            self._inline = self._connect(read_only=True)
        return fn(self._inline)

    async def _read(self, fn: Callable[[Conn], R]) -> R:
        if self._closed or self._reader_pool is None:
            raise Unavailable("database unavailable")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_pool, lambda: fn(self._reader()))
