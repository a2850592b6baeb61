"""Import jobs and exports over HTTP and through the CLI, on each backend: upload → a worker
of the server runs the job; cancel; the report; a CLI import killed with SIGKILL midway and
run again (no duplicates, no losses); export downloads and their round trip."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from commpref.domain.imports import ImportJob
from commpref.domain.model import Status
from commpref.settings import Settings
from commpref.storage import open_store
from tests.support.server import COMMPREF, Portal, Server, started_server

V1 = "/commpref/v1"
T = 1_700_000_000_000


@pytest.fixture
def client(server: Server, portal: Portal) -> Iterator[httpx.Client]:
    with server.client(portal.token) as c:
        yield c


def wait_for_job(client: httpx.Client, job_id: int, done: tuple[str, ...] = ("COMPLETE",)) -> Any:
    """Poll until the job reaches a final status (synchronisation, not a timing test)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"{V1}/imports/{job_id}").json()
        if job["status"] in ("COMPLETE", "CANCELED", "FAILED"):
            assert job["status"] in done, job
            return job
        time.sleep(0.1)
    raise AssertionError(f"import job {job_id} never finished")


def upload(client: httpx.Client, body: bytes, **params: Any) -> Any:
    r = client.post(
        f"{V1}/imports", content=body, params=params, headers={"content-type": "text/csv"}
    )
    assert r.status_code == 202, r.text
    return r.json()


def test_an_uploaded_file_becomes_a_job_a_server_worker_completes(
    client: httpx.Client, portal: Portal
) -> None:
    d1 = portal.definitions[0]
    body = (
        "Email,Subscription ID,Status,Timestamp,Source\n"
        f"a@example.com,{d1},UNSUBSCRIBED,{T},Bounce\n"
        "no-address,ALL,UNSUBSCRIBED,,\n"
        "b@example.com,ALL,UNSUBSCRIBED,2023-11-14T22:13:20Z,Complaint\n"
        f"a@example.com,{d1},SUBSCRIBED,{T + 5},Form\n"
    ).encode()
    job = upload(client, body, fileName="list.csv")
    assert (
        job["status"],
        job["fileName"],
        job["format"],
        job["counts"]["rows"],
        job["counts"]["rejected"],
    ) == ("PENDING", "list.csv", "csv", 4, 1)
    done = wait_for_job(client, job["id"])
    assert done["counts"] == {
        "rows": 4,
        "processed": 3,
        "applied": 2,
        "unchanged": 0,
        "skipped": 1,
        "rejected": 1,
    }
    assert done["startedAt"] is not None and done["completedAt"] is not None
    report = client.get(f"{V1}/imports/{job['id']}/report").json()
    assert report == {
        "results": [
            {
                "line": 3,
                "subscriberIdString": "no-address",
                "kind": "REJECTED",
                "reason": "Invalid email address",
            },
            {
                "line": 5,
                "subscriberIdString": "a@example.com",
                "kind": "SKIPPED",
                "reason": "would undo an opt-out (allow resubscribe to apply it)",
            },
        ],
        "after": 5,
        "hasMore": False,
    }
    listed = client.get(f"{V1}/imports").json()["results"]
    assert [j["id"] for j in listed][:1] == [job["id"]]
    history = client.get(f"{V1}/subscribers/b@example.com/history").json()["results"]
    assert [(e["actor"], e["source"], e["occurredAt"]) for e in history] == [
        (f"import:{job['id']}", "Complaint", "2023-11-14T22:13:20.000Z")
    ]
    # The same file with the override: the resubscribe now applies.
    again = wait_for_job(client, upload(client, body, allowResubscribe="true")["id"])
    assert (again["allowResubscribe"], again["counts"]["applied"]) == (True, 1)


def test_uploads_that_cannot_become_jobs(client: httpx.Client) -> None:
    r = client.post(
        f"{V1}/imports", content=b"name,colour\nx,y\n", headers={"content-type": "text/csv"}
    )
    assert r.status_code == 400 and "lacks the column(s) email, status" in r.json()["message"]
    r = client.post(f"{V1}/imports", content=b"")
    assert r.status_code == 400 and "empty body" in r.json()["message"]
    r = client.post(f"{V1}/imports", params={"format": "xml"}, content=b"x")
    assert r.status_code == 400
    jsonl = b'{"email": "j@example.com", "subscriptionId": "ALL", "status": "UNSUBSCRIBED"}\n'
    job = client.post(
        f"{V1}/imports", content=jsonl, headers={"content-type": "application/x-ndjson"}
    ).json()
    assert (job["format"], job["counts"]["rows"]) == ("jsonl", 1)
    assert client.post(f"{V1}/imports/{10**9}/cancel").status_code == 404


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory, server: Server) -> Iterator[Server]:
    """A server with its workers off, on a database of its own, so no other server's workers
    can pick its jobs up: they stay PENDING."""
    backend = "sqlite" if server.database_url.startswith("sqlite") else "postgresql"
    env = {"COMMPREF_JOBS_ENABLED": "false"}
    with started_server(backend, tmp_path_factory.mktemp("idle"), env) as srv:
        yield srv


