"""Fixtures of the PostgreSQL-only integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from commpref.storage.postgres.store import PostgresStore
from tests.conftest import POSTGRES_URL
from tests.support.postgres import fresh_database


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of this test's own."""
    assert POSTGRES_URL is not None
    with fresh_database(POSTGRES_URL) as u:
        yield u


@pytest.fixture
async def pg_store(url: str) -> AsyncIterator[PostgresStore]:
    """An open PostgresStore on `url`."""
    s = PostgresStore(url, pool_size=3)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
