"""Bulk import jobs: the part of the storage interface (`store.Store`) that keeps a job's
parsed file in chunks and applies them, each in its own transaction.

Both backends implement it and pass the same contract suite
(tests/integration/test_store_jobs.py). Jobs are claimed with leases (PostgreSQL:
`FOR UPDATE SKIP LOCKED`; SQLite: under the single writer), so any number of processes may
run workers against one database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from commpref.domain.imports import ImportJob, ImportStatus, ImportTally, ReportRow
from commpref.domain.model import Subscriber
from commpref.storage.subscribers import Outcome

ImportPlan = Callable[[dict[str, Subscriber], dict[bytes, int]], Outcome[ImportTally]]


@dataclass(frozen=True, slots=True)
class ImportChunk:
    """A chunk of an import job not yet applied: rows packed by `services.imports`."""

    seq: int
    first_line: int
    rows: int
    data: bytes


class ImportStore(ABC):
    """Import jobs (see the module docstring)."""

    # --- import jobs -------------------------------------------------------------------------
    @abstractmethod
    async def create_import(
        self,
        *,
        portal_id: int,
        format: str,
        file_name: str,
        sha256: str,
        allow_resubscribe: bool,
        actor: str,
        correlation_id: str,
        now: int,
    ) -> ImportJob:
        """A new job in status UPLOADING (no worker claims it until `finish_upload`)."""

    @abstractmethod
    async def find_import(
        self, *, portal_id: int, sha256: str, allow_resubscribe: bool
    ) -> ImportJob | None:
        """The newest unfinished job of this portal for the same file and flag (resuming)."""

    @abstractmethod
    async def restart_upload(self, job_id: int, *, now: int) -> None:
        """Drop a job's chunks and report and put it back to UPLOADING with zero counts."""

    @abstractmethod
    async def add_import_chunk(
        self, job_id: int, chunk: ImportChunk, rejects: Sequence[ReportRow]
    ) -> None:
        """Store one chunk of parsed rows and the rows rejected while reading it."""

    @abstractmethod
    async def finish_upload(
        self,
        job_id: int,
        *,
        total_rows: int,
        rejected_rows: int,
        chunks: int,
        now: int,
        owner: str | None = None,
        lease_until: int | None = None,
    ) -> ImportJob:
        """UPLOADING → PENDING; or, with `owner`, straight to PROCESSING leased to it."""

    @abstractmethod
    async def get_import(self, job_id: int) -> ImportJob | None: ...

    @abstractmethod
    async def list_imports(self, portal_id: int, *, limit: int = 100) -> list[ImportJob]:
        """The portal's jobs, newest first."""

    @abstractmethod
    async def cancel_import(self, job_id: int, *, now: int) -> ImportJob | None:
        """An unfinished job → CANCELED (a chunk being applied completes first); a finished
        one is returned unchanged; None when there is no such job."""

    @abstractmethod
    async def claim_import(
        self,
        *,
        owner: str,
        now: int,
        lease_until: int,
        job_id: int | None = None,
        steal_from: Sequence[str] = (),
    ) -> ImportJob | None:
        """Lease one job (the oldest, or `job_id`) to `owner` and mark it PROCESSING: a
        PENDING one, or a PROCESSING one whose lease expired or whose owner is in
        `steal_from` (owners the caller knows are dead). Safe across processes."""

    @abstractmethod
    async def import_chunks(
        self, job_id: int, *, after_seq: int = -1, limit: int = 10
    ) -> list[ImportChunk]:
        """Chunks not yet applied, with seq > after_seq, in order."""

    @abstractmethod
    async def apply_import_chunk(
        self,
        job_id: int,
        seq: int,
        *,
        owner: str,
        portal_id: int,
        emails: Sequence[str],
        keys: Sequence[bytes],
        plan: ImportPlan,
        lease_until: int,
        now: int,
    ) -> ImportTally | None:
        """Apply one chunk in one transaction: run `plan` as `mutate` does, handing it also
        the erasure time stored for each suppression key in `keys` (absent: none stored),
        keep the outcome's `suppressions` (the newer erasure time wins), mark the chunk done
        (dropping its rows), add the tally to the job's counts and report, extend the lease.
        None, with nothing written, when the chunk is done already or the job is not
        PROCESSING under `owner` (canceled, or taken over)."""

    @abstractmethod
    async def finish_import(
        self, job_id: int, *, owner: str, status: ImportStatus, error: str | None, now: int
    ) -> ImportJob | None:
        """PROCESSING under `owner` → COMPLETE or FAILED; None if the job is not ours."""

    @abstractmethod
    async def import_report(
        self, job_id: int, *, after_line: int = 0, limit: int = 1000
    ) -> list[ReportRow]:
        """Rejected and skipped rows with line > after_line, by line."""
