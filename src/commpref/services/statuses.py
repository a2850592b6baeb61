"""Status use cases: reads, writes and opt-outs of one or many addresses (docs/wire-contract.md §5).

Business-rule validation (email syntax, unknown definitions or business units, the GDPR
legal-basis rule) lives here so that every entry point applies it the same way. Batch
functions report per-input problems as `InputError`s and apply every valid input in one
`Store.mutate` transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from commpref.domain import emails, optout, rules
from commpref.domain.model import Change, Definition, Event, Status, Subscriber
from commpref.domain.rules import StatusRow, V3Row, WideRow
from commpref.errors import ValidationError
from commpref.services.context import Call
from commpref.storage.store import Store
from commpref.storage.subscribers import Outcome

R = TypeVar("R")

INVALID_EMAIL = "Invalid email address"


@dataclass(frozen=True, slots=True)
class InputError:
    """One failed input of a batch (becomes a `StandardError`)."""

    message: str
    context: dict[str, list[str]]


@dataclass(slots=True)
class BatchResult(Generic[R]):
    results: list[R] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StatusWrite:
    """One requested status change (a C body, or one element of G)."""

    email: str  # as sent
    subscription_id: int
    status: Status
    legal_basis: str | None = None
    legal_basis_explanation: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriberRows(Generic[R]):
    email: str
    rows: list[R]


# --- validation helpers ------------------------------------------------------------------


def require_email(raw: str, field_name: str = "subscriberIdString") -> str:
    """The normalised address, or a 400 naming the field at fault."""
    email = emails.parse(raw)
    if email is None:
        raise ValidationError(
            INVALID_EMAIL,
            errors=[{"message": INVALID_EMAIL, "in": field_name}],
            context={"subscriberIdString": [raw]},  # §6.4: this key whatever the field
        )
    return email


def require_definition(call: Call, subscription_id: int) -> Definition:
    definition = call.ctx.definition(subscription_id)
    if definition is None:
        message = f"Subscription definition {subscription_id} does not exist"
        raise ValidationError(message, errors=[{"message": message, "in": "subscriptionId"}])
    return definition


def distinct_emails(inputs: Sequence[str]) -> tuple[list[str], list[InputError]]:
    """Valid addresses, de-duplicated in first-seen order, and an error per invalid input."""
    seen: dict[str, None] = {}
    errors: list[InputError] = []
    for raw in inputs:
        email = emails.parse(raw)
        if email is None:
            errors.append(InputError(INVALID_EMAIL, {"subscriberIdString": [raw]}))
        else:
            seen.setdefault(email)
    return list(seen), errors


class _Ledger:
    """Collects a request's changes per subscriber and turns them into ledger events."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.changes: dict[str, list[Change]] = {}
        self.touched: set[str] = set()

    def record(self, sub: Subscriber, changes: list[Change]) -> None:
        if changes:
            self.changes.setdefault(sub.email, []).extend(changes)
            self.touched.add(sub.email)

    def accept(self, sub: Subscriber) -> None:
        """An accepted write creates the subscriber record (§5.2)."""
        if sub.created_at is None:
            sub.created_at = self.call.now
            self.touched.add(sub.email)

    def outcome(self, value: R) -> Outcome[R]:
        c = self.call
        events = [
            Event(email, tuple(changes), c.source, c.actor.label(), c.correlation_id, c.now)
            for email, changes in self.changes.items()
        ]
        return Outcome(value, self.touched, events)


# --- reads -------------------------------------------------------------------------------


async def read_statuses(
    *, store: Store, call: Call, inputs: Sequence[str], business_unit_id: int | None
) -> BatchResult[SubscriberRows[StatusRow]]:
    """B and F: every in-scope row per distinct valid address."""
    valid, errors = distinct_emails(inputs)
    stored = await store.read_subscribers(call.ctx.portal.id, valid) if valid else {}
    results = [
        SubscriberRows(
            email,
            rules.status_rows(
                call.ctx, stored.get(email) or Subscriber(email), business_unit_id, call.now
            ),
        )
        for email in valid
    ]
    return BatchResult(results, errors)


async def read_wide(
    *, store: Store, call: Call, inputs: Sequence[str], business_unit_id: int | None
) -> BatchResult[SubscriberRows[WideRow]]:
    """D and I: the stored wide statuses per distinct valid address."""
    valid, errors = distinct_emails(inputs)
    stored = await store.read_subscribers(call.ctx.portal.id, valid) if valid else {}
    results = [
        SubscriberRows(
            email,
            rules.wide_rows(call.ctx, stored.get(email) or Subscriber(email), business_unit_id),
        )
        for email in valid
    ]
    return BatchResult(results, errors)


async def read_v3(
    *, store: Store, call: Call, inputs: Sequence[str]
) -> BatchResult[SubscriberRows[V3Row]]:
    """K and O: v3 rows per distinct valid address."""
    valid, errors = distinct_emails(inputs)
    stored = await store.read_subscribers(call.ctx.portal.id, valid) if valid else {}
    results = [
        SubscriberRows(email, rules.v3_rows(call.ctx, stored.get(email) or Subscriber(email)))
        for email in valid
    ]
    return BatchResult(results, errors)


