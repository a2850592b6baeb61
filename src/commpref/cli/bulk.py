"""`commpref history`, `import`, `export` and `erase`: the bulk commands (added to the
`commpref` group by `commpref.cli`). Same conventions (`cli/options.py`): `--database-url`,
the value on stdout, progress and tables on stderr, one-line errors and exit 1."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import click
import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from commpref.cli.options import build_settings, database_url_option, run
from commpref.domain.formats import format_ms
from commpref.domain.imports import FINISHED, ImportJob, ImportStatus, ReportRow
from commpref.domain.model import Actor, ChangeKind
from commpref.jobs.runner import owner_id, owner_is_dead
from commpref.services import erasure, exports, history, imports, uploads
from commpref.services.context import Call, now_ms
from commpref.services.statuses import require_email
from commpref.storage.ledger import Erasure
from commpref.storage.store import Store

FOLLOW_POLL_S = 0.5
_encode = msgspec.json.Encoder().encode


def _console() -> Console:
    return Console(stderr=True)


# --- history -----------------------------------------------------------------------------------


@click.command("history")
@click.argument("email")
@click.option("--portal", "portal_id", type=int, required=True)
@database_url_option
def history_command(email: str, portal_id: int, database_url: str | None) -> None:
    """Print the consent history of EMAIL as a table, oldest first."""

    async def fetch(store: Store) -> list[history.ConsentEvent]:
        address = require_email(email)
        await store.portal_context(portal_id)  # NotFound for an unknown portal
        found: list[history.ConsentEvent] = []
        since: str | None = None
        while True:
            page = await history.subscriber_history(
                store=store, portal_id=portal_id, email=address, since=since, limit=1000
            )
            found += page.events
            if not page.has_more:
                return found
            since = page.cursor

    events = run(build_settings(database_url), fetch)
    table = Table(title=f"Consent history of {email.strip().lower()}", show_lines=False)
    for name in ("Id", "Time (UTC)", "Scope", "Change", "Source", "Legal basis", "Actor",
                 "Correlation id"):  # fmt: skip
        table.add_column(name, overflow="fold")
    for e in events:
        entry, c = e.entry.event, e.change
        scope = {
            ChangeKind.TYPE: f"subscription {c.target}",
            ChangeKind.WIDE: f"all (business unit {c.target})",
            ChangeKind.ERASURE: "erasure",
        }.get(c.kind, c.kind.value.lower().replace("_", " "))  # bounce, soft bounce, …
        basis = " — ".join(x for x in (c.legal_basis, c.legal_basis_explanation) if x)
        table.add_row(e.id, format_ms(entry.at), scope, f"{c.old.value} → {c.new.value}",
                      entry.source, basis, entry.actor, entry.correlation_id)  # fmt: skip
    Console(width=None if sys.stdout.isatty() else 320).print(table)  # pipes: no wrapping


# --- import ------------------------------------------------------------------------------------


def _summary(job: ImportJob) -> dict[str, Any]:
    return {
        "job": job.id,
        "status": job.status.value,
        "rows": job.total_rows,
        "applied": job.applied_rows,
        "unchanged": job.unchanged_rows,
        "skipped": job.skipped_rows,
        "rejected": job.rejected_rows,
    }


REPORT_COLUMNS = ("line", "email", "kind", "reason")


async def _report(store: Store, job_id: int, path: Path | None) -> tuple[int, list[ReportRow]]:
    """Write the whole report to `path` page by page (constant memory); return how many rows
    it has and the first 20, for the terminal."""
    first: list[ReportRow] = []
    count = after = 0
    out = path.open("wb") if path is not None else None
    try:
        if out is not None:
            out.write(exports.encode("csv", REPORT_COLUMNS, [], True))
        while batch := await store.import_report(job_id, after_line=after, limit=5000):
            count += len(batch)
            first += batch[: 20 - len(first)]
            after = batch[-1].line
            if out is None and len(first) == 20:
                break
            if out is not None:
                records = [r._asdict() for r in batch]
                out.write(exports.encode("csv", REPORT_COLUMNS, records, False))
    finally:
        if out is not None:
            out.close()
    return count, first


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--format", "fmt", type=click.Choice(uploads.FORMATS), default=None,
              help="Default: from the file name (.jsonl/.ndjson → jsonl), else csv.")  # fmt: skip
@click.option("--allow-resubscribe", is_flag=True,
              help="Let newer rows undo opt-outs and erasures.")  # fmt: skip
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write rejected and skipped rows (CSV) here.")  # fmt: skip
@click.option("--chunk-rows", type=int, default=None, help="Rows per transaction.")
@click.option("--max-rate", type=click.FloatRange(min=1), default=None, metavar="ROWS",
              help="At most ROWS rows a second (leaves room for live traffic).")  # fmt: skip
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@database_url_option
def import_command(
    file: Path,
    portal_id: int,
    fmt: str | None,
    allow_resubscribe: bool,
    report_path: Path | None,
    chunk_rows: int | None,
    max_rate: float | None,
    progress: bool,
    database_url: str | None,
) -> None:
    """Import FILE (CSV or JSON Lines: email, subscription_id or ALL, status, timestamp,
    source, legal_basis, legal_basis_explanation). Re-running after a crash resumes the
    same job; prints the job's counts as JSON."""
    settings = build_settings(database_url)
    rows_per_chunk = chunk_rows or settings.import_chunk_rows
    if max_rate is not None and rows_per_chunk / max_rate > imports.LEASE_MS / 2000:
        # One chunk's pause must stay well inside the lease, or another worker takes over.
        raise click.BadParameter(
            f"at most {imports.LEASE_MS // 2000} s per chunk: raise it or lower --chunk-rows",
            param_hint="--max-rate",
        )
    console = _console()
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=not progress, transient=False,
    )  # fmt: skip

    async def go(store: Store) -> tuple[ImportJob, tuple[int, list[ReportRow]]]:
        ctx = await store.portal_context(portal_id)
        kind = uploads.detect_format(fmt, file.name)
        if kind == "csv":
            uploads.csv_header(file)
        digest = await asyncio.to_thread(uploads.sha256_file, file)
        owner = owner_id()
        job = await store.find_import(
            portal_id=portal_id, sha256=digest, allow_resubscribe=allow_resubscribe
        )
        mine = False
        if job is None or job.status is ImportStatus.UPLOADING:
            if job is None:
                job = await uploads.create(
                    store=store, ctx=ctx, fmt=kind, file_name=file.name, sha256=digest,
                    allow_resubscribe=allow_resubscribe, actor="cli",
                    correlation_id=str(uuid.uuid4()),
                )  # fmt: skip
            else:  # a run that died while reading the file: read it again
                await store.restart_upload(job.id, now=now_ms())
            reading = bar.add_task("reading", total=None)
            job = await uploads.stage(
                store=store, job=job, ctx=ctx, path=file, chunk_rows=rows_per_chunk,
                owner=owner, progress=lambda n: bar.advance(reading, n),
            )  # fmt: skip
            mine = True
        elif job.status not in FINISHED:
            steal = [job.lease_owner] if owner_is_dead(job.lease_owner) else []
            now = now_ms()
            claimed = await store.claim_import(
                owner=owner, now=now, lease_until=now + imports.LEASE_MS, job_id=job.id,
                steal_from=[s for s in steal if s],
            )  # fmt: skip
            if claimed is not None:
                job, mine = claimed, True
        valid = job.total_rows - job.rejected_rows
        applying = bar.add_task(f"importing (job {job.id})", total=valid)
        bar.update(applying, completed=job.processed_rows)
        if mine:
            job = await imports.run(
                store=store, job=job, owner=owner, max_rows_per_second=max_rate,
                progress=lambda n: bar.advance(applying, n),
            )  # fmt: skip
        holder = None
        while job.status not in FINISHED:  # another live process runs it: follow along
            if job.lease_owner != holder:
                holder = job.lease_owner
                console.print(_held(job))
            await asyncio.sleep(FOLLOW_POLL_S)
            job = await store.get_import(job.id) or job
            bar.update(applying, completed=job.processed_rows)
        return job, await _report(store, job.id, report_path)

    with bar:
        job, (count, report) = run(settings, go)
    _print_import(console, job, count, report, report_path)
    click.echo(_encode(_summary(job)).decode())
    if job.status is not ImportStatus.COMPLETE:
        sys.exit(1)


