"""Opt-out of all (docs/wire-contract.md §5.7): the rule for one subscriber, and the same
rule for the many subscribers of one request (`OptOut`, the headline hot path)."""

from __future__ import annotations

from dataclasses import dataclass

from commpref.domain.model import (
    Change,
    ChangeKind,
    PortalContext,
    Reason,
    Status,
    Subscriber,
    TypeStatus,
    WideStatus,
)
from commpref.domain.rules import StatusRow, in_scope, set_wide


def unsubscribe_all(
    ctx: PortalContext,
    sub: Subscriber,
    unit: int,
    *,
    source: str,
    now: int,
    verbose: bool = True,
) -> tuple[list[StatusRow], list[Change]]:
    """Opt `sub` out of everything covered by business unit `unit` (§5.7).

    Returns the verbose rows (every row in scope, with its reason; none unless `verbose`)
    and the changes. This is the headline hot path, hence the inlined loop.
    """
    changes: list[Change] = []
    rows: list[StatusRow] = []
    types = sub.types
    opted_out = TypeStatus(Status.UNSUBSCRIBED, source, now)
    for d in in_scope(ctx, sub, unit if ctx.portal.brands else None):
        stored = types.get(d.id)
        if stored is not None and stored.status is Status.UNSUBSCRIBED:
            reason = Reason.NO_STATUS_CHANGE
        else:
            old = Status.NOT_SPECIFIED if stored is None else stored.status
            types[d.id] = opted_out
            changes.append(Change(ChangeKind.TYPE, d.id, old, Status.UNSUBSCRIBED))
            reason = Reason.UNSUBSCRIBE_FROM_ALL_OCCURRED
        if verbose:  # every row in scope is stored by now
            t = types[d.id]
            basis, explanation = t.legal_basis, t.legal_basis_explanation
            rows.append(StatusRow(d, t.status, t.source, t.timestamp, basis, explanation, reason))
    wide = sub.wide.get(unit)
    if wide is None or wide.status is not Status.UNSUBSCRIBED:
        changes.append(set_wide(sub, unit, Status.UNSUBSCRIBED, source, now))
    return rows, changes


class OptOut:
    """`unsubscribe_all` for the many subscribers of one request, worked out once per class
    of alike subscribers: `apply` gives exactly what the plain rule gives (the same state,
    rows and changes), but alike subscribers share the work. Every address with nothing
    stored is one class (half of a typical bounce or complaint batch); without rows to
    render, so are the addresses whose in-scope statuses are alike (a batch of known
    addresses falls into a few such classes). This is the one place of that shortcut."""

    _BLANK: tuple[object, ...] = ("blank",)

    def __init__(
        self, ctx: PortalContext, unit: int, *, source: str, now: int, verbose: bool = False
    ) -> None:
        self.ctx, self.unit, self.source, self.now = ctx, unit, source, now
        self.verbose = verbose
        # Without archived definitions the scope is the same for every subscriber.
        scope = None if ctx.has_archived else ctx.active(unit if ctx.portal.brands else None)
        if unit not in ctx.business_units:
            scope = None
        self._ids = None if scope is None else [d.id for d in scope]
        self._opted_out = TypeStatus(Status.UNSUBSCRIBED, source, now)
        self._seen: dict[tuple[object, ...], _Class] = {}

    def _plain(self, sub: Subscriber) -> tuple[list[StatusRow], list[Change]]:
        return unsubscribe_all(
            self.ctx, sub, self.unit, source=self.source, now=self.now, verbose=self.verbose
        )

    def apply(self, sub: Subscriber) -> tuple[list[StatusRow], list[Change]]:
        """Opt `sub` out; its rows (none unless verbose) and changes, both lists shared
        with alike subscribers."""
        types = sub.types
        if not types and not sub.wide:
            key = self._BLANK  # the same scope and outcome, archived definitions or not
        elif self.verbose or self._ids is None:
            return self._plain(sub)  # rows show stored sources and times: nothing to share
        else:
            wide = sub.wide.get(self.unit)
            key = (*[None if (t := types.get(i)) is None else t.status for i in self._ids],
                   None if wide is None else wide.status)  # fmt: skip
        known = self._seen.get(key)
        if known is None:
            rows, changes = self._plain(sub)
            opted = [c.target for c in changes if c.kind is ChangeKind.TYPE]
            wide_changed = any(c.kind is ChangeKind.WIDE for c in changes)
            after = (dict(sub.types), dict(sub.wide)) if key is self._BLANK else None
            self._seen[key] = _Class(opted, wide_changed, rows, changes, after)
            return rows, changes
        if known.after is not None:  # nothing was stored: the whole state is the class's
            sub.types, sub.wide = dict(known.after[0]), dict(known.after[1])
            return known.rows, known.changes
        for i in known.opted:
            types[i] = self._opted_out
        if known.wide_changed:
            sub.wide[self.unit] = WideStatus(Status.UNSUBSCRIBED, self.now, self.source)
        return known.rows, known.changes


@dataclass(frozen=True, slots=True)
class _Class:
    """What opting out one class of alike subscribers does."""

    opted: list[int]  # definitions set to UNSUBSCRIBED
    wide_changed: bool
    rows: list[StatusRow]
    changes: list[Change]
    # The state a subscriber with nothing stored ends in, copied whole (one dict copy
    # each instead of a store per definition).
    after: tuple[dict[int, TypeStatus], dict[int, WideStatus]] | None