def test_a_canceled_job_applies_nothing(idle_server: Server) -> None:
    portal = idle_server.new_portal()
    with idle_server.client(portal.token) as c:
        job = upload(c, b"email,subscription_id,status\nc@example.com,ALL,UNSUBSCRIBED\n")
        canceled = c.post(f"{V1}/imports/{job['id']}/cancel").json()
        assert (canceled["status"], canceled["counts"]["processed"]) == ("CANCELED", 0)
        assert c.post(f"{V1}/imports/{job['id']}/cancel").json()["status"] == "CANCELED"
        wide = c.get(
            "/communication-preferences/v4/statuses/c@example.com/unsubscribe-all",
            params={"channel": "EMAIL"},
        ).json()
        assert wide["results"] == []


# --- the CLI: killed midway, then run again ----------------------------------------------------


async def _jobs(url: str, portal_id: int) -> list[ImportJob]:
    store = open_store(Settings(database_url=url))
    await store.open()
    try:
        return await store.list_imports(portal_id)
    finally:
        await store.close()


def jobs(url: str, portal_id: int) -> list[ImportJob]:
    return asyncio.run(_jobs(url, portal_id))


@pytest.mark.slow
def test_a_cli_import_killed_midway_resumes_without_duplicates_or_losses(
    server: Server, tmp_path: Path
) -> None:
    portal = server.new_portal()
    rows = 40_000
    path = tmp_path / "list.csv"
    path.write_text(
        "email,subscription_id,status,timestamp,source\n"
        + "".join(f"k{i}@example.com,ALL,UNSUBSCRIBED,{T + i},Bounce\n" for i in range(rows))
    )
    args = [
        COMMPREF,
        "import",
        "--portal",
        str(portal.id),
        str(path),
        "--chunk-rows",
        "80",
        "--no-progress",
        "--database-url",
        server.database_url,
    ]
    # Paced to 20 s in all, so the kill lands midway however fast the machine is.
    first = subprocess.Popen(
        [*args, "--max-rate", "2000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = jobs(server.database_url, portal.id)
        if found and found[0].chunks_done >= 3:  # of 500: far from done
            break
        assert first.poll() is None, "the import finished before it could be killed"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    (killed,) = jobs(server.database_url, portal.id)
    assert killed.status.value == "PROCESSING"
    assert 0 < killed.processed_rows < rows
    assert killed.processed_rows == killed.chunks_done * 80  # counts move with their chunks

    second = subprocess.run(
        [*args, "--report", str(tmp_path / "report.csv")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary == {
        "job": killed.id,
        "status": "COMPLETE",
        "rows": rows,
        "applied": rows,
        "unchanged": 0,
        "skipped": 0,
        "rejected": 0,
    }
    assert (tmp_path / "report.csv").read_text() == "line,email,kind,reason\n"
    with server.client(portal.token) as c:
        feed, since = [], None
        while True:
            params: dict[str, Any] = {"limit": 1000, "actor": f"import:{killed.id}"}
            if since:
                params["since"] = since
            page = c.get(f"{V1}/events", params=params).json()
            feed += page["results"]
            since = page["cursor"]
            if not page["hasMore"]:
                break
        addresses = [e["subscriberIdString"] for e in feed]
        assert len(addresses) == rows and set(addresses) == {
            f"k{i}@example.com" for i in range(rows)
        }
        read = c.post(
            "/communication-preferences/v4/statuses/batch/unsubscribe-all/read",
            params={"channel": "EMAIL"},
            json={"inputs": [f"k{i}@example.com" for i in range(0, rows, 97)]},
        ).json()
        assert {w["status"] for r in read["results"] for w in r["wideStatuses"]} == {"UNSUBSCRIBED"}
    # Running it yet again starts a new job that changes nothing.
    third = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    assert (third["job"] != killed.id, third["applied"], third["unchanged"]) == (True, 0, rows)


def test_a_pace_too_slow_for_the_job_lease_is_refused_before_anything_is_read(
    server: Server, tmp_path: Path
) -> None:
    portal = server.new_portal()
    path = tmp_path / "list.csv"
    path.write_text("email,subscription_id,status\na@example.com,ALL,UNSUBSCRIBED\n")
    args = [COMMPREF, "import", "--portal", str(portal.id), str(path), "--no-progress",
            "--database-url", server.database_url, "--chunk-rows", "5000"]  # fmt: skip
    refused = subprocess.run([*args, "--max-rate", "50"], capture_output=True, text=True)
    assert refused.returncode == 2 and "--max-rate" in refused.stderr, refused.stderr
    assert jobs(server.database_url, portal.id) == []
    paced = subprocess.run([*args, "--max-rate", "100"], capture_output=True, text=True)
    assert paced.returncode == 0 and json.loads(paced.stdout)["applied"] == 1, paced.stderr


# --- export ------------------------------------------------------------------------------------


def test_export_downloads_stream_the_state_and_the_ledger(
    server: Server, client: httpx.Client, portal: Portal
) -> None:
    emails = [f"x{i}@example.com" for i in range(5)]
    client.post(
        "/communication-preferences/v4/statuses/batch/unsubscribe-all",
        params={"channel": "EMAIL"},
        json={"inputs": emails},
    )
    with client.stream("GET", f"{V1}/exports") as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
        assert r.headers["content-disposition"] == (
            f'attachment; filename="commpref-{portal.id}-state.csv"'
        )
        assert "content-length" not in r.headers
        text = r.read().decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 5 * 4 and {r["email"] for r in rows} == set(emails)
    assert {r["status"] for r in rows} == {Status.UNSUBSCRIBED.value}
    # The CLI writes the same bytes.
    cli = server.cli("export", "--portal", str(portal.id))
    assert cli.stdout == text

    r = client.get(f"{V1}/exports", params={"format": "jsonl", "history": "true"})
    assert r.headers["content-type"] == "application/x-ndjson"
    events = [json.loads(line) for line in r.text.splitlines()]
    assert len(events) == 5 * 4
    assert {e["scope"] for e in events} == {"SUBSCRIPTION", "WIDE"}
    assert events[0]["event_id"].endswith(".0") and events[0]["email"] == emails[0]

    # Round trip: the export imported into a fresh portal reads the same.
    target = server.new_portal()
    with server.client(target.token) as t:
        job = wait_for_job(t, upload(t, text.encode())["id"])
        assert (job["counts"]["applied"], job["counts"]["rejected"]) == (20, 0)
        for email in emails:
            a = client.get(
                f"/communication-preferences/v4/statuses/{email}", params={"channel": "EMAIL"}
            ).json()["results"]
            b = t.get(
                f"/communication-preferences/v4/statuses/{email}", params={"channel": "EMAIL"}
            ).json()["results"]
            strip = ("subscriptionId",)
            assert [{k: v for k, v in x.items() if k not in strip} for x in a] == [
                {k: v for k, v in x.items() if k not in strip} for x in b
            ]


def _paced_import(server: Server, portal_id: int, tmp_path: Path) -> list[str]:
    """The CLI import of 4,000 opt-outs in chunks of 80 (pace it with --max-rate)."""
    path = tmp_path / "paced.csv"
    path.write_text(
        "email,subscription_id,status\n"
        + "".join(f"z{i}@example.com,ALL,UNSUBSCRIBED\n" for i in range(4000))
    )
    return [COMMPREF, "import", "--portal", str(portal_id), str(path), "--chunk-rows", "80",
            "--no-progress", "--database-url", server.database_url]  # fmt: skip


def _until_chunks(server: Server, portal_id: int, done: int, holder: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = jobs(server.database_url, portal_id)
        if found and found[0].chunks_done >= done:
            return
        assert holder.poll() is None, "the import finished too soon"
        time.sleep(0.02)
    raise AssertionError("the import never got going")


def test_a_killed_import_left_as_a_zombie_is_taken_over_at_once(
    server: Server, tmp_path: Path
) -> None:
    portal = server.new_portal()
    args = _paced_import(server, portal.id, tmp_path)
    first = subprocess.Popen([*args, "--max-rate", "400"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    _until_chunks(server, portal.id, 2, first)
    first.send_signal(signal.SIGKILL)  # not reaped: its pid lingers as a zombie
    stat = Path(f"/proc/{first.pid}/stat")
    while stat.read_text().rpartition(")")[2].split()[0] != "Z":
        time.sleep(0.01)
    try:
        # The lease lasts 120 s: a run that waited for it would not finish within 60.
        second = subprocess.run(args, capture_output=True, text=True, timeout=60)
    finally:
        first.communicate()
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["status"] == "COMPLETE"
    assert "is being applied by" not in second.stderr


def test_a_run_behind_a_live_import_says_who_holds_it_and_follows_it(
    server: Server, tmp_path: Path
) -> None:
    portal = server.new_portal()
    args = _paced_import(server, portal.id, tmp_path)
    first = subprocess.Popen([*args, "--max-rate", "800"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    _until_chunks(server, portal.id, 1, first)
    second = subprocess.run(args, capture_output=True, text=True, timeout=120)
    first.communicate()
    assert second.returncode == 0, second.stderr
    (job,) = jobs(server.database_url, portal.id)
    assert json.loads(second.stdout) == {**json.loads(second.stdout), "job": job.id,
                                         "status": "COMPLETE", "applied": 4000}  # fmt: skip
    assert f"is being applied by {socket.gethostname()}:{first.pid}:" in second.stderr
    assert "lease runs until" in second.stderr
