"""Status reads (docs/wire-contract.md §5.4, §5.15) and the v3 mapping (§5.11)."""

from __future__ import annotations

import pytest

from commpref.domain import optout, rules
from commpref.domain.model import DEFAULT_SOURCE, Definition, SourceOfStatus, Status, V3Status
from commpref.domain.rules import StatusRow, V3Row
from tests.unit.builders import (
    NOW,
    OLD_SOURCE,
    T_DEFS,
    T_SUB,
    brands_context,
    context,
    definition,
    subscriber,
)

NS, SUB, UNSUB = Status.NOT_SPECIFIED, Status.SUBSCRIBED, Status.UNSUBSCRIBED
V3_SUB, V3_NOT = V3Status.SUBSCRIBED, V3Status.NOT_SUBSCRIBED
TYPE_SOURCE = SourceOfStatus.SUBSCRIPTION_STATUS


def ids(defs: list[Definition]) -> list[int]:
    return [d.id for d in defs]


# --- scope and rows (§5.4) ----------------------------------------------------------------


def test_unknown_address_reads_defaults_for_every_active_type() -> None:
    # docs/wire-contract.md §10.1: unknown address → NOT_SPECIFIED rows timestamped with
    # the request time.
    ctx = context()
    rows = rules.status_rows(ctx, subscriber(created_at=None), None, NOW)
    assert rows == [
        StatusRow(ctx.by_id[d], NS, DEFAULT_SOURCE, NOW, None, None, None) for d in (101, 102, 103)
    ]
    assert DEFAULT_SOURCE == "Not specified"


def test_stored_rows_show_what_is_stored() -> None:
    ctx = context()
    sub = subscriber(types={102: SUB}, legal_basis="CONSENT_WITH_NOTICE", explanation="booth")
    row = rules.status_rows(ctx, sub, None, NOW)[1]
    assert row == StatusRow(
        ctx.by_id[102], SUB, OLD_SOURCE, T_SUB, "CONSENT_WITH_NOTICE", "booth", None
    )


def test_rows_follow_definition_ids_across_business_units() -> None:
    ctx = context(
        brands=True,
        units=(0, 7),
        definitions=[definition(160), definition(101), definition(150, unit=7)],
    )
    assert ids(rules.in_scope(ctx, subscriber(), None)) == [101, 150, 160]
    rows = rules.status_rows(ctx, subscriber(), None, NOW)
    assert [r.definition.id for r in rows] == [101, 150, 160]


def test_archived_definitions_are_listed_only_with_a_stored_status() -> None:
    ctx = context(
        definitions=[definition(101), definition(104, active=False), definition(105, active=False)]
    )
    assert ids(rules.in_scope(ctx, subscriber(), None)) == [101]
    assert ids(rules.in_scope(ctx, subscriber(types={105: UNSUB}), None)) == [101, 105]
    assert ids(rules.in_scope(ctx, subscriber(types={104: NS}), None)) == [101, 104]


@pytest.mark.parametrize(
    ("asked", "expected"),
    [(None, [101, 102, 201, 202]), (0, [101, 102]), (7, [201, 202]), (9, [])],
)
def test_business_unit_filter(asked: int | None, expected: list[int]) -> None:
    ctx = brands_context()
    assert ids(rules.in_scope(ctx, subscriber(), asked)) == expected
    assert [r.definition.id for r in rules.status_rows(ctx, subscriber(), asked, NOW)] == expected


def test_known_business_unit_without_definitions_is_empty() -> None:
    ctx = context(brands=True, units=(0, 8))
    assert rules.status_rows(ctx, subscriber(), 8, NOW) == []


# --- default timestamps (§5.15) -------------------------------------------------------------


def test_default_timestamp_is_the_later_of_subscriber_and_definition_creation() -> None:
    early, late = definition(101, created_at=T_DEFS), definition(102, created_at=T_SUB + 1)
    sub = subscriber(created_at=T_SUB)
    assert rules.default_timestamp(sub, early, NOW) == T_SUB
    assert rules.default_timestamp(sub, late, NOW) == T_SUB + 1


def test_default_timestamp_of_an_unknown_address_is_the_request_time() -> None:
    assert rules.default_timestamp(subscriber(created_at=None), definition(101), NOW) == NOW


def test_default_rows_of_a_known_address_are_stable_between_reads() -> None:
    ctx = context()
    sub = subscriber(created_at=T_SUB)
    first = rules.status_rows(ctx, sub, None, NOW)
    assert first == rules.status_rows(ctx, sub, None, NOW + 60_000)
    assert {r.timestamp for r in first} == {T_SUB}


