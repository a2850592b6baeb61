"""Storage contract, part 5: import jobs — upload, claims and leases, chunks applied once
in the transaction that marks them done, cancel, report. Runs on every backend."""

from __future__ import annotations

import asyncio

from commpref.domain import erasure
from commpref.domain.imports import ImportJob, ImportStatus, ImportTally, ReportRow
from commpref.domain.model import Change, ChangeKind, Event, Status, Subscriber, WideStatus
from commpref.storage.imports import ImportChunk, ImportPlan
from commpref.storage.store import Store
from commpref.storage.subscribers import Outcome

NOW = 1_700_000_000_000
LEASE = NOW + 60_000
A, B = "a@example.com", "b@example.com"


async def new_job(store: Store, *, sha: str = "f00d") -> ImportJob:
    portal = await store.create_portal(name="P", now=NOW)
    return await store.create_import(
        portal_id=portal.id,
        format="csv",
        file_name="f.csv",
        sha256=sha,
        allow_resubscribe=False,
        actor="cli",
        correlation_id="corr",
        now=NOW,
    )


async def staged(store: Store, chunks: int = 2, owner: str | None = None) -> ImportJob:
    job = await new_job(store)
    for seq in range(chunks):
        reject = ReportRow(seq * 10 + 1, "bad", "REJECTED", "Invalid email address")
        await store.add_import_chunk(job.id, ImportChunk(seq, seq * 10 + 1, 2, b"rows"), [reject])
    return await store.finish_upload(
        job.id,
        total_rows=3 * chunks,
        rejected_rows=chunks,
        chunks=chunks,
        now=NOW + 1,
        owner=owner,
        lease_until=None if owner is None else LEASE,
    )


def opt_out(*emails: str, skipped: int = 0) -> ImportPlan:
    def plan(subs: dict[str, Subscriber], erased: dict[bytes, int]) -> Outcome[ImportTally]:
        assert erased == {}
        report = [ReportRow(99, e, "SKIPPED", "older") for e in emails[:skipped]]
        tally = ImportTally(len(emails), len(emails) - skipped, 0, skipped, report)
        events = []
        for e in emails[skipped:]:
            subs[e].created_at = subs[e].created_at or NOW
            subs[e].wide[0] = WideStatus(Status.UNSUBSCRIBED, NOW, "Import")
            change = Change(ChangeKind.WIDE, 0, Status.NOT_SPECIFIED, Status.UNSUBSCRIBED)
            events.append(Event(e, (change,), "Import", "import:1", "corr", NOW))
        return Outcome(tally, set(emails[skipped:]), events)

    return plan


async def apply(
    store: Store, job: ImportJob, seq: int, owner: str, *emails: str, skipped: int = 0
) -> ImportTally | None:
    return await store.apply_import_chunk(
        job.id,
        seq,
        owner=owner,
        portal_id=job.portal_id,
        emails=list(emails),
        keys=[],
        plan=opt_out(*emails, skipped=skipped),
        lease_until=LEASE + seq,
        now=NOW + 2,
    )


async def test_an_upload_becomes_a_pending_job_with_its_counts_and_rejects(store: Store) -> None:
    job = await new_job(store)
    assert (job.status, job.total_rows, job.chunks, job.created_at) == (
        ImportStatus.UPLOADING,
        0,
        0,
        NOW,
    )
    # Nobody claims a job while its file is still being read.
    assert await store.claim_import(owner="w", now=NOW, lease_until=LEASE) is None
    done = await staged(store)
    assert (done.status, done.total_rows, done.rejected_rows, done.chunks) == (
        ImportStatus.PENDING,
        6,
        2,
        2,
    )
    assert [c.seq for c in await store.import_chunks(done.id)] == [0, 1]
    assert [c.data for c in await store.import_chunks(done.id, after_seq=0)] == [b"rows"]
    report = await store.import_report(done.id)
    assert [(r.line, r.kind) for r in report] == [(1, "REJECTED"), (11, "REJECTED")]
    assert await store.import_report(done.id, after_line=1) == report[1:]
    found = await store.find_import(
        portal_id=done.portal_id, sha256="f00d", allow_resubscribe=False
    )
    assert found is not None and found.id == done.id
    assert (
        await store.find_import(portal_id=done.portal_id, sha256="f00d", allow_resubscribe=True)
        is None
    )
    assert [j.id for j in await store.list_imports(done.portal_id)] == [done.id]
    portal_id = done.portal_id
    later = await store.create_import(
        portal_id=portal_id,
        format="jsonl",
        file_name="g.jsonl",
        sha256="x",
        allow_resubscribe=True,
        actor="token:3",
        correlation_id="c2",
        now=NOW + 9,
    )
    assert [j.id for j in await store.list_imports(portal_id)] == [later.id, done.id]
    assert [j.id for j in await store.list_imports(portal_id, limit=1)] == [later.id]
    assert [j.id for j in await store.list_imports(job.portal_id)] == [job.id]


