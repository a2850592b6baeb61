"""Bulk import rules: reading one record of a file, and what one row may change.

The one rule that matters (docs/import-export.md): the timestamp decides. A row changes a
status only when it is newer than what is stored (on a tie an opt-out wins), and an import
never undoes an opt-out — an UNSUBSCRIBED type or an opt-out of all — unless the job was
started with `allow_resubscribe`. An erased address reads as opted out of all since its
erasure (`domain.erasure`), so the same rule keeps it suppressed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from commpref.domain import emails, erasure, formats, rules
from commpref.domain.model import (
    Change,
    ChangeKind,
    Definition,
    LegalBasis,
    Portal,
    PortalContext,
    Status,
    Subscriber,
    TypeStatus,
    WideStatus,
)

ALL = "ALL"  # the subscription column's value for the opt-out-of-all switch
ERASED = "ERASED"  # the subscription column's value for an erasure's suppression
DEFAULT_SOURCE = "Import"
MAX_TEXT = 1000  # longest source or explanation accepted
MAX_TIMESTAMP = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
COLUMNS = (
    "email",
    "subscription_id",
    "subscription_name",
    "business_unit_id",
    "status",
    "timestamp",
    "source",
    "legal_basis",
    "legal_basis_explanation",
    "erasure_key_id",
)
REQUIRED_COLUMNS = ("email", "status")
_ALIASES = {
    "subscriberidstring": "email",
    "emailaddress": "email",
    "subscriptionid": "subscription_id",
    "subscription": "subscription_id",
    "subscriptionname": "subscription_name",
    "businessunitid": "business_unit_id",
    "statusstate": "status",
    "time": "timestamp",
    "legalbasis": "legal_basis",
    "legalbasisexplanation": "legal_basis_explanation",
    "explanation": "legal_basis_explanation",
    "erasurekeyid": "erasure_key_id",
}
_LEGAL_BASES = frozenset(b.value for b in LegalBasis)
_STATUSES = {s.value: s for s in Status}


class ImportStatus(StrEnum):
    UPLOADING = "UPLOADING"  # the file is being read into the job (not yet claimable)
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETE = "COMPLETE"
    CANCELED = "CANCELED"
    FAILED = "FAILED"


FINISHED = frozenset({ImportStatus.COMPLETE, ImportStatus.CANCELED, ImportStatus.FAILED})


class Verdict(StrEnum):
    APPLIED = "APPLIED"
    UNCHANGED = "UNCHANGED"  # already in that state: nothing is stored
    STALE = "STALE"  # the stored state is newer: skipped
    PROTECTED = "PROTECTED"  # would undo an opt-out without allow_resubscribe: skipped


class ImportRow(NamedTuple):
    """One valid row. `subscription_id` None means the opt-out-of-all switch of
    `business_unit_id`, or, when `email` is an erasure label (`erasure.is_label`), that
    erasure's suppression. (A tuple: a million-row import builds a million of them.)"""

    line: int
    email: str
    subscription_id: int | None
    business_unit_id: int
    status: Status
    timestamp: int
    source: str
    legal_basis: str | None = None
    legal_basis_explanation: str | None = None


class ReportRow(NamedTuple):
    """One row that was not applied: REJECTED (invalid) or SKIPPED (a rule kept it out)."""

    line: int
    email: str  # as given in the file
    kind: str  # "REJECTED" | "SKIPPED"
    reason: str


