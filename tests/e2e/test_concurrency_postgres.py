"""Two server processes on one PostgreSQL, several clients each, overlapping batch writes and
opt-outs of the same addresses. Afterwards the ledger must replay to exactly the
stored state, every acknowledged change must be in it once, and nothing may have failed."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from commpref.domain.model import ChangeKind, Status
from commpref.storage.ledger import StoredEvent
from tests.conftest import POSTGRES_URL
from tests.support.server import Portal, Server

pytestmark = pytest.mark.skipif(
    POSTGRES_URL is None, reason="PostgreSQL only: set COMMPREF_TEST_POSTGRES_URL"
)

ADDRESSES = [f"user{i}@example.com" for i in range(60)]
DURATION_S = 4.0
CLIENTS_PER_SERVER = 4


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    from tests.support.postgres import fresh_database

    assert POSTGRES_URL is not None
    tmp: Path = tmp_path_factory.mktemp("concurrency")
    with fresh_database(POSTGRES_URL) as url:
        procs = [Server(url, tmp / f"server{i}.log") for i in range(2)]
        for p in procs:
            p.start()
        yield procs
        for p in procs:
            p.stop()


async def _client(
    base_url: str, token: str, definitions: list[int], seed: int, log: list[dict[str, object]]
) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    prefix = "/communication-preferences/v4/statuses/batch"
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        deadline = time.monotonic() + DURATION_S
        while time.monotonic() < deadline:
            emails = rng.sample(ADDRESSES, 12)
            if rng.random() < 0.3:
                r = await client.post(
                    f"{prefix}/unsubscribe-all",
                    params={"channel": "EMAIL"},
                    json={"inputs": emails},
                )
                kind = "optout"
            else:
                inputs = [
                    {
                        "subscriberIdString": e,
                        "subscriptionId": rng.choice(definitions),
                        "channel": "EMAIL",
                        "statusState": rng.choice(["SUBSCRIBED", "UNSUBSCRIBED", "NOT_SPECIFIED"]),
                    }
                    for e in emails
                ]
                r = await client.post(f"{prefix}/write", json={"inputs": inputs})
                kind = "write"
            log.append(
                {
                    "kind": kind,
                    "status": r.status_code,
                    "correlation_id": r.headers.get("x-hubspot-correlation-id"),
                    "body": r.json(),
                }
            )


def _replay(events: list[StoredEvent]) -> dict[str, dict[tuple[str, int], Status]]:
    """Apply every change in ledger order; each must start where the previous one ended."""
    state: dict[str, dict[tuple[str, int], Status]] = {}
    for stored in events:
        per = state.setdefault(stored.event.email, {})
        for change in stored.event.changes:
            key = (change.kind.value, change.target)
            assert change.old != change.new, "a ledger entry that changes nothing"
            assert per.get(key, Status.NOT_SPECIFIED) == change.old, (
                f"lost update on {stored.event.email} {key}: ledger says old={change.old}, "
                f"replay says {per.get(key, Status.NOT_SPECIFIED)}"
            )
            per[key] = change.new
    return state


def test_overlapping_writes_from_two_processes(servers: list[Server]) -> None:
    portal: Portal = servers[0].new_portal()
    log: list[dict[str, object]] = []

    async def run_all() -> None:
        await asyncio.gather(
            *(
                _client(s.base_url, portal.token, portal.definitions, seed=i * 100 + j, log=log)
                for i, s in enumerate(servers)
                for j in range(CLIENTS_PER_SERVER)
            )
        )

    asyncio.run(run_all())

    statuses = Counter(entry["status"] for entry in log)
    assert statuses and set(statuses) == {200}, f"non-200 answers: {statuses}"

    events = servers[0].admin(lambda store: store.events(portal.id, limit=1_000_000))
    replayed = _replay(events)

    # The replayed ledger equals the stored state of every address.
    subs = servers[0].admin(lambda store: store.read_subscribers(portal.id, ADDRESSES))
    for email, sub in subs.items():
        stored = {(ChangeKind.TYPE.value, d): s.status for d, s in sub.types.items()}
        stored |= {(ChangeKind.WIDE.value, u): w.status for u, w in sub.wide.items()}
        assert stored == replayed.get(email, {}), email

    # Every acknowledged change is in the ledger exactly once, under its request's id.
    by_request: dict[str, dict[str, list[tuple[str, int, Status]]]] = {}
    for stored_event in events:
        e = stored_event.event
        per = by_request.setdefault(e.correlation_id, {})
        per.setdefault(e.email, []).extend((c.kind.value, c.target, c.new) for c in e.changes)
    for entry in log:
        body = entry["body"]
        assert isinstance(body, dict)
        changes = by_request.get(str(entry["correlation_id"]), {})
        if entry["kind"] == "write":
            for row in body["results"]:
                key = ("SUBSCRIPTION", row["subscriptionId"], Status(row["status"]))
                made = row["setStatusSuccessReason"] != "NO_STATUS_CHANGE"
                assert (key in changes.get(row["subscriberIdString"], [])) == made, row
        else:
            for result in body["results"]:
                wide = [c for c in changes.get(result["subscriberIdString"], []) if c[0] == "WIDE"]
                assert len(wide) <= 1

    n_changes = sum(len(s.event.changes) for s in events)
    print(
        f"\nconcurrency: {len(log)} requests from {2 * CLIENTS_PER_SERVER} clients on 2 processes, "
        f"{len(ADDRESSES)} addresses, {len(events)} ledger entries holding {n_changes} changes"
    )
