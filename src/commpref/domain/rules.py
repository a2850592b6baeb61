"""Status rules (docs/wire-contract.md §5): what a read shows and what a write changes.

Every function here is pure: it reads a `PortalContext` and a `Subscriber`, may mutate the
subscriber in place, and returns what changed. Services persist the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from commpref.domain.model import (
    DEFAULT_SOURCE,
    Change,
    ChangeKind,
    Definition,
    Portal,
    PortalContext,
    Reason,
    SourceOfStatus,
    Status,
    Subscriber,
    TypeStatus,
    V3Status,
    WideStatus,
)
from commpref.errors import NotFound, ValidationError

GDPR_MESSAGE = "legalBasis and legalBasisExplanation are required to subscribe in this portal"


class StatusRow(msgspec.Struct, frozen=True, gc=False):
    """One row of a v4 status answer (`PublicStatus` without the subscriber id).

    A struct built in C, several times cheaper to build than a NamedTuple: a batch read
    makes 1,000 of them per request."""

    definition: Definition
    status: Status
    source: str
    timestamp: int
    legal_basis: str | None
    legal_basis_explanation: str | None
    reason: Reason | None = None


@dataclass(frozen=True, slots=True)
class WideRow:
    """One stored opt-out-of-all switch (`PublicWideStatus` without the subscriber id)."""

    business_unit_id: int
    status: Status
    timestamp: int


@dataclass(frozen=True, slots=True)
class V3Row:
    """One `PublicSubscriptionStatus` of the v3 family."""

    definition: Definition
    status: V3Status
    source_of_status: SourceOfStatus
    legal_basis: str | None
    legal_basis_explanation: str | None


# --- scope -------------------------------------------------------------------------------


def covering_unit(portal: Portal, definition: Definition) -> int:
    """The business unit whose wide status covers a definition (0 = portal-wide)."""
    return definition.business_unit_id if portal.brands else 0


def is_opted_out(portal: Portal, sub: Subscriber, definition: Definition) -> bool:
    wide = sub.wide.get(covering_unit(portal, definition))
    return wide is not None and wide.status is Status.UNSUBSCRIBED


def current(sub: Subscriber, definition: Definition) -> Status:
    stored = sub.types.get(definition.id)
    return stored.status if stored is not None else Status.NOT_SPECIFIED


def in_scope(ctx: PortalContext, sub: Subscriber, business_unit_id: int | None) -> list[Definition]:
    """Definitions a status read lists: active ones, plus archived ones with a stored status."""
    if business_unit_id is not None and business_unit_id not in ctx.business_units:
        return []
    active = ctx.active(business_unit_id)
    if not ctx.has_archived:  # the common case: no per-subscriber filtering needed
        return list(active)
    return [
        d
        for d in ctx.definitions
        if (d.is_active or d.id in sub.types)
        and (business_unit_id is None or d.business_unit_id == business_unit_id)
    ]


def opt_out_unit(ctx: PortalContext, business_unit_id: int | None) -> int:
    """The business unit an opt-out-of-all acts on; raises for an unknown one (§5.7)."""
    unit = 0 if business_unit_id is None else business_unit_id
    if unit not in ctx.business_units or (not ctx.portal.brands and unit != 0):
        raise unknown_business_unit(unit)
    return unit


def unknown_business_unit(unit: int) -> ValidationError:
    message = f"Business unit {unit} does not exist"
    return ValidationError(message, errors=[{"message": message, "in": "businessUnitId"}])


# --- reads -------------------------------------------------------------------------------


def default_timestamp(sub: Subscriber, definition: Definition, now: int) -> int:
    """Rows with nothing stored: later of subscriber and definition creation (§5.15)."""
    if sub.created_at is None:
        return now
    return max(sub.created_at, definition.created_at)


def status_row(
    sub: Subscriber, definition: Definition, now: int, reason: Reason | None = None
) -> StatusRow:
    return _status_rows(sub, (definition,), now, reason)[0]


def status_rows(
    ctx: PortalContext, sub: Subscriber, business_unit_id: int | None, now: int
) -> list[StatusRow]:
    """What B and F answer for one subscriber (§5.4)."""
    return _status_rows(sub, in_scope(ctx, sub, business_unit_id), now, None)


def _status_rows(
    sub: Subscriber, definitions: Sequence[Definition], now: int, reason: Reason | None
) -> list[StatusRow]:
    """The stored status per definition, NOT_SPECIFIED where nothing is stored. One loop
    without a call per row: a batch read makes 1,000, and a Python call per row would be a
    sizeable part of building and rendering them."""
    types, blank = sub.types, Status.NOT_SPECIFIED  # an enum member costs a lookup per use
    rows = []
    for d in definitions:
        t = types.get(d.id)
        if t is None:
            ts = default_timestamp(sub, d, now)
            rows.append(StatusRow(d, blank, DEFAULT_SOURCE, ts, None, None, reason))
        else:
            rows.append(
                StatusRow(
                    d,
                    t.status,
                    t.source,
                    t.timestamp,
                    t.legal_basis,
                    t.legal_basis_explanation,
                    reason,
                )
            )
    return rows


def wide_rows(ctx: PortalContext, sub: Subscriber, business_unit_id: int | None) -> list[WideRow]:
    """What D and I answer for one subscriber (§5.7), ordered by business unit."""
    rows = [
        WideRow(unit, wide.status, wide.timestamp)
        for unit, wide in sorted(sub.wide.items())
        if unit in ctx.business_units
    ]
    if business_unit_id is not None:
        rows = [r for r in rows if r.business_unit_id == business_unit_id]
    return rows


def v3_row(ctx: PortalContext, sub: Subscriber, definition: Definition) -> V3Row:
    """The v3 mapping of one definition's state (§5.11); opt-outs take precedence."""
    portal = ctx.portal
    stored = sub.types.get(definition.id)
    lb = stored.legal_basis if stored is not None else None
    lbe = stored.legal_basis_explanation if stored is not None else None
    if is_opted_out(portal, sub, definition):
        source = (
            SourceOfStatus.BRAND_WIDE_STATUS if portal.brands else SourceOfStatus.PORTAL_WIDE_STATUS
        )
        return V3Row(definition, V3Status.NOT_SUBSCRIBED, source, lb, lbe)
    state = stored.status if stored is not None else Status.NOT_SPECIFIED
    if state is Status.SUBSCRIBED:
        v3 = V3Status.SUBSCRIBED
    elif state is Status.UNSUBSCRIBED:
        v3 = V3Status.NOT_SUBSCRIBED
    else:
        v3 = V3Status.NOT_SUBSCRIBED if portal.gdpr else V3Status.SUBSCRIBED
    return V3Row(definition, v3, SourceOfStatus.SUBSCRIPTION_STATUS, lb, lbe)


