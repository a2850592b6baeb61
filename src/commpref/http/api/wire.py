"""Wire shapes of commpref's own API (`/commpref/v1`) and of its webhook payloads: the
shared ones, consent history, imports and webhooks. The administration's shapes live in
`admin_wire.py`; `links.py` and `users.py` keep their own.

Conventions as in `http.wire`: times are ISO 8601 UTC strings with milliseconds; a field
typed `X | None` is always sent (`null` when unset).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

import msgspec

from commpref.domain.imports import ImportJob, ReportRow
from commpref.domain.model import ChangeKind
from commpref.domain.webhooks import Delivery, EventFilter, Webhook
from commpref.http.values import DateTime, Int64, V4Status, iso
from commpref.services.history import ConsentEvent as Event

# BOUNCE and SOFT_BOUNCE: what a mail provider reported (docs/feedback.md); no status changes
# CONFIRMATION_REQUESTED: a sign-up asked to confirm a type (docs/signups.md); no status changes
Scope = Literal[
    "SUBSCRIPTION", "WIDE", "ERASURE", "BOUNCE", "SOFT_BOUNCE", "CONFIRMATION_REQUESTED"
]
JobStatus = Literal["UPLOADING", "PENDING", "PROCESSING", "COMPLETE", "CANCELED", "FAILED"]
DeliveryStateValue = Literal["PENDING", "DELIVERED", "FAILED", "SKIPPED"]


class _Wire(msgspec.Struct, kw_only=True, gc=False):
    pass


# --- history -------------------------------------------------------------------------------


class ConsentEvent(_Wire, kw_only=True):
    """One change of consent. `id` is `<ledger entry id>.<index of the change>`."""

    id: str
    occurredAt: DateTime
    subscriberIdString: str  # the address, or `erased:<hash>` after an erasure
    scope: Scope  # a definition's status, an opt-out-of-all switch, or an erasure
    subscriptionId: Int64 | None
    businessUnitId: Int64 | None
    oldStatus: V4Status
    newStatus: V4Status
    source: str
    legalBasis: str | None
    legalBasisExplanation: str | None
    actor: str  # token:<id>, preference_page, one_click, import:<job id>, cli, …
    correlationId: str


class ConsentEventPage(_Wire, kw_only=True):
    results: list[ConsentEvent]
    cursor: str  # pass as `since` to continue after this page (also when it is empty)
    hasMore: bool  # true: more events may follow at once; false: caught up


class Done(_Wire, kw_only=True):
    status: Literal["COMPLETE"]


class Erasure(_Wire, kw_only=True):
    status: Literal["COMPLETE"]
    subscriberHash: str  # what the ledger shows instead of the address from now on
    statusesRemoved: bool
    eventsRewritten: int
    alreadyErased: bool  # nothing stored and suppressed already: nothing changed


_OF_A_TYPE = frozenset({ChangeKind.TYPE, ChangeKind.CONFIRMATION})  # target: a type's id


def consent_event(e: Event) -> ConsentEvent:
    entry, change = e.entry.event, e.change
    return ConsentEvent(
        id=e.id,
        occurredAt=iso(entry.at),
        subscriberIdString=entry.email,
        scope=cast(Any, change.kind.value),
        subscriptionId=change.target if change.kind in _OF_A_TYPE else None,
        businessUnitId=change.target if change.kind is ChangeKind.WIDE else None,
        oldStatus=cast(Any, change.old.value),
        newStatus=cast(Any, change.new.value),
        source=entry.source,
        legalBasis=change.legal_basis,
        legalBasisExplanation=change.legal_basis_explanation,
        actor=entry.actor,
        correlationId=entry.correlation_id,
    )


# --- imports ---------------------------------------------------------------------------------


class ImportCounts(_Wire, kw_only=True):
    rows: int  # data records read from the file
    processed: int  # valid rows applied so far (whatever their verdict)
    applied: int  # rows that changed consent
    unchanged: int  # rows already in effect
    skipped: int  # rows a rule kept out (older than the stored state; an opt-out undone)
    rejected: int  # invalid rows (see the report)


class ImportJobView(_Wire, kw_only=True):
    id: int
    status: JobStatus
    format: str
    fileName: str
    sha256: str
    allowResubscribe: bool
    counts: ImportCounts
    chunks: int
    chunksDone: int
    actor: str
    correlationId: str
    error: str | None
    createdAt: DateTime
    startedAt: DateTime | None
    completedAt: DateTime | None


class ImportJobList(_Wire, kw_only=True):
    results: list[ImportJobView]


class ReportLine(_Wire, kw_only=True):
    line: int
    subscriberIdString: str
    kind: Literal["REJECTED", "SKIPPED"]
    reason: str


class ImportReport(_Wire, kw_only=True):
    results: list[ReportLine]
    after: int  # pass as `after` for the next page
    hasMore: bool


def import_job(j: ImportJob) -> ImportJobView:
    return ImportJobView(
        id=j.id,
        status=cast(Any, j.status.value),
        format=j.format,
        fileName=j.file_name,
        sha256=j.sha256,
        allowResubscribe=j.allow_resubscribe,
        counts=ImportCounts(
            rows=j.total_rows,
            processed=j.processed_rows,
            applied=j.applied_rows,
            unchanged=j.unchanged_rows,
            skipped=j.skipped_rows,
            rejected=j.rejected_rows,
        ),
        chunks=j.chunks,
        chunksDone=j.chunks_done,
        actor=j.actor,
        correlationId=j.correlation_id,
        error=j.error,
        createdAt=iso(j.created_at),
        startedAt=None if j.started_at is None else iso(j.started_at),
        completedAt=None if j.finished_at is None else iso(j.finished_at),
    )


def report_line(r: ReportRow) -> ReportLine:
    return ReportLine(
        line=r.line, subscriberIdString=r.email, kind=cast(Any, r.kind), reason=r.reason
    )


# --- webhooks --------------------------------------------------------------------------------


DefinitionId = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class EventFilterBody(_Wire, kw_only=True):
    statuses: list[V4Status] | None = None  # deliver changes to these statuses only
    subscriptionIds: list[DefinitionId] | None = None  # deliver changes of these definitions only
    includeWide: bool = True  # deliver opt-out-of-all changes


class WebhookCreate(_Wire, kw_only=True):
    url: str
    eventFilter: EventFilterBody | None = None
    secret: str | None = None  # generated when absent
    active: bool = True


class WebhookUpdate(_Wire, kw_only=True):
    url: str | None = None
    eventFilter: EventFilterBody | None = None
    rotateSecret: bool = False  # a new generated secret, shown in this answer only
    secret: str | None = None
    active: bool | None = None


class WebhookView(_Wire, kw_only=True):
    id: int
    url: str
    eventFilter: EventFilterBody
    active: bool
    createdAt: DateTime
    updatedAt: DateTime
    secret: str | msgspec.UnsetType = msgspec.UNSET  # only when created or rotated


class WebhookList(_Wire, kw_only=True):
    results: list[WebhookView]


class DeliveryView(_Wire, kw_only=True):
    id: int
    webhookId: int
    ledgerEntryId: int  # its events are `<ledgerEntryId>.<index>`
    subscriberIdString: str
    state: DeliveryStateValue
    attempts: int
    nextAttemptAt: DateTime | None
    lastAttemptAt: DateTime | None
    lastStatusCode: int | None
    lastError: str | None
    createdAt: DateTime
    deliveredAt: DateTime | None


class DeliveryList(_Wire, kw_only=True):
    results: list[DeliveryView]
    after: int  # pass as `after` for the next page
    hasMore: bool


DeliveryId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


class Replay(_Wire, kw_only=True):
    since: str | None = None  # a history cursor: re-deliver the ledger after it
    deliveryIds: Annotated[list[DeliveryId], msgspec.Meta(max_length=1000)] | None = None
    # ^ or: send these deliveries again


class ReplayResult(_Wire, kw_only=True):
    queued: int


class WebhookPayload(_Wire, kw_only=True):
    """The body of every webhook request."""

    webhookId: int
    deliveryId: int
    events: list[ConsentEvent]


def event_filter_body(f: EventFilter) -> EventFilterBody:
    return EventFilterBody(
        statuses=None if f.statuses is None else cast(Any, sorted(f.statuses)),
        subscriptionIds=None if f.subscription_ids is None else sorted(f.subscription_ids),
        includeWide=f.include_wide,
    )


def webhook(w: Webhook, *, with_secret: bool = False) -> WebhookView:
    return WebhookView(
        id=w.id,
        url=w.url,
        eventFilter=event_filter_body(w.event_filter),
        active=w.active,
        createdAt=iso(w.created_at),
        updatedAt=iso(w.updated_at),
        secret=w.secret if with_secret else msgspec.UNSET,
    )


def delivery(d: Delivery) -> DeliveryView:
    pending = d.state.value == "PENDING"
    return DeliveryView(
        id=d.id,
        webhookId=d.webhook_id,
        ledgerEntryId=d.event_id,
        subscriberIdString=d.subscriber,
        state=cast(Any, d.state.value),
        attempts=d.attempts,
        nextAttemptAt=iso(d.next_attempt_at) if pending else None,
        lastAttemptAt=None if d.last_attempt_at is None else iso(d.last_attempt_at),
        lastStatusCode=d.last_status,
        lastError=d.last_error,
        createdAt=iso(d.created_at),
        deliveredAt=None if d.delivered_at is None else iso(d.delivered_at),
    )


RESPONSE_STRUCTS: tuple[type[msgspec.Struct], ...] = (
    Done,
    ConsentEventPage,
    Erasure,
    ImportJobView,
    ImportJobList,
    ImportReport,
    WebhookView,
    WebhookList,
    DeliveryList,
    ReplayResult,
    WebhookPayload,
)