async def test_claims_lease_one_job_to_one_worker(store: Store) -> None:
    job = await staged(store)
    claims = await asyncio.gather(
        *(store.claim_import(owner=f"w{i}", now=NOW, lease_until=LEASE) for i in range(5))
    )
    won = [c for c in claims if c is not None]
    assert len(won) == 1 and won[0].id == job.id
    assert (won[0].status, won[0].lease_until, won[0].started_at) == (
        ImportStatus.PROCESSING,
        LEASE,
        NOW,
    )
    holder = won[0].lease_owner
    assert holder is not None
    # A live lease is respected; an expired one, or a holder known dead, is taken over.
    assert await store.claim_import(owner="x", now=LEASE - 1, lease_until=LEASE + 5) is None
    stolen = await store.claim_import(owner="x", now=NOW, lease_until=LEASE, steal_from=[holder])
    assert stolen is not None and stolen.lease_owner == "x" and stolen.started_at == NOW
    later = await store.claim_import(owner="y", now=LEASE + 1, lease_until=LEASE + 9)
    assert later is not None and later.lease_owner == "y"
    assert await store.claim_import(owner="z", now=NOW, lease_until=LEASE, job_id=10**9) is None


async def test_a_chunk_applies_once_with_its_counts_report_and_ledger(store: Store) -> None:
    job = await staged(store, owner="w")
    assert job.status is ImportStatus.PROCESSING and job.lease_owner == "w"
    tally = await apply(store, job, 0, "w", A, B, skipped=1)
    assert tally == ImportTally(2, 1, 0, 1, [ReportRow(99, A, "SKIPPED", "older")])
    # Applying the same chunk again (a worker that crashed after the commit) does nothing.
    assert await apply(store, job, 0, "w", A, B) is None
    assert await apply(store, job, 7, "w", A) is None  # no such chunk
    assert [c.seq for c in await store.import_chunks(job.id)] == [1]
    stored = await store.read_subscribers(job.portal_id, [A, B])
    assert set(stored) == {B}
    assert [e.event.email for e in await store.ledger(job.portal_id)] == [B]
    current = await store.get_import(job.id)
    assert current is not None
    assert (
        current.processed_rows,
        current.applied_rows,
        current.skipped_rows,
        current.chunks_done,
        current.lease_until,
    ) == (2, 1, 1, 1, LEASE)
    assert [(r.line, r.kind) for r in await store.import_report(job.id)] == [
        (1, "REJECTED"),
        (11, "REJECTED"),
        (99, "SKIPPED"),
    ]


async def test_only_the_lease_holder_of_a_processing_job_applies_chunks(store: Store) -> None:
    job = await staged(store, owner="w")
    assert await apply(store, job, 0, "intruder", A) is None
    canceled = await store.cancel_import(job.id, now=NOW + 3)
    assert canceled is not None and canceled.status is ImportStatus.CANCELED
    assert canceled.finished_at == NOW + 3
    assert await apply(store, job, 0, "w", A) is None
    assert await store.read_subscribers(job.portal_id, [A]) == {}
    assert await store.ledger(job.portal_id) == []
    # Finished jobs stay as they are.
    again = await store.cancel_import(job.id, now=NOW + 9)
    assert again is not None and again.finished_at == NOW + 3
    assert (
        await store.finish_import(
            job.id, owner="w", status=ImportStatus.COMPLETE, error=None, now=NOW
        )
        is None
    )
    assert await store.claim_import(owner="w2", now=LEASE * 2, lease_until=LEASE * 3) is None
    assert await store.cancel_import(10**9, now=NOW) is None


