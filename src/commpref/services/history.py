"""The consent history: the ledger as a list of consent events, and the change feed.

The ledger keeps one entry per (request, subscriber) holding that request's changes; the
history shows one *consent event* per change. An event's id is `"<entry id>.<index>"` (the
index of the change within its entry), stable forever; events are ordered by (entry id,
index). A cursor names a position in that order; it is opaque to clients (base64url) and
a page continues strictly after it, so the feed can be polled with the last cursor.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from commpref.domain.model import Change, ChangeKind
from commpref.errors import ValidationError
from commpref.storage.ledger import StoredEvent
from commpref.storage.store import Store

SCAN_ROWS = 10_000  # ledger entries one page may look at before answering
_POSITION = re.compile(r"(\d{1,18})\.(-1|\d{1,9})")  # ids stay within int64
ALL = "ALL"


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One change of one ledger entry."""

    id: str
    entry: StoredEvent
    change: Change


@dataclass(frozen=True, slots=True)
class Page:
    events: list[ConsentEvent]
    cursor: str  # pass as `since` to continue after the last event (or position) seen
    has_more: bool  # more entries remain: ask again at once (a page may come back empty)


@dataclass(frozen=True, slots=True)
class Filters:
    subscription: int | str | None = None  # a definition id, or ALL (opt-out-of-all switch)
    actor: str | None = None
    at_from: int | None = None
    at_to: int | None = None

    def matches(self, change: Change) -> bool:
        if self.subscription is None:
            return True
        if self.subscription == ALL:
            return change.kind is not ChangeKind.TYPE
        return change.kind is ChangeKind.TYPE and change.target == self.subscription


def event_id(entry_id: int, index: int) -> str:
    return f"{entry_id}.{index}"


def encode_cursor(entry_id: int, index: int) -> str:
    raw = f"{entry_id}.{index}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> tuple[int, int]:
    """(entry id, index) of a cursor; the start of the ledger for None."""
    if not cursor:
        return 0, -1
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    match = _POSITION.fullmatch(raw)
    if match is None:
        message = f"Invalid cursor: {cursor}"
        raise ValidationError(message, errors=[{"message": message, "in": "since"}])
    return int(match[1]), int(match[2])


def parse_subscription(raw: str | None) -> int | str | None:
    """The `subscriptionId` filter: a definition id or ALL."""
    if raw is None:
        return None
    if raw.upper() == ALL:
        return ALL
    if raw.isascii() and raw.isdigit() and len(raw) <= 19:  # not '²' (fuzzer)
        return int(raw)
    message = f"Invalid value for query parameter subscriptionId: {raw}. Expected an id or ALL"
    raise ValidationError(message, errors=[{"message": message, "in": "subscriptionId"}])


async def page(
    *,
    store: Store,
    portal_id: int,
    since: str | None,
    limit: int,
    filters: Filters = Filters(),
    subjects: Sequence[str] | None = None,
) -> Page:
    """Consent events after `since`, at most `limit`, of `subjects` (addresses or erasure
    labels) if given, matching `filters`."""
    entry_id, index = decode_cursor(since)
    events: list[ConsentEvent] = []
    position = (entry_id, index)
    after = entry_id - 1 if entry_id > 0 else 0  # the cursor's own entry may hold more
    scanned = 0
    batch = min(max(limit, 100), 1000)
    while scanned < SCAN_ROWS:
        entries = await store.ledger(
            portal_id,
            subjects=subjects,
            after_id=after,
            limit=batch,
            actor=filters.actor,
            at_from=filters.at_from,
            at_to=filters.at_to,
        )
        for entry in entries:
            for i, change in enumerate(entry.event.changes):
                if (entry.id, i) <= (entry_id, index):
                    continue
                position = (entry.id, i)
                if filters.matches(change):
                    events.append(ConsentEvent(event_id(entry.id, i), entry, change))
                    if len(events) == limit:
                        return Page(events, encode_cursor(*position), True)
            if entry.event.changes:
                position = max(position, (entry.id, len(entry.event.changes) - 1))
        scanned += len(entries)
        if len(entries) < batch:
            return Page(events, encode_cursor(*position), False)
        after = entries[-1].id
    return Page(events, encode_cursor(*position), True)


async def subscriber_history(
    *, store: Store, portal_id: int, email: str, since: str | None, limit: int
) -> Page:
    """The consent events of one address, including those an erasure relabelled."""
    label = await store.subject_label(portal_id, email)
    return await page(
        store=store, portal_id=portal_id, since=since, limit=limit, subjects=[email, label]
    )
