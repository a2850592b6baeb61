"""Uploading an import: a CSV or JSON Lines file becomes a job's stored chunks, the first
step of an import (`imports` runs the job). The API's raw body and the console's upload
arrive through `upload`; the CLI, which has the file on disk, calls `create` and `stage`.

`stage` reads the file once (in a worker thread, constant memory), validates each record
(`domain.imports.read_record`) and stores the valid rows as chunks of the job; the rejected
ones go to the job's report with their line numbers.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import tempfile
from collections.abc import AsyncIterable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from commpref.domain import bounces, erasure
from commpref.domain.imports import (
    COLUMNS,
    REQUIRED_COLUMNS,
    ImportJob,
    ImportRow,
    ReportRow,
    column,
    read_record,
)
from commpref.domain.model import PortalContext
from commpref.errors import PayloadTooLarge, ValidationError
from commpref.services.context import Call, now_ms
from commpref.services.imports import LEASE_MS, Progress, pack
from commpref.storage.imports import ImportChunk
from commpref.storage.store import Store

FORMATS = ("csv", "jsonl")
CHUNK_ROWS = 5000  # valid rows per chunk: one transaction each
STAGE_IN_FLIGHT = 4  # chunk writes under way while the file is read


def detect_format(given: str | None, name: str | None, content_type: str | None = None) -> str:
    """`csv` or `jsonl`: as given, else from the file name or the media type; CSV by default."""
    if given:
        if given.lower() not in FORMATS:
            raise ValidationError(f"Unknown format {given}; use csv or jsonl")
        return given.lower()
    lowered = (name or "").lower()
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if lowered.endswith((".jsonl", ".ndjson", ".json")) or "json" in media:
        return "jsonl"
    return "csv"


# --- reading a file ------------------------------------------------------------------------


def _without_nul(lines: Iterator[str]) -> Iterator[str]:
    """The csv module refuses NUL characters; they become U+FFFD (and the row is rejected)."""
    for text in lines:
        yield text.replace("\x00", "\ufffd")


def _rows(reader: Any, line: Callable[[], int]) -> Iterator[list[str]]:
    """The reader's rows; a malformed file (e.g. a field over the csv limit) is a 400."""
    try:
        yield from reader
    except csv.Error as exc:
        raise ValidationError(f"Invalid CSV near line {line()}: {exc}") from exc


def csv_header(path: Path) -> list[str]:
    """The canonical column names of a CSV file; a 400 when a required one is missing."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        header = next(_rows(csv.reader(_without_nul(f)), lambda: 1), [])
    columns = [column(h) for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if "subscription_id" not in columns and "subscription_name" not in columns:
        missing.append("subscription_id")
    if missing:
        raise ValidationError(
            f"The CSV header lacks the column(s) {', '.join(missing)}; "
            f"known columns: {', '.join(COLUMNS)}"
        )
    return columns


def records(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, record) per data record in file order; a str instead of a record says
    why that line cannot be read. Blank lines are skipped."""
    if fmt == "csv":
        header = csv_header(path)
        with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
            reader = csv.reader(_without_nul(f))
            next(reader, None)
            line = reader.line_num + 1
            for fields in _rows(reader, lambda: reader.line_num):
                start, line = line, reader.line_num + 1
                if not fields or not any(x.strip() for x in fields):
                    continue
                if len(fields) != len(header):
                    yield start, f"Expected {len(header)} fields, found {len(fields)}"
                else:
                    yield start, dict(zip(header, fields, strict=True))
        return
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                value = msgspec.json.decode(raw)
            except msgspec.DecodeError as exc:
                yield number, f"Invalid JSON: {exc}"
                continue
            if not isinstance(value, dict):
                yield number, "Expected a JSON object"
                continue
            yield number, {column(str(k)): v for k, v in value.items()}


@dataclass(slots=True)
class StagedChunk:
    first_line: int
    rows: list[ImportRow] = field(default_factory=list)
    rejects: list[ReportRow] = field(default_factory=list)