# --- v4 writes ---------------------------------------------------------------------------


async def write_statuses(
    *, store: Store, call: Call, writes: Sequence[StatusWrite]
) -> BatchResult[tuple[str, StatusRow]]:
    """C and G: apply each valid write in input order; later duplicates see earlier writes."""
    accepted: list[tuple[str, Definition, StatusWrite]] = []
    errors: list[InputError] = []
    for w in writes:
        email = emails.parse(w.email)
        if email is None:
            errors.append(InputError(INVALID_EMAIL, {"subscriberIdString": [w.email]}))
            continue
        definition = call.ctx.definition(w.subscription_id)
        context = {"subscriberIdString": [w.email], "subscriptionId": [str(w.subscription_id)]}
        if definition is None:
            message = f"Subscription definition {w.subscription_id} does not exist"
            errors.append(InputError(message, context))
        elif rules.missing_legal_basis(
            call.ctx.portal, w.status, w.legal_basis, w.legal_basis_explanation
        ):
            errors.append(InputError(rules.GDPR_MESSAGE, context))
        else:
            accepted.append((email, definition, w))
    if not accepted:
        return BatchResult([], errors)

    def plan(subs: dict[str, Subscriber]) -> Outcome[list[tuple[str, StatusRow]]]:
        ledger = _Ledger(call)
        rows: list[tuple[str, StatusRow]] = []
        for email, definition, w in accepted:
            sub = subs[email]
            ledger.accept(sub)
            reason, changes = rules.write_status(
                call.ctx.portal,
                sub,
                definition,
                w.status,
                legal_basis=w.legal_basis,
                explanation=w.legal_basis_explanation,
                source=call.source,
                now=call.now,
            )
            ledger.record(sub, changes)
            rows.append((email, rules.status_row(sub, definition, call.now, reason)))
        return ledger.outcome(rows)

    emails_in_order = list(dict.fromkeys(email for email, _, _ in accepted))
    results = await store.mutate(call.ctx.portal.id, emails_in_order, plan)
    return BatchResult(results, errors)


async def set_status(*, store: Store, call: Call, write: StatusWrite) -> StatusRow:
    """C: one write; business-rule failures are whole-request 400s."""
    require_email(write.email)
    require_definition(call, write.subscription_id)
    missing = rules.missing_legal_basis(
        call.ctx.portal, write.status, write.legal_basis, write.legal_basis_explanation
    )
    if missing:
        raise rules.gdpr_error(missing)
    result = await write_statuses(store=store, call=call, writes=[write])
    return result.results[0][1]


async def unsubscribe_all(
    *,
    store: Store,
    call: Call,
    inputs: Sequence[str],
    business_unit_id: int | None,
    verbose: bool = True,
) -> BatchResult[SubscriberRows[StatusRow]]:
    """E and H: opt every distinct valid address out of all email of one scope (§5.7).

    With `verbose` each result carries every row of the scope; without, no rows (cheaper).
    """
    unit = rules.opt_out_unit(call.ctx, business_unit_id)
    valid, errors = distinct_emails(inputs)
    if not valid:
        return BatchResult([], errors)

    def plan(subs: dict[str, Subscriber]) -> Outcome[list[SubscriberRows[StatusRow]]]:
        alike = optout.OptOut(call.ctx, unit, source=call.source, now=call.now, verbose=verbose)
        ledger = _Ledger(call)
        results = []
        for email in valid:
            sub = subs[email]
            ledger.accept(sub)
            rows, changes = alike.apply(sub)
            ledger.record(sub, changes)
            results.append(SubscriberRows(email, rows))
        return ledger.outcome(results)

    results = await store.mutate(call.ctx.portal.id, valid, plan)
    return BatchResult(results, errors)


# --- v3 writes (L, M, N) -----------------------------------------------------------------

V3_ACTIONS = {
    "subscribe": rules.v3_subscribe,
    "unsubscribe": rules.v3_unsubscribe,
    "resubscribe": rules.v3_resubscribe,
}


async def v3_change(
    *,
    store: Store,
    call: Call,
    action: str,
    email: str,
    subscription_id: int,
    legal_basis: str | None,
    legal_basis_explanation: str | None,
) -> V3Row:
    """L, M, N on one address and one definition; refusals raise (§5.11)."""
    address = require_email(email, "emailAddress")
    definition = require_definition(call, subscription_id)
    if action != "unsubscribe":
        missing = rules.missing_legal_basis(
            call.ctx.portal, Status.SUBSCRIBED, legal_basis, legal_basis_explanation
        )
        if missing:
            raise rules.gdpr_error(missing)
    rule = V3_ACTIONS[action]

    def plan(subs: dict[str, Subscriber]) -> Outcome[V3Row]:
        ledger = _Ledger(call)
        sub = subs[address]
        changes = rule(
            call.ctx,
            sub,
            definition,
            legal_basis=legal_basis,
            explanation=legal_basis_explanation,
            source=call.source,
            now=call.now,
        )
        ledger.accept(sub)
        ledger.record(sub, changes)
        return ledger.outcome(rules.v3_row(call.ctx, sub, definition))

    return await store.mutate(call.ctx.portal.id, [address], plan)
