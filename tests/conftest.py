"""Shared fixtures: a database URL per backend, and an opened store on it.

Every test that takes `database_url` or `store` runs once per backend: SQLite always,
PostgreSQL when COMMPREF_TEST_POSTGRES_URL is set (CI sets it). Each test gets a fresh
database.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from commpref.settings import Settings
from commpref.storage import open_store
from commpref.storage.store import Store

POSTGRES_URL = os.environ.get("COMMPREF_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/commpref.db"
        return
    from tests.support.postgres import fresh_database

    assert POSTGRES_URL is not None
    with fresh_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = open_store(Settings(database_url=database_url))
    await s.open()
    try:
        yield s
    finally:
        await s.close()
