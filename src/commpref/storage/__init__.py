"""Storage backends behind one interface (`store.Store`), chosen by the database URL."""

from __future__ import annotations

from commpref.settings import Settings
from commpref.storage.store import Store


def open_store(settings: Settings) -> Store:
    """The backend for `settings.database_url` (not yet opened: call `await store.open()`)."""
    url = settings.database_url
    if url.startswith("sqlite:"):
        from commpref.storage.sqlite.store import SqliteStore

        return SqliteStore(url, synchronous=settings.sqlite_synchronous)
    if url.startswith(("postgresql:", "postgres:")):
        from commpref.storage.postgres.store import PostgresStore

        return PostgresStore(url, pool_size=settings.db_pool_size)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")
