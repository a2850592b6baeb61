"""The preloaded databases: one portal, 10 active definitions, N known subscribers.

Building one goes around the API on purpose (a bench tool may): the portal, its definitions
and a token are made through the admin services, then the subscribers and one ledger entry
each are written straight into the tables in large transactions, their states packed with
`commpref.storage.codec` exactly as the server packs them.

The SQLite file is the cache: `bench/.cache/<key>.db`, keyed by the parameters and by a
hash of the files that decide what is stored (codec, migrations, this file), so a second run
only copies it. PostgreSQL is loaded from that same file with binary COPY.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import commpref.storage.codec
import commpref.storage.migrations
import commpref.storage.migrations_later
from commpref.domain.model import Change, ChangeKind, Status, TypeStatus
from commpref.domain.scopes import ALL_SCOPES
from commpref.services import admin
from commpref.settings import Settings
from commpref.storage import codec, open_store
from commpref.storage.sqlite.subscribers import SQL_NEXT_EVENT_ID
from commpref.storage.store import Store

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
CREATED_DEFINITIONS = 7  # plus HubSpot's 3 defaults: 10 active definitions
CHUNK = 200_000  # rows per transaction
KNOWN_DOMAIN = "known.example.com"
PRELOAD_SOURCE = "Import"
PRELOAD_TIME = 1_700_000_000_000  # a fixed epoch-ms so cached files are reproducible


def known_email(i: int) -> str:
    """The i-th preloaded address; bench/load.lua builds the same names."""
    return f"k{i:08d}@{KNOWN_DOMAIN}"


@dataclass(frozen=True)
class Setup:
    """What the load generators need to know about a preloaded database."""

    portal_id: int
    definitions: list[int]
    token: str
    subscribers: int


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for module in (
        commpref.storage.codec,
        commpref.storage.migrations,
        commpref.storage.migrations_later,
    ):
        digest.update(Path(str(module.__file__)).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:12]


def cache_path(subscribers: int) -> Path:
    return CACHE_DIR / f"sqlite-n{subscribers}-d10-{_fingerprint()}.db"


# --- the states -------------------------------------------------------------------------
def _variants(definitions: list[int]) -> list[tuple[bytes, bytes | str]]:
    """Ten (state, ledger changes) pairs: subscriber i is subscribed to three of the ten
    definitions, chosen by i % 10, as if imported once."""
    out: list[tuple[bytes, bytes | str]] = []
    for v in range(10):
        chosen = [definitions[(v + k) % len(definitions)] for k in (0, 3, 7)]
        types = {d: TypeStatus(Status.SUBSCRIBED, PRELOAD_SOURCE, PRELOAD_TIME) for d in chosen}
        changes = tuple(
            Change(ChangeKind.TYPE, d, Status.NOT_SPECIFIED, Status.SUBSCRIBED) for d in chosen
        )
        out.append((codec.encode(types, {}), codec.encode_changes(changes)))
    return out


# --- SQLite -------------------------------------------------------------------------------
async def _create_portal(store: Store) -> tuple[int, list[int], str]:
    """The bench portal, 7 more definitions and an all-scopes token."""
    portal = await admin.create_portal(store=store, name="Bench")
    for k in range(CREATED_DEFINITIONS):
        await admin.create_definition(
            store=store,
            portal_id=portal.id,
            name=f"Bench type {k + 1}",
            description=f"Benchmark subscription type {k + 1}",
            purpose="Marketing",
            communication_method="Email",
        )
    _, secret = await admin.create_token(store=store, portal_id=portal.id, scopes=ALL_SCOPES)
    ctx = await store.portal_context(portal.id)
    definitions = [d.id for d in ctx.definitions if d.is_active]
    if len(definitions) != 3 + CREATED_DEFINITIONS:
        raise RuntimeError(f"expected 10 active definitions, found {len(definitions)}")
    return portal.id, definitions, secret


def _sqlite_rows(
    portal_id: int, definitions: list[int], start: int, stop: int, first_event: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows of known addresses start..stop: each one's ledger entry is `first_event + i`,
    which its subscriber row names as its newest (the ledger chain of migration 4)."""
    variants = _variants(definitions)
    subscribers = []
    events = []
    for i in range(start, stop):
        email = known_email(i)
        state, changes = variants[i % 10]
        event_id = first_event + i
        subscribers.append((portal_id, email, PRELOAD_TIME, state, event_id))
        events.append(
            (event_id, portal_id, email, PRELOAD_TIME, PRELOAD_SOURCE, "import", "preload",
             changes)
        )  # fmt: skip
    return subscribers, events