async def test_finishing_and_restarting(store: Store) -> None:
    job = await staged(store, owner="w")
    await apply(store, job, 0, "w", A)
    await apply(store, job, 1, "w", B)
    assert (
        await store.finish_import(
            job.id, owner="other", status=ImportStatus.COMPLETE, error=None, now=NOW
        )
        is None
    )
    done = await store.finish_import(
        job.id, owner="w", status=ImportStatus.COMPLETE, error=None, now=NOW + 5
    )
    assert done is not None
    assert (done.status, done.finished_at, done.lease_owner, done.applied_rows) == (
        ImportStatus.COMPLETE,
        NOW + 5,
        None,
        2,
    )
    assert (
        await store.find_import(portal_id=job.portal_id, sha256="f00d", allow_resubscribe=False)
        is None
    )

    upload = await new_job(store, sha="beef")
    await store.add_import_chunk(upload.id, ImportChunk(0, 2, 1, b"x"), [])
    await store.restart_upload(upload.id, now=NOW + 1)
    assert await store.import_chunks(upload.id) == []
    restarted = await store.get_import(upload.id)
    assert restarted is not None and restarted.status is ImportStatus.UPLOADING


async def test_a_chunk_keeps_suppressions_with_the_newest_erasure_time(store: Store) -> None:
    job = await staged(store, owner="w")
    portal_id = job.portal_id
    erased = await store.erase(portal_id, A, actor="cli", correlation_id="c", source="s", now=NOW)
    known = erasure.key_of(erased.label)
    assert known is not None
    new = bytes(32)
    seen: list[dict[bytes, int]] = []

    def plan(subs: dict[str, Subscriber], stored: dict[bytes, int]) -> Outcome[ImportTally]:
        seen.append(dict(stored))
        events = [
            Event(erasure.label(k), (erasure.ERASURE_CHANGE,), "Data erasure", "import:1", "c", at)
            for k, at in ((known, NOW + 5), (new, NOW - 5))
        ]
        return Outcome(ImportTally(2, 2), set(), events, {known: NOW + 5, new: NOW - 5})

    tally = await store.apply_import_chunk(
        job.id, 0, owner="w", portal_id=portal_id, emails=[], keys=[known, new], plan=plan,
        lease_until=LEASE, now=NOW + 6,
    )  # fmt: skip
    assert tally is not None and tally.applied == 2
    assert seen == [{known: NOW}]  # what was stored before the chunk, and only that
    assert await store.suppressions_page(portal_id) == sorted([(known, NOW + 5), (new, NOW - 5)])
    assert await store.suppressions_page(portal_id, after_key=min(known, new), limit=5) == [
        max((known, NOW + 5), (new, NOW - 5))
    ]
    # The kept suppression is the address's: it reads as opted out since the newer time.
    read = await store.read_subscribers(portal_id, [A])
    assert read[A].wide[0] == WideStatus(Status.UNSUBSCRIBED, NOW + 5, erasure.ERASURE_SOURCE)
    # The label's history holds the erasure and the import's entry, in order.
    history = await store.ledger(portal_id, subjects=[erased.label])
    assert [(e.event.actor, e.event.at) for e in history] == [("cli", NOW), ("import:1", NOW + 5)]
    assert len(await store.ledger(portal_id, subjects=[erasure.label(new)])) == 1


async def test_a_portal_keeps_the_erasure_key_it_was_created_with(store: Store) -> None:
    first = await store.create_portal(name="A", now=NOW)
    key = await store.erasure_key(first.id)
    assert erasure.valid_key(key)
    second = await store.create_portal(name="B", erasure_key=key, now=NOW)
    third = await store.create_portal(name="C", now=NOW)
    assert await store.erasure_key(second.id) == key != await store.erasure_key(third.id)
    assert await store.subject_label(first.id, A) == await store.subject_label(second.id, A)
    assert await store.subject_label(first.id, A) != await store.subject_label(third.id, A)
