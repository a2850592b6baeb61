"""Import rules (domain/imports.py): the timestamp decides, opt-outs are never undone without
allow_resubscribe, erased addresses stay suppressed; and reading one record."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commpref.domain import erasure
from commpref.domain.imports import (
    ImportRow,
    ReportRow,
    Verdict,
    apply_row,
    apply_suppression,
    read_record,
)
from commpref.domain.model import Change, ChangeKind, Status, Subscriber, TypeStatus, WideStatus
from tests.unit.builders import (
    EMAIL,
    NOW,
    OLD_SOURCE,
    T_SUB,
    brands_context,
    context,
    subscriber,
)

NS, SUB, UNSUB = Status.NOT_SPECIFIED, Status.SUBSCRIBED, Status.UNSUBSCRIBED
OLDER, NEWER = T_SUB - 1, T_SUB + 1
CTX = context()
D101 = CTX.definition(101)


def row(status: Status, at: int, target: int | None = 101, unit: int = 0) -> ImportRow:
    return ImportRow(7, EMAIL, target, unit, status, at, "Import", None, None)


def apply(
    sub: Subscriber, r: ImportRow, *, allow: bool = False
) -> tuple[Verdict, list[Change], str]:
    definition = None if r.subscription_id is None else CTX.definition(r.subscription_id)
    return apply_row(CTX.portal, sub, r, definition, allow_resubscribe=allow)


# --- one definition's status -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "new", "at", "verdict"),
    [
        (None, UNSUB, OLDER, Verdict.APPLIED),  # nothing stored: any time applies
        (None, SUB, OLDER, Verdict.APPLIED),
        (SUB, UNSUB, NEWER, Verdict.APPLIED),
        (SUB, UNSUB, T_SUB, Verdict.APPLIED),  # a tie: the opt-out wins
        (SUB, UNSUB, OLDER, Verdict.STALE),
        (UNSUB, SUB, OLDER, Verdict.STALE),  # older than a newer opt-out: never
        (UNSUB, SUB, T_SUB, Verdict.STALE),  # a tie: the stored opt-out stays
        (UNSUB, SUB, NEWER, Verdict.PROTECTED),  # newer, but undoing an opt-out
        (UNSUB, NS, NEWER, Verdict.PROTECTED),
        (NS, SUB, NEWER, Verdict.APPLIED),
        (NS, SUB, OLDER, Verdict.STALE),
        (SUB, NS, NEWER, Verdict.APPLIED),
        (UNSUB, UNSUB, NEWER, Verdict.UNCHANGED),
        (SUB, SUB, OLDER, Verdict.UNCHANGED),
    ],
)
def test_the_timestamp_decides_and_opt_outs_stay(
    stored: Status | None, new: Status, at: int, verdict: Verdict
) -> None:
    sub = subscriber(types={} if stored is None else {101: stored})
    before = dict(sub.types)
    got, changes, reason = apply(sub, row(new, at))
    assert got is verdict
    if verdict is Verdict.APPLIED:
        old = NS if stored is None else stored
        assert changes == [Change(ChangeKind.TYPE, 101, old, new)]
        assert sub.types[101] == TypeStatus(new, "Import", at)
        assert reason == ""
    else:
        assert changes == []
        assert sub.types == before
        assert bool(reason) is (verdict in (Verdict.STALE, Verdict.PROTECTED))


def test_allow_resubscribe_undoes_a_newer_row_over_an_opt_out_but_never_an_older() -> None:
    sub = subscriber(types={101: UNSUB})
    assert apply(sub, row(SUB, NEWER), allow=True)[0] is Verdict.APPLIED
    assert sub.types[101].status is SUB
    stale = subscriber(types={101: UNSUB})
    assert apply(stale, row(SUB, OLDER), allow=True)[0] is Verdict.STALE
    assert stale.types[101].status is UNSUB


def test_a_subscribe_under_an_opt_out_of_all_needs_allow_and_lifts_it() -> None:
    sub = subscriber(wide={0: UNSUB})
    verdict, _, reason = apply(sub, row(SUB, NEWER))
    assert (verdict, "allow resubscribe" in reason) == (Verdict.PROTECTED, True)
    assert sub.wide[0].status is UNSUB and 101 not in sub.types

    verdict, changes, _ = apply(sub, row(SUB, NEWER), allow=True)
    assert verdict is Verdict.APPLIED
    assert changes == [
        Change(ChangeKind.TYPE, 101, NS, SUB),
        Change(ChangeKind.WIDE, 0, UNSUB, SUB),
    ]
    assert sub.wide[0] == WideStatus(SUB, NEWER, "Import")


def test_an_older_subscribe_never_lifts_a_newer_opt_out_of_all() -> None:
    sub = subscriber(wide={0: UNSUB})
    assert apply(sub, row(SUB, OLDER), allow=True)[:2] == (Verdict.STALE, [])
    assert sub.wide[0].status is UNSUB


def test_an_opt_out_row_applies_under_an_opt_out_of_all() -> None:
    sub = subscriber(wide={0: UNSUB}, types={101: SUB})
    assert apply(sub, row(UNSUB, NEWER))[0] is Verdict.APPLIED
    assert sub.types[101].status is UNSUB and sub.wide[0].status is UNSUB


def test_a_not_specified_row_where_nothing_is_stored_is_applied_as_a_change() -> None:
    sub = subscriber()
    assert apply(sub, row(NS, OLDER)) == (
        Verdict.APPLIED, [Change(ChangeKind.TYPE, 101, NS, NS)], ""
    )  # fmt: skip
    assert sub.types[101] == TypeStatus(NS, "Import", OLDER)
    # Once stored, the same row again stores nothing.
    assert apply(sub, row(NS, NEWER)) == (Verdict.UNCHANGED, [], "")
    assert sub.types[101] == TypeStatus(NS, "Import", OLDER)


def test_later_rows_see_earlier_rows_of_the_same_file() -> None:
    sub = subscriber(created_at=None)
    assert apply(sub, row(SUB, T_SUB))[0] is Verdict.APPLIED
    assert apply(sub, row(UNSUB, OLDER))[0] is Verdict.STALE
    assert apply(sub, row(UNSUB, NEWER))[0] is Verdict.APPLIED
    assert apply(sub, row(SUB, NEWER + 1))[0] is Verdict.PROTECTED


# --- the opt-out-of-all switch (ALL) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "new", "at", "allow", "verdict"),
    [
        (None, UNSUB, OLDER, False, Verdict.APPLIED),
        (None, SUB, OLDER, False, Verdict.APPLIED),  # a lifted switch, restored as exported
        (SUB, UNSUB, NEWER, False, Verdict.APPLIED),
        (SUB, UNSUB, T_SUB, False, Verdict.APPLIED),
        (SUB, UNSUB, OLDER, False, Verdict.STALE),
        (UNSUB, SUB, NEWER, False, Verdict.PROTECTED),
        (UNSUB, SUB, NEWER, True, Verdict.APPLIED),
        (UNSUB, SUB, T_SUB, True, Verdict.STALE),
        (UNSUB, UNSUB, NEWER, False, Verdict.UNCHANGED),
    ],
)
def test_all_rows_set_the_opt_out_of_all_switch_by_the_same_rules(
    stored: Status | None, new: Status, at: int, allow: bool, verdict: Verdict
) -> None:
    sub = subscriber(wide={} if stored is None else {0: stored}, types={101: SUB})
    got, changes, _ = apply(sub, row(new, at, target=None), allow=allow)
    assert got is verdict
    if verdict is Verdict.APPLIED:
        assert changes == [Change(ChangeKind.WIDE, 0, NS if stored is None else stored, new)]
        assert sub.wide[0] == WideStatus(new, at, "Import")
    assert sub.types == {101: TypeStatus(SUB, OLD_SOURCE, T_SUB)}  # types untouched


def test_all_rows_of_a_brand_touch_only_that_brand() -> None:
    ctx = brands_context()
    sub = subscriber(wide={0: UNSUB})
    r = row(UNSUB, NEWER, target=None, unit=7)
    verdict, changes, _ = apply_row(ctx.portal, sub, r, None, allow_resubscribe=False)
    assert verdict is Verdict.APPLIED
    assert changes == [Change(ChangeKind.WIDE, 7, NS, UNSUB)]
    assert sub.wide[0] == WideStatus(UNSUB, T_SUB, OLD_SOURCE)


# --- erased addresses ----------------------------------------------------------------------------


def test_an_erased_address_cannot_be_resubscribed_without_allow_or_by_an_older_row() -> None:
    erased = erasure.suppressed_subscriber(EMAIL, T_SUB, [101, 102, 103], [0])
    assert apply(erased, row(SUB, NEWER))[0] is Verdict.PROTECTED
    assert apply(erased, row(SUB, OLDER), allow=True)[0] is Verdict.STALE
    assert apply(erased, row(SUB, NEWER, target=None))[0] is Verdict.PROTECTED
    assert apply(erased, row(UNSUB, NEWER))[0] is Verdict.UNCHANGED
    assert all(t.status is UNSUB for t in erased.types.values())
    assert apply(erased, row(SUB, NEWER), allow=True)[0] is Verdict.APPLIED
    assert erased.types[101].status is SUB and erased.wide[0].status is SUB


@given(
    st.lists(
        st.tuples(st.sampled_from([NS, SUB, UNSUB]), st.integers(0, 5), st.booleans()),
        max_size=12,
    )
)
def test_without_allow_no_row_ever_turns_an_opt_out_into_something_else(
    rows: list[tuple[Status, int, bool]],
) -> None:
    sub = subscriber(types={101: UNSUB}, wide={0: UNSUB}, at=2)
    for status, at, wide in rows:
        apply(sub, row(status, at, target=None if wide else 101))
        assert sub.types[101].status is UNSUB
        assert sub.wide[0].status is UNSUB


# --- reading one record -------------------------------------------------------------------------


def read(**record: Any) -> ImportRow | ReportRow:
    base = {"email": " Jane@Example.com ", "subscription_id": "101", "status": "unsubscribed"}
    return read_record(CTX, 12, {**base, **record}, now=NOW)


def test_a_valid_record_is_normalised_and_its_free_text_kept_as_given() -> None:
    got = read(timestamp="2026-05-01T10:00:00Z", source=" Bounce ", legal_basis="non_gdpr",
               legal_basis_explanation=" said so ")  # fmt: skip
    assert got == ImportRow(12, EMAIL, 101, 0, UNSUB, NOW, " Bounce ", "NON_GDPR", " said so ")


def test_a_name_of_another_definition_wins_over_an_id_of_this_portal() -> None:
    # An export of another database: its id 101 is "Type 102" here.
    assert read(subscription_id="101", subscription_name="Type 102").subscription_id == 102
    assert read(subscription_id="101", subscription_name="Type 101").subscription_id == 101
    # A name this portal lacks leaves the id as it is (a renamed definition).
    assert read(subscription_id="101", subscription_name="Renamed").subscription_id == 101


KEY_ID = erasure.key_id(b"k" * 64)
LABEL = erasure.label(bytes(range(32)))


def read_erased(**record: Any) -> ImportRow | ReportRow:
    base = {"email": LABEL, "subscription_id": "erased", "status": "UNSUBSCRIBED",
            "erasure_key_id": KEY_ID, "timestamp": str(NOW - 9)}  # fmt: skip
    return read_record(CTX, 3, {**base, **record}, now=NOW, erasure_key_id=KEY_ID)


def test_an_erased_row_is_a_suppression_under_the_same_erasure_key() -> None:
    assert read_erased() == ImportRow(3, LABEL, None, 0, UNSUB, NOW - 9, erasure.ERASURE_SOURCE)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"erasure_key_id": "0" * 16}, "Erased under erasure key 0000000000000000, not this"),
        ({"erasure_key_id": ""}, "Erased under erasure key (none given)"),
        ({"email": "jane@example.com"}, "ERASED rows take an erasure label"),
        ({"email": LABEL[:-2]}, "ERASED rows take an erasure label"),
        ({"status": "SUBSCRIBED"}, "ERASED rows take UNSUBSCRIBED"),
        ({"timestamp": "yesterday"}, "Invalid timestamp yesterday"),
    ],
)
def test_an_erased_row_that_cannot_be_kept_is_rejected(record: dict[str, str], reason: str) -> None:
    got = read_erased(**record)
    assert isinstance(got, ReportRow) and got.kind == "REJECTED"
    assert got.reason.startswith(reason)


def test_a_suppression_keeps_the_newest_erasure_time() -> None:
    r = ImportRow(3, LABEL, None, 0, UNSUB, NOW, erasure.ERASURE_SOURCE)
    assert apply_suppression(None, r) is Verdict.APPLIED
    assert apply_suppression(NOW - 1, r) is Verdict.APPLIED
    assert apply_suppression(NOW, r) is Verdict.UNCHANGED
    assert apply_suppression(NOW + 1, r) is Verdict.UNCHANGED


@pytest.mark.parametrize(
    ("record", "ts"),
    [
        ({"timestamp": str(NOW - 5)}, NOW - 5),
        ({}, NOW),
        ({"timestamp": "2026-05-01T10:00:00"}, NOW),
    ],
)
def test_timestamps_are_epoch_ms_or_iso_and_default_to_the_jobs_time(
    record: dict[str, str], ts: int
) -> None:
    got = read(**record)
    assert isinstance(got, ImportRow) and got.timestamp == ts


def test_all_rows_and_definitions_by_name() -> None:
    assert read(subscription_id="all") == ImportRow(12, EMAIL, None, 0, UNSUB, NOW, "Import")
    named = read(subscription_id="", subscription_name="Type 102")
    assert isinstance(named, ImportRow) and named.subscription_id == 102
    # an id from another portal (ids are unique across portals) falls back to the name
    moved = read(subscription_id="999", subscription_name="Type 103")
    assert isinstance(moved, ImportRow) and moved.subscription_id == 103


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"email": "not-an-email"}, "Invalid email address"),
        ({"status": "MAYBE"}, "Invalid status MAYBE"),
        ({"status": ""}, "Invalid status (empty)"),
        ({"subscription_id": ""}, "subscription_id is required"),
        ({"subscription_id": "abc"}, "neither a definition id nor ALL"),
        ({"subscription_id": "999"}, "Subscription definition 999 does not exist"),
        ({"subscription_id": "", "subscription_name": "Nope"}, "No subscription definition"),
        ({"subscription_id": "ALL", "status": "NOT_SPECIFIED"}, "ALL rows take"),
        ({"subscription_id": "ALL", "business_unit_id": "7"}, "Business unit 7 does not exist"),
        ({"subscription_id": "ALL", "business_unit_id": "x"}, "Invalid business_unit_id"),
        ({"timestamp": "yesterday"}, "Invalid timestamp yesterday"),
        ({"legal_basis": "BECAUSE"}, "Invalid legal_basis BECAUSE"),
        ({"source": "x" * 1001}, "at most 1000 characters"),
    ],
)
def test_invalid_records_are_rejected_with_a_reason(record: dict[str, str], reason: str) -> None:
    got = read(**record)
    assert isinstance(got, ReportRow)
    assert (got.line, got.kind) == (12, "REJECTED")
    assert reason in got.reason


def test_gdpr_portals_need_the_legal_basis_pair_to_subscribe() -> None:
    gdpr = context(gdpr=True)
    base = {"email": EMAIL, "subscription_id": "101", "status": "SUBSCRIBED"}
    rejected = read_record(gdpr, 3, base, now=NOW)
    assert isinstance(rejected, ReportRow) and "legalBasis" in rejected.reason
    full = {**base, "legal_basis": "CONSENT_WITH_NOTICE", "legal_basis_explanation": "Form"}
    assert isinstance(read_record(gdpr, 3, full, now=NOW), ImportRow)
    opt_out = {**base, "status": "UNSUBSCRIBED"}
    assert isinstance(read_record(gdpr, 3, opt_out, now=NOW), ImportRow)


def test_text_fields_are_stored_clean() -> None:
    got = read(source="Bounce\x00list", legal_basis_explanation="\ud800x")
    assert isinstance(got, ImportRow)
    assert got.source == "Bounce\ufffdlist"
    assert got.legal_basis_explanation == "?x"
    assert isinstance(read(timestamp="-1"), ReportRow)
    assert isinstance(read(timestamp="10000-01-01"), ReportRow)