def build_sqlite(subscribers: int, *, log: Any = print) -> tuple[Path, Setup]:
    """The cached SQLite file for `subscribers` known addresses (built when missing)."""
    path = cache_path(subscribers)
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, Setup(**json.loads(meta.read_text()))
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for stale in CACHE_DIR.glob(f"sqlite-n{subscribers}-d10-*"):
        stale.unlink()
    tmp = path.with_suffix(".building")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    log(f"preload: building {path.name} ({subscribers:,} subscribers) …")
    t0 = time.monotonic()

    async def schema_and_portal() -> tuple[int, list[int], str]:
        store = open_store(Settings(database_url=f"sqlite:///{tmp}"))
        await store.open()
        try:
            return await _create_portal(store)
        finally:
            await store.close()

    portal_id, definitions, token = asyncio.run(schema_and_portal())
    con = sqlite3.connect(tmp, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous = OFF")
        con.execute("PRAGMA cache_size = -262144")
        first_event = con.execute(SQL_NEXT_EVENT_ID).fetchone()[0]
        for start in range(0, subscribers, CHUNK):
            subs, events = _sqlite_rows(
                portal_id, definitions, start, min(start + CHUNK, subscribers), first_event
            )
            con.execute("BEGIN")
            con.executemany(
                "INSERT INTO subscribers (portal_id, email, created_at, state, last_event) "
                "VALUES (?, ?, ?, ?, ?)",
                subs,
            )
            con.executemany(
                "INSERT INTO events (id, portal_id, email, at, source, actor, correlation_id, "
                "changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                events,
            )
            con.execute("COMMIT")
        con.execute("ANALYZE")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    tmp.rename(path)
    setup = Setup(portal_id, definitions, token, subscribers)
    meta.write_text(json.dumps(asdict(setup)))
    log(f"preload: built in {time.monotonic() - t0:.1f} s, {path.stat().st_size / 2**20:.0f} MiB")
    return path, setup


def copy_sqlite(source: Path, target: Path) -> None:
    """A working copy for one run: scenarios write to it, the cache stays untouched."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for p in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        p.unlink(missing_ok=True)
    shutil.copyfile(source, target)
    # On disk before the server starts: otherwise the kernel writes the copy back during the
    # first scenario, beside the server's own fsyncs (1.7 GiB for the 10M file).
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_sqlite(target: Path) -> None:
    for p in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        p.unlink(missing_ok=True)


# --- PostgreSQL ---------------------------------------------------------------------------
PG_SOCKET_DIR = Path("/var/run/postgresql")  # Debian's


def default_postgres_url() -> str:
    """PostgreSQL's Unix socket when this machine has one: a server on the database's host
    connects that way, and over TCP loopback each round trip costs both sides more CPU
    (S3 measured ~25 % more GETs/s through the socket). TCP on 127.0.0.1 otherwise."""
    if (PG_SOCKET_DIR / ".s.PGSQL.5432").exists():
        return f"postgresql://postgres@/test?host={PG_SOCKET_DIR}"
    return "postgresql://postgres@127.0.0.1:5432/test"


def _rows(source: Path, sql: str) -> Iterator[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{source}?immutable=1", uri=True)  # leaves the cache as it is
    try:
        yield from con.execute(sql)
    finally:
        con.close()


async def load_postgres(
    admin_url: str, database_url: str, name: str, source: Path, setup: Setup, *, log: Any = print
) -> Setup:
    """A fresh database `name` with the same contents as the SQLite file `source`."""
    import asyncpg

    t0 = time.monotonic()
    con = await asyncpg.connect(admin_url)
    try:
        await con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await con.execute(f'CREATE DATABASE "{name}"')
    finally:
        await con.close()
    store = open_store(Settings(database_url=database_url))
    await store.open()
    try:
        portal_id, definitions, token = await _create_portal(store)
    finally:
        await store.close()
    if portal_id != setup.portal_id or definitions != setup.definitions:
        raise RuntimeError("PostgreSQL ids differ from the SQLite preload's; cannot reuse it")
    con = await asyncpg.connect(database_url)
    try:
        await con.copy_records_to_table(
            "subscribers",
            records=_rows(source, "SELECT portal_id, email, created_at, state FROM subscribers"),
            columns=["portal_id", "email", "created_at", "state"],
        )
        await con.copy_records_to_table(
            "events",
            records=_rows(
                source,
                "SELECT portal_id, email, at, source, actor, correlation_id, changes "
                "FROM events ORDER BY id",
            ),
            columns=["portal_id", "email", "at", "source", "actor", "correlation_id", "changes"],
        )
        await con.execute("VACUUM ANALYZE subscribers")
        await con.execute("VACUUM ANALYZE events")
        try:  # the load's dirty buffers written now, not by a checkpoint during a scenario
            await con.execute("CHECKPOINT")
        except asyncpg.InsufficientPrivilegeError:
            log("preload: no privilege to CHECKPOINT; the load may still be written back")
    finally:
        await con.close()
    log(f"preload: PostgreSQL {name} loaded in {time.monotonic() - t0:.1f} s")
    return Setup(portal_id, definitions, token, setup.subscribers)


async def drop_postgres(admin_url: str, name: str) -> None:
    import asyncpg

    con = await asyncpg.connect(admin_url)
    try:
        await con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await con.close()