def v3_rows(ctx: PortalContext, sub: Subscriber) -> list[V3Row]:
    """What K (and O per address) answers: every definition of the B scope, all brands."""
    return [v3_row(ctx, sub, d) for d in in_scope(ctx, sub, None)]


# --- writes ------------------------------------------------------------------------------


def missing_legal_basis(
    portal: Portal, target: Status, legal_basis: str | None, explanation: str | None
) -> list[str]:
    """Fields a GDPR portal still needs before an opt-in (§5.6); [] when nothing is missing."""
    if not portal.gdpr or target is not Status.SUBSCRIBED:
        return []
    missing = []
    if not legal_basis:
        missing.append("legalBasis")
    if not explanation:
        missing.append("legalBasisExplanation")
    return missing


def gdpr_error(missing: list[str]) -> ValidationError:
    return ValidationError(
        GDPR_MESSAGE, errors=[{"message": f"{f} is required", "in": f} for f in missing]
    )


def _set_type(
    sub: Subscriber,
    definition: Definition,
    new: Status,
    source: str,
    now: int,
    legal_basis: str | None,
    explanation: str | None,
) -> Change:
    old = current(sub, definition)
    sub.types[definition.id] = TypeStatus(new, source, now, legal_basis, explanation)
    return Change(ChangeKind.TYPE, definition.id, old, new, legal_basis, explanation)


def set_wide(sub: Subscriber, unit: int, new: Status, source: str, now: int) -> Change:
    stored = sub.wide.get(unit)
    old = stored.status if stored is not None else Status.NOT_SPECIFIED
    sub.wide[unit] = WideStatus(new, now, source)
    return Change(ChangeKind.WIDE, unit, old, new)


