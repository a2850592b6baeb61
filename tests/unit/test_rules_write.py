"""v4 status writes (docs/wire-contract.md §5.5, §5.6, §5.9):
reasons, what a write stores, resubscribe."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commpref.domain import rules
from commpref.domain.model import (
    Change,
    ChangeKind,
    LegalBasis,
    PortalContext,
    Reason,
    Status,
    Subscriber,
    TypeStatus,
    WideStatus,
)
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
NO, REQ, RESUB = (
    Reason.NO_STATUS_CHANGE,
    Reason.REQUESTED_CHANGE_OCCURRED,
    Reason.RESUBSCRIBE_OCCURRED,
)


def write(
    ctx: PortalContext,
    sub: Subscriber,
    definition_id: int,
    target: Status,
    *,
    legal_basis: str | None = None,
    explanation: str | None = None,
    now: int = NOW,
) -> tuple[Reason, list[Change]]:
    return rules.write_status(
        ctx.portal,
        sub,
        ctx.by_id[definition_id],
        target,
        legal_basis=legal_basis,
        explanation=explanation,
        source=SOURCE,
        now=now,
    )


# docs/wire-contract.md §5.5 step 3, one case per (current, opted out, requested): the reason, the
# type's status afterwards, and whether the covering wide status is lifted.
TABLE = [
    # UNSUBSCRIBED, or opted out (any current) + SUBSCRIBED -> RESUBSCRIBE_OCCURRED
    (UNSUB, False, SUB, RESUB, SUB, False),
    (UNSUB, True, SUB, RESUB, SUB, True),
    (NS, True, SUB, RESUB, SUB, True),
    (SUB, True, SUB, RESUB, SUB, True),
    # SUBSCRIBED, not opted out + SUBSCRIBED -> nothing written
    (SUB, False, SUB, NO, SUB, False),
    # NOT_SPECIFIED, not opted out + SUBSCRIBED -> requested change
    (NS, False, SUB, REQ, SUB, False),
    # UNSUBSCRIBED + UNSUBSCRIBED -> nothing written (opted out or not)
    (UNSUB, False, UNSUB, NO, UNSUB, False),
    (UNSUB, True, UNSUB, NO, UNSUB, False),
    # SUBSCRIBED or NOT_SPECIFIED + UNSUBSCRIBED -> requested change
    (SUB, False, UNSUB, REQ, UNSUB, False),
    (SUB, True, UNSUB, REQ, UNSUB, False),
    (NS, False, UNSUB, REQ, UNSUB, False),
    (NS, True, UNSUB, REQ, UNSUB, False),
    # NOT_SPECIFIED + NOT_SPECIFIED -> nothing written
    (NS, False, NS, NO, NS, False),
    (NS, True, NS, NO, NS, False),
    # SUBSCRIBED or UNSUBSCRIBED + NOT_SPECIFIED -> stored NOT_SPECIFIED, wide untouched
    (SUB, False, NS, REQ, NS, False),
    (SUB, True, NS, REQ, NS, False),
    (UNSUB, False, NS, REQ, NS, False),
    (UNSUB, True, NS, REQ, NS, False),
]


def test_table_covers_every_combination() -> None:
    combos = {(cur, out, target) for cur, out, target, *_ in TABLE}
    assert len(combos) == len(TABLE) == 3 * 2 * 3


@pytest.mark.parametrize(("cur", "opted_out", "target", "reason", "after", "lifted"), TABLE)
def test_set_status_success_reason_table(
    cur: Status, opted_out: bool, target: Status, reason: Reason, after: Status, lifted: bool
) -> None:
    ctx = context()
    sub = subscriber(types={} if cur is NS else {101: cur}, wide={0: UNSUB} if opted_out else {})
    got, changes = write(ctx, sub, 101, target)
    assert got is reason
    assert rules.current(sub, ctx.by_id[101]) is after
    assert rules.is_opted_out(ctx.portal, sub, ctx.by_id[101]) is (opted_out and not lifted)
    expected: list[Change] = []
    if reason is not NO and cur is not after:  # the ledger holds actual changes only
        expected.append(Change(ChangeKind.TYPE, 101, cur, after))
    if lifted:
        expected.append(Change(ChangeKind.WIDE, 0, UNSUB, SUB))
    assert changes == expected


def test_changed_row_stores_source_request_time_and_legal_basis() -> None:
    ctx = context()
    sub = subscriber(types={101: UNSUB}, legal_basis="NON_GDPR", explanation="old")
    reason, changes = write(
        ctx,
        sub,
        101,
        SUB,
        legal_basis=LegalBasis.CONSENT_WITH_NOTICE,
        explanation="Signed up at the booth",
    )
    assert reason is RESUB
    assert sub.types[101] == TypeStatus(
        SUB, SOURCE, NOW, "CONSENT_WITH_NOTICE", "Signed up at the booth"
    )
    assert changes == [
        Change(ChangeKind.TYPE, 101, UNSUB, SUB, "CONSENT_WITH_NOTICE", "Signed up at the booth")
    ]


def test_changed_row_without_legal_basis_clears_the_old_one() -> None:
    ctx = context()
    sub = subscriber(types={101: SUB}, legal_basis="NON_GDPR", explanation="old")
    write(ctx, sub, 101, UNSUB)
    assert sub.types[101] == TypeStatus(UNSUB, SOURCE, NOW, None, None)


def test_not_specified_write_is_stored_as_a_row() -> None:
    ctx = context()
    sub = subscriber(types={101: UNSUB})
    write(ctx, sub, 101, NS)
    assert sub.types[101] == TypeStatus(NS, SOURCE, NOW, None, None)


def test_new_subscriber_write_creates_only_the_type_row() -> None:
    ctx = context()
    sub = subscriber(created_at=None)
    reason, _ = write(ctx, sub, 102, SUB)
    assert reason is REQ
    assert set(sub.types) == {102}
    assert sub.wide == {}


@pytest.mark.parametrize(("stored", "target"), [(SUB, SUB), (UNSUB, UNSUB), (None, NS)], ids=str)
def test_no_status_change_writes_nothing(stored: Status | None, target: Status) -> None:
    ctx = context()
    sub = subscriber(
        types={} if stored is None else {101: stored},
        legal_basis="NON_GDPR",
        explanation="kept",
    )
    before = copy.deepcopy(sub)
    reason, changes = write(
        ctx, sub, 101, target, legal_basis="CONSENT_WITH_NOTICE", explanation="new"
    )
    assert reason is NO
    assert changes == []
    assert sub == before  # no timestamp, source or legal basis changed


def test_second_identical_write_keeps_the_first_timestamp() -> None:
    ctx = context()
    sub = subscriber(wide={0: UNSUB}, types={101: UNSUB, 102: UNSUB})
    assert write(ctx, sub, 101, SUB)[0] is RESUB
    assert write(ctx, sub, 101, SUB, now=LATER) == (NO, [])
    assert sub.types[101].timestamp == NOW
    assert sub.wide[0].timestamp == NOW


def test_resubscribe_in_a_portal_without_brands_lifts_the_portal_wide_status() -> None:
    # docs/wire-contract.md §10.4: after an opt-out of all, SUBSCRIBED on 101 lifts the opt-out;
    # 102 and 103 stay UNSUBSCRIBED with their old timestamps.
    ctx = context()
    sub = subscriber(types={101: UNSUB, 102: UNSUB, 103: UNSUB}, wide={0: UNSUB})
    reason, _ = write(ctx, sub, 101, SUB)
    assert reason is RESUB
    assert sub.wide[0] == WideStatus(SUB, NOW, SOURCE)
    assert sub.types[101].status is SUB
    for other in (102, 103):
        assert sub.types[other] == TypeStatus(UNSUB, OLD_SOURCE, T_SUB)
    assert [r.status for r in rules.wide_rows(ctx, sub, None)] == [SUB]


def test_resubscribe_in_a_brands_portal_lifts_only_the_covering_brand() -> None:
    ctx = brands_context()
    sub = subscriber(
        types={101: UNSUB, 102: UNSUB, 201: UNSUB, 202: UNSUB}, wide={0: UNSUB, 7: UNSUB}
    )
    reason, changes = write(ctx, sub, 201, SUB)
    assert reason is RESUB
    assert changes == [
        Change(ChangeKind.TYPE, 201, UNSUB, SUB),
        Change(ChangeKind.WIDE, 7, UNSUB, SUB),
    ]
    assert sub.wide[7] == WideStatus(SUB, NOW, SOURCE)
    assert sub.wide[0] == WideStatus(UNSUB, T_SUB, OLD_SOURCE)
    assert {d: s.status for d, s in sub.types.items()} == {
        101: UNSUB,
        102: UNSUB,
        201: SUB,
        202: UNSUB,
    }
    assert rules.is_opted_out(ctx.portal, sub, ctx.by_id[101])
    assert not rules.is_opted_out(ctx.portal, sub, ctx.by_id[202])


def test_opt_out_of_another_brand_does_not_block_a_subscribe() -> None:
    ctx = brands_context()
    sub = subscriber(wide={0: UNSUB})
    assert write(ctx, sub, 201, SUB) == (REQ, [Change(ChangeKind.TYPE, 201, NS, SUB)])
    assert sub.wide[0].status is UNSUB


def test_not_specified_while_opted_out_leaves_the_wide_status() -> None:
    ctx = context()
    sub = subscriber(types={101: UNSUB, 102: UNSUB, 103: UNSUB}, wide={0: UNSUB})
    reason, changes = write(ctx, sub, 101, NS)
    assert reason is REQ
    assert changes == [Change(ChangeKind.TYPE, 101, UNSUB, NS)]
    assert sub.wide[0] == WideStatus(UNSUB, T_SUB, OLD_SOURCE)
    assert rules.is_opted_out(ctx.portal, sub, ctx.by_id[101])


def test_write_to_an_archived_definition_is_accepted() -> None:
    ctx = context(definitions=[definition(101), definition(104, active=False)])
    sub = subscriber()
    assert write(ctx, sub, 104, UNSUB)[0] is REQ
    assert sub.types[104].status is UNSUB


# --- GDPR legal basis (§5.6) --------------------------------------------------------------


@pytest.mark.parametrize("target", [UNSUB, NS])
def test_opt_outs_never_need_a_legal_basis(target: Status) -> None:
    assert rules.missing_legal_basis(context(gdpr=True).portal, target, None, None) == []


def test_without_gdpr_nothing_is_required() -> None:
    assert rules.missing_legal_basis(context().portal, SUB, None, None) == []


@pytest.mark.parametrize(
    ("legal_basis", "explanation", "missing"),
    [
        (None, None, ["legalBasis", "legalBasisExplanation"]),
        ("CONSENT_WITH_NOTICE", None, ["legalBasisExplanation"]),
        (None, "Signed up at the booth", ["legalBasis"]),
        ("", "", ["legalBasis", "legalBasisExplanation"]),
        ("CONSENT_WITH_NOTICE", "Signed up at the booth", []),
    ],
)
def test_gdpr_opt_in_needs_both_fields(
    legal_basis: str | None, explanation: str | None, missing: list[str]
) -> None:
    portal = context(gdpr=True).portal
    assert rules.missing_legal_basis(portal, SUB, legal_basis, explanation) == missing


def test_gdpr_error_names_each_missing_field() -> None:
    # docs/wire-contract.md §10.10
    err = rules.gdpr_error(["legalBasis", "legalBasisExplanation"])
    assert isinstance(err, ValidationError)
    assert err.http_status == 400
    assert err.message == (
        "legalBasis and legalBasisExplanation are required to subscribe in this portal"
    )
    assert err.errors == [
        {"message": "legalBasis is required", "in": "legalBasis"},
        {"message": "legalBasisExplanation is required", "in": "legalBasisExplanation"},
    ]


# --- properties --------------------------------------------------------------------------

STATUSES = st.sampled_from([NS, SUB, UNSUB])
DEFINITIONS = st.sampled_from([101, 102, 201, 202])
WRITES = st.lists(st.tuples(DEFINITIONS, STATUSES, st.sampled_from([None, "NON_GDPR"])))


@st.composite
def states(draw: st.DrawFn) -> tuple[PortalContext, Subscriber]:
    if draw(st.booleans()):
        ctx = brands_context()
    else:
        ctx = context(definitions=[definition(d) for d in (101, 102, 201, 202)])
    sub = subscriber(
        types=draw(st.dictionaries(DEFINITIONS, STATUSES)),
        wide=draw(st.dictionaries(st.sampled_from([0, 7] if ctx.portal.brands else [0]), STATUSES)),
    )
    return ctx, sub


@given(states(), WRITES)
def test_a_repeated_write_never_changes_anything(
    state: tuple[PortalContext, Subscriber], writes: list[tuple[int, Status, str | None]]
) -> None:
    ctx, sub = state
    for i, (definition_id, target, basis) in enumerate(writes):
        write(ctx, sub, definition_id, target, legal_basis=basis, now=NOW + i)
        before = copy.deepcopy(sub)
        again = write(ctx, sub, definition_id, target, legal_basis=basis, now=LATER + i)
        assert again == (NO, [])
        assert sub == before


@given(states(), DEFINITIONS, STATUSES)
def test_changes_describe_exactly_what_the_write_did(
    state: tuple[PortalContext, Subscriber], definition_id: int, target: Status
) -> None:
    ctx, sub = state
    before = copy.deepcopy(sub)
    written = ctx.by_id[definition_id]
    reason, changes = write(ctx, sub, definition_id, target)
    assert rules.current(sub, written) is target
    assert (reason is NO) == (changes == [])
    for change in changes:
        if change.kind is ChangeKind.TYPE:
            assert change.target == definition_id
            assert change.old is rules.current(before, written)
            assert sub.types[definition_id].status is change.new
        else:
            assert change.target == rules.covering_unit(ctx.portal, written)
            assert change.old is UNSUB and change.new is SUB
            assert reason is RESUB
    # Nothing outside the written definition and its covering wide status moves.
    assert {d: s for d, s in sub.types.items() if d != definition_id} == {
        d: s for d, s in before.types.items() if d != definition_id
    }
    covering = rules.covering_unit(ctx.portal, written)
    assert {u: w for u, w in sub.wide.items() if u != covering} == {
        u: w for u, w in before.wide.items() if u != covering
    }
