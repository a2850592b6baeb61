"""The bounce mark of an address (`Subscriber.bounce`) in exports and imports.

A state export writes one `BOUNCED` record for a bounced address (its `subscription_id`
column, beside the `ALL` and `ERASED` values of `domain.imports`), with the bounce's time
and source; importing it marks the address bounced again, with a BOUNCE ledger entry, so
export → import reproduces the mark. A BOUNCED row is an `ImportRow` without a definition
whose `business_unit_id` is `BOUNCE_UNIT` (no business unit has a negative id): a job's
stored chunks keep their one packed shape.
"""

from __future__ import annotations

from typing import Any

from commpref.domain import emails
from commpref.domain.erasure import ERASURE_SOURCE
from commpref.domain.imports import (
    DEFAULT_SOURCE,
    MAX_TEXT,
    ImportRow,
    ReportRow,
    Verdict,
    parse_timestamp,
)
from commpref.domain.model import Bounce, Change, ChangeKind, Status, Subscriber

BOUNCED = "BOUNCED"  # the subscription column's value for a bounce mark
BOUNCE_UNIT = -1
BOUNCE_CHANGE = Change(ChangeKind.BOUNCE, 0, Status.NOT_SPECIFIED, Status.NOT_SPECIFIED)


def is_erased(sub: Subscriber) -> bool:
    """An erased address as rules see it (`erasure.suppressed_subscriber`): a bounce is not
    recorded for it, since recording would store the address again."""
    return bool(sub.wide) and all(w.source == ERASURE_SOURCE for w in sub.wide.values())


def is_bounce_record(record: dict[str, Any]) -> bool:
    value = record.get("subscription_id")
    return isinstance(value, str) and value.strip().upper() == BOUNCED


def is_bounce_row(row: ImportRow) -> bool:
    return row.subscription_id is None and row.business_unit_id == BOUNCE_UNIT


def read_record(line: int, record: dict[str, Any], *, now: int) -> ImportRow | ReportRow:
    """A BOUNCED record (keys canonical) as a row; its status column is not read."""
    raw_email = str(record.get("email") or "").strip()
    email = None if "\ufffd" in raw_email or "\x00" in raw_email else emails.parse(raw_email)
    if email is None:
        return ReportRow(line, raw_email, "REJECTED", "Invalid email address")
    raw_ts = str(record.get("timestamp") or "").strip()
    timestamp = parse_timestamp(raw_ts) if raw_ts else now
    if timestamp is None:
        return ReportRow(line, raw_email, "REJECTED", f"Invalid timestamp {raw_ts}")
    source = str(record.get("source") or "").replace("\x00", "\ufffd") or DEFAULT_SOURCE
    if len(source) > MAX_TEXT:
        return ReportRow(line, raw_email, "REJECTED", f"source holds at most {MAX_TEXT} characters")
    return ImportRow(line, email, None, BOUNCE_UNIT, Status.NOT_SPECIFIED, timestamp, source)


def apply_row(sub: Subscriber, row: ImportRow) -> tuple[Verdict, list[Change], str]:
    """Mark `sub` bounced as the row says, unless its mark is as new or newer."""
    if is_erased(sub):
        return Verdict.STALE, [], "the address is erased"
    if sub.bounce is not None and sub.bounce.at >= row.timestamp:
        if sub.bounce == Bounce(row.timestamp, row.source):
            return Verdict.UNCHANGED, [], ""
        return Verdict.STALE, [], "the stored bounce is newer"
    sub.bounce = Bounce(at=row.timestamp, source=row.source)
    return Verdict.APPLIED, [BOUNCE_CHANGE], ""


def export_record(sub: Subscriber) -> dict[str, Any] | None:
    """The BOUNCED record of a bounced address (None when it is not bounced); times in
    the export's form are filled in by the caller."""
    if sub.bounce is None:
        return None
    return {
        "email": sub.email,
        "subscription_id": BOUNCED,
        "subscription_name": "",
        "business_unit_id": None,
        "status": Status.NOT_SPECIFIED.value,
        "timestamp": sub.bounce.at,
        "source": sub.bounce.source,
        "legal_basis": None,
        "legal_basis_explanation": None,
        "erasure_key_id": None,
    }
