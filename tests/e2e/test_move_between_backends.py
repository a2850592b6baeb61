"""Moving a portal between databases with the CLI alone: SQLite export → PostgreSQL import,
and back. Each move reproduces the export, the stored state and the erasure suppressions
(the target portal is created with the source's erasure key)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from commpref.domain import erasure
from commpref.domain.model import Status
from commpref.settings import Settings
from commpref.storage import open_store
from tests.conftest import POSTGRES_URL
from tests.support.imports import export_rows, unexplained
from tests.support.postgres import fresh_database
from tests.support.server import COMMPREF

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs COMMPREF_TEST_POSTGRES_URL"),
]

ERASED, KEPT = "erased@example.com", "kept@example.com"


def cli(url: str, *args: str) -> str:
    done = subprocess.run(
        [COMMPREF, *args, "--database-url", url], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def new_portal(url: str, name: str, key: str | None = None) -> int:
    cli(url, "migrate")
    portal_id = cli(url, "portal", "create", "--name", name,
                    *(["--erasure-key", key] if key else []))  # fmt: skip
    cli(url, "definition", "create", "--portal", portal_id, "--name", "Product news",
        "--description", "Launches")  # fmt: skip
    return int(portal_id)


async def check(url: str, portal_id: int, export: bytes, fmt: str) -> list[dict[str, str]]:
    """The export as comparable rows; the ledger explains the state; the erased address reads
    as suppressed."""
    store = open_store(Settings(database_url=url))
    await store.open()
    try:
        ctx = await store.portal_context(portal_id)
        assert await unexplained(store, ctx) == []
        erased = (await store.read_subscribers(portal_id, [ERASED]))[ERASED]
        assert erased.wide[0].source == erasure.ERASURE_SOURCE
        assert {t.status for t in erased.types.values()} == {Status.UNSUBSCRIBED}
        return export_rows(export, fmt, ctx)
    finally:
        await store.close()


def move(source_url: str, source_id: int, target_url: str, tmp: Path, fmt: str) -> int:
    """Export with the CLI, create the target portal with the source's erasure key, import."""
    path = tmp / f"move-{source_id}-{fmt}.{fmt}"
    cli(source_url, "export", "--portal", str(source_id), "--format", fmt, "--output", str(path))
    key = cli(source_url, "portal", "erasure-key", "--portal", str(source_id))
    target_id = new_portal(target_url, "Moved", key)
    counts = json.loads(cli(target_url, "import", "--portal", str(target_id), str(path),
                            "--no-progress"))  # fmt: skip
    lines = path.read_bytes().count(b"\n") - (1 if fmt == "csv" else 0)
    assert (counts["status"], counts["applied"], counts["rejected"]) == ("COMPLETE", lines, 0)
    assert counts["unchanged"] == counts["skipped"] == 0
    return target_id


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_sqlite_to_postgresql_and_back_keeps_every_status_and_suppression(
    tmp_path: Path, fmt: str
) -> None:
    assert POSTGRES_URL is not None
    lite = f"sqlite:///{tmp_path}/source.db"
    portal_id = new_portal(lite, "Source")
    data = tmp_path / "history.csv"
    data.write_text(
        "email,subscription_name,subscription_id,status,timestamp,source,legal_basis,"
        "legal_basis_explanation\n"
        f"{KEPT},Product news,,SUBSCRIBED,2020-01-01T00:00:00Z,Web form,CONSENT_WITH_NOTICE,"
        '" ticked, twice "\n'
        f"{KEPT},,ALL,UNSUBSCRIBED,2021-01-01T00:00:00Z,Complaint,,\n"
        f"new@example.com,Product news,,NOT_SPECIFIED,1580859239924,Migration,,\n"
        f"{ERASED},Product news,,SUBSCRIBED,2020-02-02T00:00:00Z,Import,,\n"
        f"gone@example.com,,ALL,UNSUBSCRIBED,2020-03-03T00:00:00Z,Import,,\n"
    )
    counts = json.loads(cli(lite, "import", "--portal", str(portal_id), str(data),
                            "--no-progress"))  # fmt: skip
    assert counts["applied"] == 5
    cli(lite, "erase", "--portal", str(portal_id), ERASED)
    cli(lite, "erase", "--portal", str(portal_id), "gone@example.com")
    first = tmp_path / f"first.{fmt}"
    cli(lite, "export", "--portal", str(portal_id), "--format", fmt, "--output", str(first))
    want = asyncio.run(check(lite, portal_id, first.read_bytes(), fmt))
    assert sum(r["subscription_id"] == "ERASED" for r in want) == 2

    with fresh_database(POSTGRES_URL) as pg:
        pg_id = move(lite, portal_id, pg, tmp_path, fmt)
        on_pg = tmp_path / f"pg.{fmt}"
        cli(pg, "export", "--portal", str(pg_id), "--format", fmt, "--output", str(on_pg))
        assert asyncio.run(check(pg, pg_id, on_pg.read_bytes(), fmt)) == want

        back = f"sqlite:///{tmp_path}/back.db"
        back_id = move(pg, pg_id, back, tmp_path, fmt)
        again = tmp_path / f"again.{fmt}"
        cli(back, "export", "--portal", str(back_id), "--format", fmt, "--output", str(again))
        assert asyncio.run(check(back, back_id, again.read_bytes(), fmt)) == want


def test_erasures_made_under_another_key_are_refused_with_the_fix(tmp_path: Path) -> None:
    lite = f"sqlite:///{tmp_path}/a.db"
    portal_id = new_portal(lite, "A")
    cli(lite, "erase", "--portal", str(portal_id), ERASED)
    path = tmp_path / "a.csv"
    cli(lite, "export", "--portal", str(portal_id), "--output", str(path))
    other = new_portal(lite, "B")  # a random key of its own
    report = tmp_path / "report.csv"
    done = subprocess.run(
        [COMMPREF, "import", "--portal", str(other), str(path), "--no-progress",
         "--report", str(report), "--database-url", lite],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert json.loads(done.stdout)["rejected"] == 1
    assert "create the portal with the source portal's erasure key" in report.read_text()