def _held(job: ImportJob) -> str:
    """Why this run waits: the job is another live process's (named by its lease)."""
    if job.lease_owner is None:
        return f"Import job {job.id} waits for a worker to claim it."
    until = format_ms(job.lease_until) if job.lease_until is not None else "?"
    return (
        f"Import job {job.id} is being applied by {job.lease_owner} (its lease runs until "
        f"{until}); following its progress. If that process is stopped, this run takes the "
        "job over when the lease lapses."
    )


def _print_import(
    console: Console, job: ImportJob, count: int, first: list[ReportRow], path: Path | None
) -> None:
    summary = Table(title=f"Import job {job.id}: {job.status.value}")
    for name in ("rows", "applied", "unchanged", "skipped", "rejected"):
        summary.add_column(name, justify="right")
    summary.add_row(*(str(v) for v in list(_summary(job).values())[2:]))
    console.print(summary)
    if job.error:
        console.print(f"error: {job.error}")
    if path is not None:
        console.print(f"{count} rejected or skipped row(s) written to {path}")
    elif first:
        lines = Table(title="Rows not applied (the first 20; --report FILE writes all)")
        for name in REPORT_COLUMNS:
            lines.add_column(name)
        for r in first:
            lines.add_row(str(r.line), r.email, r.kind, r.reason)
        console.print(lines)