def write_status(
    portal: Portal,
    sub: Subscriber,
    definition: Definition,
    target: Status,
    *,
    legal_basis: str | None,
    explanation: str | None,
    source: str,
    now: int,
) -> tuple[Reason, list[Change]]:
    """Apply one v4 status write (§5.5) to `sub`; the legal-basis check is the caller's."""
    cur = current(sub, definition)
    changes: list[Change] = []
    if target is Status.SUBSCRIBED:
        opted_out = is_opted_out(portal, sub, definition)
        if cur is Status.UNSUBSCRIBED or opted_out:
            # Already SUBSCRIBED under an opt-out (a type created after it): only the opt-out
            # is lifted, so the ledger holds actual changes only.
            if cur is not Status.SUBSCRIBED:
                changes.append(
                    _set_type(sub, definition, target, source, now, legal_basis, explanation)
                )
            if opted_out:
                unit = covering_unit(portal, definition)
                changes.append(set_wide(sub, unit, Status.SUBSCRIBED, source, now))
            return Reason.RESUBSCRIBE_OCCURRED, changes
        if cur is Status.SUBSCRIBED:
            return Reason.NO_STATUS_CHANGE, changes
    elif cur is target:
        return Reason.NO_STATUS_CHANGE, changes
    changes.append(_set_type(sub, definition, target, source, now, legal_basis, explanation))
    return Reason.REQUESTED_CHANGE_OCCURRED, changes


# --- v3 writes (§5.11) -------------------------------------------------------------------


def _require_known(sub: Subscriber, strict_404: bool) -> None:
    if strict_404 and sub.created_at is None:
        raise NotFound(
            f"{sub.email} either has no subscriptions associated with this portal or does not exist"
        )


def v3_subscribe(
    ctx: PortalContext,
    sub: Subscriber,
    definition: Definition,
    *,
    legal_basis: str | None,
    explanation: str | None,
    source: str,
    now: int,
) -> list[Change]:
    """L: subscribe unless the address unsubscribed or opted out."""
    _require_known(sub, ctx.portal.strict_v3_unknown_404)
    cur = current(sub, definition)
    if cur is Status.UNSUBSCRIBED or is_opted_out(ctx.portal, sub, definition):
        raise ValidationError(
            f"subscription {definition.id} for {sub.email} cannot be updated "
            "because they have unsubscribed"
        )
    if cur is Status.SUBSCRIBED:
        return []
    return [_set_type(sub, definition, Status.SUBSCRIBED, source, now, legal_basis, explanation)]


def v3_unsubscribe(
    ctx: PortalContext,
    sub: Subscriber,
    definition: Definition,
    *,
    legal_basis: str | None,
    explanation: str | None,
    source: str,
    now: int,
) -> list[Change]:
    """M: unsubscribe from one type; refused when that type already is unsubscribed."""
    _require_known(sub, ctx.portal.strict_v3_unknown_404)
    if current(sub, definition) is Status.UNSUBSCRIBED:
        raise ValidationError(
            f"{sub.email} is already unsubscribed to subscription {definition.id}"
        )
    return [_set_type(sub, definition, Status.UNSUBSCRIBED, source, now, legal_basis, explanation)]


def v3_resubscribe(
    ctx: PortalContext,
    sub: Subscriber,
    definition: Definition,
    *,
    legal_basis: str | None,
    explanation: str | None,
    source: str,
    now: int,
) -> list[Change]:
    """N: the v4 SUBSCRIBED rule, refused when already subscribed and not opted out."""
    _require_known(sub, ctx.portal.strict_v3_unknown_404)
    if current(sub, definition) is Status.SUBSCRIBED and not is_opted_out(
        ctx.portal, sub, definition
    ):
        raise ValidationError(f"{sub.email} is already subscribed to subscription {definition.id}")
    _, changes = write_status(
        ctx.portal,
        sub,
        definition,
        Status.SUBSCRIBED,
        legal_basis=legal_basis,
        explanation=explanation,
        source=source,
        now=now,
    )
    return changes