# --- v3 mapping (§5.11) -----------------------------------------------------------------------

V3_TABLE = [
    # opted out → NOT_SUBSCRIBED from the wide status, whatever the type says
    ({}, {0: UNSUB}, False, False, V3_NOT, SourceOfStatus.PORTAL_WIDE_STATUS),
    ({101: SUB}, {0: UNSUB}, False, False, V3_NOT, SourceOfStatus.PORTAL_WIDE_STATUS),
    ({101: SUB}, {0: UNSUB}, True, False, V3_NOT, SourceOfStatus.PORTAL_WIDE_STATUS),
    ({101: SUB}, {0: UNSUB}, False, True, V3_NOT, SourceOfStatus.BRAND_WIDE_STATUS),
    # the type's own record
    ({101: SUB}, {}, False, False, V3_SUB, TYPE_SOURCE),
    ({101: SUB}, {0: SUB}, True, False, V3_SUB, TYPE_SOURCE),  # lifted opt-out
    ({101: UNSUB}, {}, False, False, V3_NOT, TYPE_SOURCE),
    ({101: UNSUB}, {}, True, True, V3_NOT, TYPE_SOURCE),
    # defaults: SUBSCRIBED without GDPR, NOT_SUBSCRIBED with it
    ({}, {}, False, False, V3_SUB, TYPE_SOURCE),
    ({101: NS}, {}, False, False, V3_SUB, TYPE_SOURCE),
    ({}, {}, True, False, V3_NOT, TYPE_SOURCE),
    ({}, {}, False, True, V3_SUB, TYPE_SOURCE),
]


@pytest.mark.parametrize(("types", "wide", "gdpr", "brands", "status", "source"), V3_TABLE)
def test_v3_mapping(
    types: dict[int, Status],
    wide: dict[int, Status],
    gdpr: bool,
    brands: bool,
    status: V3Status,
    source: SourceOfStatus,
) -> None:
    ctx = brands_context(gdpr=gdpr) if brands else context(gdpr=gdpr)
    row = rules.v3_row(ctx, subscriber(types=types, wide=wide), ctx.by_id[101])
    assert (row.status, row.source_of_status) == (status, source)


def test_v3_brand_wide_opt_out_covers_only_its_brand() -> None:
    ctx = brands_context()
    sub = subscriber(wide={7: UNSUB})
    assert rules.v3_row(ctx, sub, ctx.by_id[201]).source_of_status is (
        SourceOfStatus.BRAND_WIDE_STATUS
    )
    assert rules.v3_row(ctx, sub, ctx.by_id[101]) == V3Row(
        ctx.by_id[101], V3_SUB, TYPE_SOURCE, None, None
    )


def test_v3_defaults_carry_a_null_legal_basis_and_stored_rows_their_own() -> None:
    ctx = context()
    sub = subscriber(types={102: SUB}, legal_basis="NON_GDPR", explanation="contract")
    rows = rules.v3_rows(ctx, sub)
    assert [(r.definition.id, r.legal_basis, r.legal_basis_explanation) for r in rows] == [
        (101, None, None),
        (102, "NON_GDPR", "contract"),
        (103, None, None),
    ]


def test_v3_rows_after_an_opt_out_read_portal_wide() -> None:
    # docs/wire-contract.md §10.2's K answer.
    ctx = context()
    sub = subscriber()
    optout.unsubscribe_all(ctx, sub, 0, source="Public status API", now=NOW)
    assert [(r.definition.id, r.status, r.source_of_status) for r in rules.v3_rows(ctx, sub)] == [
        (d, V3_NOT, SourceOfStatus.PORTAL_WIDE_STATUS) for d in (101, 102, 103)
    ]


def test_v3_rows_span_every_brand_and_skip_unstored_archived_types() -> None:
    ctx = context(
        brands=True,
        units=(0, 7),
        definitions=[definition(101), definition(104, active=False), definition(201, unit=7)],
    )
    assert [r.definition.id for r in rules.v3_rows(ctx, subscriber())] == [101, 201]


def test_v3_never_answers_with_v4_values() -> None:
    ctx = context()
    for stored in (NS, SUB, UNSUB):
        for wide in ({}, {0: UNSUB}, {0: SUB}):
            row = rules.v3_row(ctx, subscriber(types={101: stored}, wide=wide), ctx.by_id[101])
            assert row.status in (V3_SUB, V3_NOT)
