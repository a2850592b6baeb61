"""Opt-out of all and wide statuses (docs/wire-contract.md §5.7, §5.10):
unsubscribe_all, scopes, reads."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commpref.domain import optout, rules
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
from commpref.domain.rules import WideRow
from commpref.errors import ValidationError
from tests.unit.builders import (
    LATER,
    NOW,
    OLD_SOURCE,
    SOURCE,
    T_SUB,
    brands_context,
    context,
    definition,
    subscriber,
)

NS, SUB, UNSUB = Status.NOT_SPECIFIED, Status.SUBSCRIBED, Status.UNSUBSCRIBED
UFA, NO = Reason.UNSUBSCRIBE_FROM_ALL_OCCURRED, Reason.NO_STATUS_CHANGE


def opt_out(
    ctx: PortalContext, sub: Subscriber, unit: int = 0, now: int = NOW
) -> tuple[list[rules.StatusRow], list[Change]]:
    return optout.unsubscribe_all(ctx, sub, unit, source=SOURCE, now=now)


def test_unknown_address_is_opted_out_of_every_type_and_portal_wide() -> None:
    ctx = context()
    sub = subscriber(created_at=None)
    rows, changes = opt_out(ctx, sub)
    assert changes == [
        Change(ChangeKind.TYPE, 101, NS, UNSUB),
        Change(ChangeKind.TYPE, 102, NS, UNSUB),
        Change(ChangeKind.TYPE, 103, NS, UNSUB),
        Change(ChangeKind.WIDE, 0, NS, UNSUB),
    ]
    assert [(r.definition.id, r.status, r.source, r.timestamp, r.reason) for r in rows] == [
        (101, UNSUB, SOURCE, NOW, UFA),
        (102, UNSUB, SOURCE, NOW, UFA),
        (103, UNSUB, SOURCE, NOW, UFA),
    ]
    assert sub.wide == {0: WideStatus(UNSUB, NOW, SOURCE)}
    # §5.4: afterwards every row reads UNSUBSCRIBED with one shared timestamp.
    read = rules.status_rows(ctx, sub, None, LATER)
    assert {(r.status, r.source, r.timestamp, r.reason) for r in read} == {
        (UNSUB, SOURCE, NOW, None)
    }


def test_verbose_rows_of_a_partly_unsubscribed_address() -> None:
    # docs/wire-contract.md §10.3: 101 SUBSCRIBED, 102 UNSUBSCRIBED since 2026-04-02,
    # nothing for 103.
    ctx = context()
    sub = subscriber(
        types={101: SUB, 102: UNSUB}, legal_basis="CONSENT_WITH_NOTICE", explanation="booth"
    )
    rows, changes = opt_out(ctx, sub)
    assert [(r.definition.id, r.status, r.timestamp, r.legal_basis, r.reason) for r in rows] == [
        (101, UNSUB, NOW, None, UFA),
        (102, UNSUB, T_SUB, "CONSENT_WITH_NOTICE", NO),
        (103, UNSUB, NOW, None, UFA),
    ]
    assert [c.target for c in changes if c.kind is ChangeKind.TYPE] == [101, 103]
    # Changed rows: the opt-out's source and time, legal basis cleared (§5.7, Q52).
    assert sub.types[101] == TypeStatus(UNSUB, SOURCE, NOW, None, None)
    # The unchanged row keeps everything it had.
    assert sub.types[102] == TypeStatus(UNSUB, OLD_SOURCE, T_SUB, "CONSENT_WITH_NOTICE", "booth")


def test_opting_out_twice_changes_nothing_and_keeps_timestamps() -> None:
    ctx = context()
    sub = subscriber()
    opt_out(ctx, sub)
    before = copy.deepcopy(sub)
    rows, changes = opt_out(ctx, sub, now=LATER)
    assert changes == []
    assert sub == before
    assert [(r.reason, r.timestamp) for r in rows] == [(NO, NOW)] * 3
    assert sub.wide[0].timestamp == NOW


def test_stored_wide_status_already_unsubscribed_keeps_its_timestamp() -> None:
    ctx = context()
    sub = subscriber(types={101: SUB}, wide={0: UNSUB})
    _, changes = opt_out(ctx, sub)
    assert all(c.kind is ChangeKind.TYPE for c in changes)
    assert sub.wide[0] == WideStatus(UNSUB, T_SUB, OLD_SOURCE)


def test_a_lifted_opt_out_is_put_back() -> None:
    ctx = context()
    sub = subscriber(types={101: SUB, 102: UNSUB, 103: UNSUB}, wide={0: SUB})
    _, changes = opt_out(ctx, sub)
    assert changes == [
        Change(ChangeKind.TYPE, 101, SUB, UNSUB),
        Change(ChangeKind.WIDE, 0, SUB, UNSUB),
    ]
    assert sub.wide[0] == WideStatus(UNSUB, NOW, SOURCE)


def test_archived_definitions_count_only_with_a_stored_status() -> None:
    ctx = context(
        definitions=[
            definition(101),
            definition(104, active=False),
            definition(105, active=False),
        ]
    )
    sub = subscriber(types={105: SUB})
    rows, changes = opt_out(ctx, sub)
    assert [r.definition.id for r in rows] == [101, 105]
    assert 104 not in sub.types  # archived, nothing stored: neither listed nor written
    assert sub.types[105].status is UNSUB
    assert [c.target for c in changes] == [101, 105, 0]


def test_brands_portal_opts_out_of_one_business_unit_only() -> None:
    ctx = brands_context()
    sub = subscriber(types={101: SUB, 201: SUB})
    rows, changes = opt_out(ctx, sub, unit=7)
    assert [(r.definition.id, r.reason) for r in rows] == [(201, UFA), (202, UFA)]
    assert changes == [
        Change(ChangeKind.TYPE, 201, SUB, UNSUB),
        Change(ChangeKind.TYPE, 202, NS, UNSUB),
        Change(ChangeKind.WIDE, 7, NS, UNSUB),
    ]
    assert sub.types[101] == TypeStatus(SUB, OLD_SOURCE, T_SUB)
    assert 102 not in sub.types
    assert set(sub.wide) == {7}
    assert not rules.is_opted_out(ctx.portal, sub, ctx.by_id[101])
    assert rules.is_opted_out(ctx.portal, sub, ctx.by_id[201])


def test_brands_portal_default_brand_uses_business_unit_zero() -> None:
    ctx = brands_context()
    sub = subscriber()
    rows, _ = opt_out(ctx, sub, unit=rules.opt_out_unit(ctx, None))
    assert [r.definition.id for r in rows] == [101, 102]
    assert set(sub.wide) == {0}
    assert 201 not in sub.types


# --- the opt-out scope (§5.7, §5.10) ----------------------------------------------------


@pytest.mark.parametrize(("asked", "unit"), [(None, 0), (0, 0)])
def test_portal_without_brands_opts_out_portal_wide(asked: int | None, unit: int) -> None:
    assert rules.opt_out_unit(context(), asked) == unit


@pytest.mark.parametrize(("asked", "unit"), [(None, 0), (0, 0), (7, 7)])
def test_brands_portal_opts_out_of_the_named_business_unit(asked: int | None, unit: int) -> None:
    assert rules.opt_out_unit(brands_context(), asked) == unit


@pytest.mark.parametrize(
    ("ctx", "asked"),
    [
        (context(), 7),
        (context(), -1),
        (context(units=(0, 7)), 7),  # a unit left over from when brands were on
        (brands_context(), 9),
        (brands_context(), -1),
    ],
    ids=["no-brands", "no-brands-negative", "no-brands-stale-unit", "brands", "brands-negative"],
)
def test_unknown_business_unit_is_refused(ctx: PortalContext, asked: int) -> None:
    with pytest.raises(ValidationError) as raised:
        rules.opt_out_unit(ctx, asked)
    assert raised.value.http_status == 400
    assert raised.value.message == f"Business unit {asked} does not exist"
    assert raised.value.errors == [
        {"message": f"Business unit {asked} does not exist", "in": "businessUnitId"}
    ]


# --- wide rows (D, I) -------------------------------------------------------------------


def test_never_opted_out_has_no_wide_rows() -> None:
    assert rules.wide_rows(context(), subscriber(types={101: UNSUB}), None) == []


def test_wide_rows_are_ordered_by_business_unit_and_keep_lifted_rows() -> None:
    ctx = brands_context()
    sub = subscriber(wide={7: UNSUB, 0: SUB})
    assert rules.wide_rows(ctx, sub, None) == [
        WideRow(0, SUB, T_SUB),
        WideRow(7, UNSUB, T_SUB),
    ]


@pytest.mark.parametrize(("asked", "units"), [(0, [0]), (7, [7]), (9, [])])
def test_wide_rows_filter_by_business_unit(asked: int, units: list[int]) -> None:
    sub = subscriber(wide={0: UNSUB, 7: UNSUB})
    assert [r.business_unit_id for r in rules.wide_rows(brands_context(), sub, asked)] == units


def test_portal_without_brands_zero_selects_the_portal_wide_row() -> None:
    sub = subscriber(wide={0: UNSUB})
    assert rules.wide_rows(context(), sub, 0) == [WideRow(0, UNSUB, T_SUB)]
    assert rules.wide_rows(context(), sub, 5) == []


def test_wide_rows_of_unknown_business_units_are_not_shown() -> None:
    sub = subscriber(wide={0: UNSUB, 8: UNSUB})
    assert [r.business_unit_id for r in rules.wide_rows(brands_context(), sub, None)] == [0]


# --- properties --------------------------------------------------------------------------

STATUSES = st.sampled_from([NS, SUB, UNSUB])


@st.composite
def opted_states(draw: st.DrawFn) -> tuple[PortalContext, Subscriber, int]:
    defs = [definition(101), definition(102, active=draw(st.booleans()))]
    if draw(st.booleans()):
        defs += [definition(201, unit=7), definition(202, unit=7, active=draw(st.booleans()))]
        ctx = context(brands=True, units=(0, 7), definitions=defs)
        unit = draw(st.sampled_from([0, 7]))
    else:
        ctx = context(definitions=defs)
        unit = 0
    ids = [d.id for d in defs]
    sub = subscriber(
        types=draw(st.dictionaries(st.sampled_from(ids), STATUSES)),
        wide=draw(st.dictionaries(st.sampled_from(sorted(ctx.business_units)), STATUSES)),
        created_at=draw(st.sampled_from([None, T_SUB])),
    )
    return ctx, sub, unit


@given(opted_states())
def test_opt_out_leaves_every_type_in_scope_unsubscribed_and_is_idempotent(
    state: tuple[PortalContext, Subscriber, int],
) -> None:
    ctx, sub, unit = state
    scope = rules.in_scope(ctx, sub, unit if ctx.portal.brands else None)
    rows, changes = opt_out(ctx, sub, unit)
    assert [r.definition for r in rows] == scope
    assert all(r.status is UNSUB for r in rows)
    assert len([r for r in rows if r.reason is UFA]) == len(
        [c for c in changes if c.kind is ChangeKind.TYPE]
    )
    assert sub.wide[unit].status is UNSUB
    for d in scope:
        assert rules.is_opted_out(ctx.portal, sub, d)
    before = copy.deepcopy(sub)
    again, second = opt_out(ctx, sub, unit, now=LATER)
    assert second == []
    assert sub == before
    assert {r.reason for r in again} <= {NO}


@st.composite
def batches(draw: st.DrawFn) -> tuple[PortalContext, list[Subscriber], int]:
    """A portal, a unit, and several subscribers whose statuses often repeat."""
    ctx, first, unit = draw(opted_states())
    ids = [d.id for d in ctx.definitions]
    more = draw(
        st.lists(
            st.builds(
                subscriber,
                types=st.dictionaries(st.sampled_from(ids), st.sampled_from([SUB, UNSUB])),
                wide=st.dictionaries(st.just(unit), st.sampled_from([SUB, UNSUB])),
            ),
            max_size=8,
        )
    )
    blank = [subscriber(created_at=None) for _ in range(draw(st.integers(0, 3)))]
    return ctx, [first, *more, *blank, *copy.deepcopy(more), *copy.deepcopy(blank)], unit


@given(batches(), st.booleans())
def test_opting_out_alike_subscribers_together_equals_the_plain_rule(
    batch: tuple[PortalContext, list[Subscriber], int], verbose: bool
) -> None:
    ctx, subs, unit = batch
    together = optout.OptOut(ctx, unit, source=SOURCE, now=NOW, verbose=verbose)
    for sub in subs:
        alone = copy.deepcopy(sub)
        expected = optout.unsubscribe_all(ctx, alone, unit, source=SOURCE, now=NOW, verbose=verbose)
        assert together.apply(sub) == expected
        assert (sub.types, sub.wide) == (alone.types, alone.wide)


def test_archived_definitions_make_each_subscriber_its_own_scope() -> None:
    ctx = context(definitions=[definition(101), definition(102, active=False)])
    together = optout.OptOut(ctx, 0, source=SOURCE, now=NOW)
    kept = subscriber(types={102: SUB})  # an archived type with a status stays in scope
    assert together.apply(subscriber())[1] == [
        Change(ChangeKind.TYPE, 101, NS, UNSUB),
        Change(ChangeKind.WIDE, 0, NS, UNSUB),
    ]
    assert together.apply(kept)[1] == [
        Change(ChangeKind.TYPE, 101, NS, UNSUB),
        Change(ChangeKind.TYPE, 102, SUB, UNSUB),
        Change(ChangeKind.WIDE, 0, NS, UNSUB),
    ]