# --- export and erase ----------------------------------------------------------------------------


@click.command("export")
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--format", "fmt", type=click.Choice(("csv", "jsonl")), default="csv",
              show_default=True)  # fmt: skip
@click.option("--only-unsubscribed", is_flag=True, help="Only UNSUBSCRIBED statuses.")
@click.option("--history", "with_history", is_flag=True,
              help="The ledger (one row per event) instead of the current state.")  # fmt: skip
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of stdout.")  # fmt: skip
@database_url_option
def export_command(
    portal_id: int,
    fmt: str,
    only_unsubscribed: bool,
    with_history: bool,
    output: Path | None,
    database_url: str | None,
) -> None:
    """Stream every address's current statuses (or the ledger) in constant memory."""

    async def go(store: Store) -> None:
        ctx = await store.portal_context(portal_id)
        out = output.open("wb") if output is not None else sys.stdout.buffer
        try:
            async for chunk in exports.stream(
                store=store, ctx=ctx, fmt=fmt, only_unsubscribed=only_unsubscribed,
                with_history=with_history,
            ):  # fmt: skip
                out.write(chunk)
        finally:
            out.flush()
            if output is not None:
                out.close()

    run(build_settings(database_url), go)


@click.command("erase")
@click.argument("email")
@click.option("--portal", "portal_id", type=int, required=True)
@database_url_option
def erase_command(email: str, portal_id: int, database_url: str | None) -> None:
    """Erase EMAIL: remove its statuses, relabel its ledger with a keyed hash, keep it
    suppressed. Prints the hash label."""

    async def go(store: Store) -> Erasure:
        ctx = await store.portal_context(portal_id)
        return await erasure.erase(store=store, call=Call.make(ctx, Actor("cli")), email=email)

    done = run(build_settings(database_url), go)
    if done.already_erased:
        _console().print(f"{email} was erased already and has nothing stored: nothing changed.")
    click.echo(done.label)


COMMANDS: tuple[click.Command, ...] = (
    history_command,
    import_command,
    export_command,
    erase_command,
)