@dataclass(slots=True)
class ImportTally:
    """What one chunk did: counts, and the rows to add to the job's report."""

    processed: int = 0
    applied: int = 0
    unchanged: int = 0
    skipped: int = 0
    report: list[ReportRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ImportJob:
    id: int
    portal_id: int
    status: ImportStatus
    format: str
    file_name: str
    sha256: str
    allow_resubscribe: bool
    actor: str
    correlation_id: str
    total_rows: int
    processed_rows: int
    applied_rows: int
    unchanged_rows: int
    skipped_rows: int
    rejected_rows: int
    chunks: int
    chunks_done: int
    lease_owner: str | None
    lease_until: int | None
    error: str | None
    created_at: int
    started_at: int | None
    finished_at: int | None


# --- reading one record --------------------------------------------------------------------


def column(name: str) -> str:
    """A header (or JSON key) as its canonical column name; unknown names stay as they are."""
    flat = name.strip().lower().replace("-", "_").replace(" ", "_")
    return _ALIASES.get(flat.replace("_", ""), flat)


def parse_timestamp(value: str) -> int | None:
    """Epoch milliseconds (an integer) or an ISO 8601 time (UTC unless it says otherwise),
    from 1970 to the end of year 9999; None for anything else."""
    ms = formats.parse_time(value.strip())
    return ms if ms is not None and 0 <= ms <= MAX_TIMESTAMP else None


def _text(value: Any, *, strip: bool = True) -> str:
    """A field as clean text: no NUL (PostgreSQL cannot store it) and no lone surrogates.
    Free text (`strip=False`) keeps its spaces, so an exported status imports unchanged."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip() if strip else str(value)
    if text.isascii():  # the common case, and the cheap one
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _definition(ctx: PortalContext, raw_id: str, name: str) -> Definition | str:
    """The definition a row names. When the id is this portal's but the name is another
    definition's (a file exported from another database, where ids differ), the name wins."""
    named = [d for d in ctx.definitions if d.name == name] if name else []
    if raw_id:
        number = formats.parse_int64(raw_id)
        if number is None:
            return f"subscription_id {raw_id} is neither a definition id nor {ALL} or {ERASED}"
        found = ctx.definition(number)
        if found is not None and (found.name == name or len(named) != 1):
            return found
        if not name:
            return f"Subscription definition {raw_id} does not exist"
    if len(named) == 1:
        return named[0]
    if not named:
        return f"No subscription definition is named {name!r}"
    return f"Several subscription definitions are named {name!r}"


def _suppression(
    line: int, record: dict[str, Any], raw_email: str, erasure_key_id: str, *, now: int
) -> ImportRow | ReportRow:
    """An `ERASED` row: an erasure's keyed hash, kept as a suppression. The hash only
    suppresses anything under the erasure key it was made with, hence the key id check."""

    def reject(reason: str) -> ReportRow:
        return ReportRow(line, raw_email, "REJECTED", reason)

    if erasure.key_of(raw_email) is None:
        return reject(f"{ERASED} rows take an erasure label ({erasure.LABEL_PREFIX}<64 hex>)")
    if _text(record.get("status")).upper() != Status.UNSUBSCRIBED.value:
        return reject(f"{ERASED} rows take UNSUBSCRIBED")
    given = _text(record.get("erasure_key_id")).lower()
    if given != erasure_key_id:
        return reject(
            f"Erased under erasure key {given or '(none given)'}, not this portal's "
            f"({erasure_key_id}): create the portal with the source portal's erasure key"
        )
    raw_ts = _text(record.get("timestamp"))
    timestamp = parse_timestamp(raw_ts) if raw_ts else now
    if timestamp is None:
        return reject(
            f"Invalid timestamp {raw_ts}; use epoch milliseconds or ISO 8601 (1970 to 9999)"
        )
    source = _text(record.get("source"), strip=False) or erasure.ERASURE_SOURCE
    if len(source) > MAX_TEXT:
        return reject(f"source holds at most {MAX_TEXT} characters")
    return ImportRow(line, raw_email, None, 0, Status.UNSUBSCRIBED, timestamp, source)


def read_record(
    ctx: PortalContext,
    line: int,
    record: dict[str, Any],
    *,
    now: int,
    erasure_key_id: str = "",
) -> ImportRow | ReportRow:
    """One record (keys already canonical, see `column`) as a valid row, or the reason it
    is rejected. Rows without a timestamp take `now` (the job's creation). `erasure_key_id`
    is the portal's (`erasure.key_id`): `ERASED` rows made under another key are rejected."""
    raw_email = _text(record.get("email"))
    if _text(record.get("subscription_id")).upper() == ERASED:
        return _suppression(line, record, raw_email, erasure_key_id, now=now)
    # U+FFFD stands for bytes that were not UTF-8 (or a NUL): never part of a real address.
    email = None if "\ufffd" in raw_email else emails.parse(raw_email)

    def reject(reason: str) -> ReportRow:
        return ReportRow(line, raw_email, "REJECTED", reason)

    if email is None:
        return reject("Invalid email address")
    raw_status = _text(record.get("status")).upper()
    status = _STATUSES.get(raw_status)
    if status is None:
        return reject(f"Invalid status {raw_status or '(empty)'}; use SUBSCRIBED, UNSUBSCRIBED "
                      "or NOT_SPECIFIED")  # fmt: skip
    raw_id = _text(record.get("subscription_id"))
    name = _text(record.get("subscription_name"))
    raw_unit = _text(record.get("business_unit_id"))
    subscription_id: int | None = None
    unit = 0
    if not raw_id and not name:
        return reject(f"subscription_id is required: a definition id, or {ALL}")
    if raw_id.upper() == ALL:
        if status is Status.NOT_SPECIFIED:
            return reject(f"{ALL} rows take SUBSCRIBED or UNSUBSCRIBED")
        if raw_unit:
            parsed_unit = formats.parse_int64(raw_unit)
            if parsed_unit is None:
                return reject(f"Invalid business_unit_id {raw_unit}")
            unit = parsed_unit
        if unit not in ctx.business_units or (not ctx.portal.brands and unit != 0):
            return reject(f"Business unit {unit} does not exist")
    else:
        found = _definition(ctx, raw_id, name)
        if isinstance(found, str):
            return reject(found)
        subscription_id = found.id
        unit = found.business_unit_id
    raw_ts = _text(record.get("timestamp"))
    timestamp = parse_timestamp(raw_ts) if raw_ts else now
    if timestamp is None:
        return reject(
            f"Invalid timestamp {raw_ts}; use epoch milliseconds or ISO 8601 (1970 to 9999)"
        )
    legal_basis = _text(record.get("legal_basis")).upper() or None
    if legal_basis is not None and legal_basis not in _LEGAL_BASES:
        return reject(f"Invalid legal_basis {legal_basis}")
    explanation = _text(record.get("legal_basis_explanation"), strip=False) or None
    source = _text(record.get("source"), strip=False) or DEFAULT_SOURCE
    if len(source) > MAX_TEXT or (explanation is not None and len(explanation) > MAX_TEXT):
        return reject(f"source and legal_basis_explanation hold at most {MAX_TEXT} characters")
    if subscription_id is not None and rules.missing_legal_basis(
        ctx.portal, status, legal_basis, explanation
    ):
        return reject(rules.GDPR_MESSAGE)
    return ImportRow(line, email, subscription_id, unit, status, timestamp, source, legal_basis,
                     explanation)  # fmt: skip


# --- applying one row ----------------------------------------------------------------------


def _newer(row: ImportRow, stored_at: int | None, opt_out: bool) -> bool:
    """Newer than what is stored; on a tie only an opt-out wins."""
    return (
        stored_at is None or row.timestamp > stored_at or (opt_out and row.timestamp == stored_at)
    )


def apply_row(
    portal: Portal,
    sub: Subscriber,
    row: ImportRow,
    definition: Definition | None,
    *,
    allow_resubscribe: bool,
) -> tuple[Verdict, list[Change], str]:
    """Apply one valid row to `sub` (mutated in place). Returns the verdict, the changes made
    and, for skipped rows, the reason."""
    if definition is None:
        return _apply_wide(sub, row, allow_resubscribe=allow_resubscribe)
    stored = sub.types.get(definition.id)
    cur = stored.status if stored is not None else Status.NOT_SPECIFIED
    stored_at = stored.timestamp if stored is not None else None
    unit = rules.covering_unit(portal, definition)
    wide = sub.wide.get(unit)
    opted_out = wide is not None and wide.status is Status.UNSUBSCRIBED
    opt_out = row.status is Status.UNSUBSCRIBED
    lift = row.status is Status.SUBSCRIBED and opted_out
    if cur is row.status and not lift:
        if stored is None:
            # An explicit NOT_SPECIFIED where nothing is stored (an exported row, say): stored
            # with its source and time, so it is a change the ledger must hold.
            sub.types[definition.id] = TypeStatus(
                row.status, row.source, row.timestamp, row.legal_basis, row.legal_basis_explanation
            )
            change = Change(ChangeKind.TYPE, definition.id, cur, row.status, row.legal_basis,
                            row.legal_basis_explanation)  # fmt: skip
            return Verdict.APPLIED, [change], ""
        return Verdict.UNCHANGED, [], ""
    if cur is not row.status and not _newer(row, stored_at, opt_out):
        return Verdict.STALE, [], "the stored status is newer"
    if lift and wide is not None and row.timestamp <= wide.timestamp:
        return Verdict.STALE, [], "the opt-out of all is newer"
    if (lift or cur is Status.UNSUBSCRIBED) and not allow_resubscribe:
        return Verdict.PROTECTED, [], "would undo an opt-out (allow resubscribe to apply it)"
    changes: list[Change] = []
    if cur is not row.status:
        sub.types[definition.id] = TypeStatus(
            row.status, row.source, row.timestamp, row.legal_basis, row.legal_basis_explanation
        )
        changes.append(Change(ChangeKind.TYPE, definition.id, cur, row.status,
                              row.legal_basis, row.legal_basis_explanation))  # fmt: skip
    if lift:
        sub.wide[unit] = WideStatus(Status.SUBSCRIBED, row.timestamp, row.source)
        changes.append(Change(ChangeKind.WIDE, unit, Status.UNSUBSCRIBED, Status.SUBSCRIBED))
    return Verdict.APPLIED, changes, ""


def _apply_wide(
    sub: Subscriber, row: ImportRow, *, allow_resubscribe: bool
) -> tuple[Verdict, list[Change], str]:
    unit = row.business_unit_id
    wide = sub.wide.get(unit)
    cur = wide.status if wide is not None else Status.NOT_SPECIFIED
    if cur is row.status:
        return Verdict.UNCHANGED, [], ""
    opt_out = row.status is Status.UNSUBSCRIBED
    if not _newer(row, wide.timestamp if wide is not None else None, opt_out):
        return Verdict.STALE, [], "the stored opt-out-of-all status is newer"
    if cur is Status.UNSUBSCRIBED and not allow_resubscribe:
        return Verdict.PROTECTED, [], "would undo an opt-out (allow resubscribe to apply it)"
    sub.wide[unit] = WideStatus(row.status, row.timestamp, row.source)
    return Verdict.APPLIED, [Change(ChangeKind.WIDE, unit, cur, row.status)], ""


def apply_suppression(stored_at: int | None, row: ImportRow) -> Verdict:
    """An `ERASED` row against the suppression stored under its hash (its erasure time, or
    None): stored when newer, as a repeated erasure keeps the newest time."""
    return Verdict.APPLIED if stored_at is None or row.timestamp > stored_at else Verdict.UNCHANGED