def staged_chunks(
    path: Path,
    fmt: str,
    ctx: PortalContext,
    *,
    now: int,
    chunk_rows: int,
    erasure_key_id: str = "",
) -> Iterator[StagedChunk]:
    """Valid rows in chunks of `chunk_rows`, each with the rejects read alongside."""
    chunk: StagedChunk | None = None
    for line, record in records(path, fmt):
        if chunk is None:
            chunk = StagedChunk(line)
        if isinstance(record, str):
            chunk.rejects.append(ReportRow(line, "", "REJECTED", record))
        else:
            if bounces.is_bounce_record(record):
                row = bounces.read_record(line, record, now=now)
            else:
                row = read_record(ctx, line, record, now=now, erasure_key_id=erasure_key_id)
            if isinstance(row, ReportRow):
                chunk.rejects.append(row)
            else:
                chunk.rows.append(row)
        if len(chunk.rows) >= chunk_rows or len(chunk.rejects) >= chunk_rows:
            yield chunk
            chunk = None
    if chunk is not None:
        yield chunk


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# --- preparing a job ------------------------------------------------------------------------


async def stage(
    *,
    store: Store,
    job: ImportJob,
    ctx: PortalContext,
    path: Path,
    chunk_rows: int = CHUNK_ROWS,
    owner: str | None = None,
    progress: Progress | None = None,
) -> ImportJob:
    """Read the file into the job (which must be UPLOADING); it becomes PENDING, or
    PROCESSING leased to `owner`."""
    key_id = erasure.key_id((await store.erasure_key(ctx.portal.id)).encode())
    chunks = staged_chunks(
        path, job.format, ctx, now=job.created_at, chunk_rows=chunk_rows, erasure_key_id=key_id
    )

    def read() -> tuple[StagedChunk, bytes] | None:
        chunk = next(chunks, None)
        return None if chunk is None else (chunk, pack(chunk.rows))

    seq = total = rejected = 0
    writing: set[asyncio.Task[None]] = set()
    try:
        while (item := await asyncio.to_thread(read)) is not None:
            chunk, packed = item
            # A few chunk writes in flight while the next chunk is read: the store commits
            # them together (SQLite group commit), one fsync for several.
            if len(writing) >= STAGE_IN_FLIGHT:
                done, writing = await asyncio.wait(writing, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            stored = ImportChunk(seq, chunk.first_line, len(chunk.rows), packed)
            writing.add(asyncio.create_task(store.add_import_chunk(job.id, stored, chunk.rejects)))
            seq += 1
            total += len(chunk.rows) + len(chunk.rejects)
            rejected += len(chunk.rejects)
            if progress is not None:
                progress(len(chunk.rows) + len(chunk.rejects))
        await asyncio.gather(*writing)
    finally:
        for task in writing:
            task.cancel()
    now = now_ms()
    return await store.finish_upload(
        job.id,
        total_rows=total,
        rejected_rows=rejected,
        chunks=seq,
        now=now,
        owner=owner,
        lease_until=None if owner is None else now + LEASE_MS,
    )


async def create(
    *,
    store: Store,
    ctx: PortalContext,
    fmt: str,
    file_name: str,
    sha256: str,
    allow_resubscribe: bool,
    actor: str,
    correlation_id: str,
) -> ImportJob:
    return await store.create_import(
        portal_id=ctx.portal.id,
        format=fmt,
        file_name=file_name,
        sha256=sha256,
        allow_resubscribe=allow_resubscribe,
        actor=actor,
        correlation_id=correlation_id,
        now=now_ms(),
    )


async def upload(
    *,
    store: Store,
    call: Call,
    chunks: AsyncIterable[bytes],
    fmt: str,
    file_name: str,
    allow_resubscribe: bool,
    max_bytes: int,
    chunk_rows: int = CHUNK_ROWS,
) -> ImportJob:
    """Take a file as it arrives (the API's raw body, the console's upload) and make it a
    PENDING job that any server process picks up; an unreadable file (or a lost database)
    leaves a canceled job that is never claimed."""
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(prefix="commpref-import-", suffix=f".{fmt}") as tmp:
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(f"The file is larger than the limit of {max_bytes} bytes")
            digest.update(chunk)
            tmp.write(chunk)
        tmp.flush()
        if size == 0:
            raise ValidationError("Invalid import: empty body (the file has no bytes)")
        path = Path(tmp.name)
        if fmt == "csv":
            csv_header(path)
        job = await create(
            store=store,
            ctx=call.ctx,
            fmt=fmt,
            file_name=file_name,
            sha256=digest.hexdigest(),
            allow_resubscribe=allow_resubscribe,
            actor=call.actor.label(),
            correlation_id=call.correlation_id,
        )
        try:
            return await stage(store=store, job=job, ctx=call.ctx, path=path, chunk_rows=chunk_rows)
        except Exception:
            await store.cancel_import(job.id, now=call.now)
            raise
