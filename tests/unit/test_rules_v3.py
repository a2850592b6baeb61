"""v3 writes (docs/wire-contract.md §5.11, §6.5):
subscribe, unsubscribe, resubscribe and their refusals."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from commpref.domain import rules
from commpref.domain.model import (
    Change,
    ChangeKind,
    PortalContext,
    Status,
    Subscriber,
    TypeStatus,
    WideStatus,
)
from commpref.errors import NotFound, ValidationError
from tests.unit.builders import (
    EMAIL,
    NOW,
    SOURCE,
    brands_context,
    context,
    subscriber,
)

NS, SUB, UNSUB = Status.NOT_SPECIFIED, Status.SUBSCRIBED, Status.UNSUBSCRIBED
V3Rule = Callable[..., list[Change]]


def call(
    rule: V3Rule,
    ctx: PortalContext,
    sub: Subscriber,
    definition_id: int = 102,
    *,
    legal_basis: str | None = None,
    explanation: str | None = None,
) -> list[Change]:
    return rule(
        ctx,
        sub,
        ctx.by_id[definition_id],
        legal_basis=legal_basis,
        explanation=explanation,
        source=SOURCE,
        now=NOW,
    )


def refused(rule: V3Rule, ctx: PortalContext, sub: Subscriber, definition_id: int = 102) -> str:
    """The message of the 400 a refused call raises; the subscriber stays as it was."""
    before = copy.deepcopy(sub)
    with pytest.raises(ValidationError) as raised:
        call(rule, ctx, sub, definition_id)
    assert raised.value.http_status == 400
    assert raised.value.category == "VALIDATION_ERROR"
    assert sub == before
    return raised.value.message


# --- L subscribe ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("types", "wide"), [({102: UNSUB}, {}), ({}, {0: UNSUB}), ({102: SUB}, {0: UNSUB})]
)
def test_subscribe_refuses_unsubscribed_or_opted_out(
    types: dict[int, Status], wide: dict[int, Status]
) -> None:
    # docs/wire-contract.md §10.5: HubSpot's literal message.
    sub = subscriber(types=types, wide=wide)
    assert refused(rules.v3_subscribe, context(), sub) == (
        "subscription 102 for jane@example.com cannot be updated because they have unsubscribed"
    )


def test_subscribe_refuses_an_opt_out_of_the_covering_brand_only() -> None:
    ctx = brands_context()
    sub = subscriber(wide={7: UNSUB})
    assert "cannot be updated" in refused(rules.v3_subscribe, ctx, sub, 201)
    assert call(rules.v3_subscribe, ctx, sub, 101) == [Change(ChangeKind.TYPE, 101, NS, SUB)]


def test_subscribe_when_already_subscribed_writes_nothing() -> None:
    sub = subscriber(types={102: SUB})
    before = copy.deepcopy(sub)
    assert call(rules.v3_subscribe, context(), sub, legal_basis="NON_GDPR") == []
    assert sub == before


def test_subscribe_stores_the_type_with_its_legal_basis() -> None:
    sub = subscriber()
    changes = call(
        rules.v3_subscribe,
        context(gdpr=True),
        sub,
        legal_basis="CONSENT_WITH_NOTICE",
        explanation="booth",
    )
    assert changes == [Change(ChangeKind.TYPE, 102, NS, SUB, "CONSENT_WITH_NOTICE", "booth")]
    assert sub.types[102] == TypeStatus(SUB, SOURCE, NOW, "CONSENT_WITH_NOTICE", "booth")


# --- M unsubscribe ---------------------------------------------------------------------------


def test_unsubscribe_refuses_an_unsubscribed_type() -> None:
    sub = subscriber(types={102: UNSUB})
    assert refused(rules.v3_unsubscribe, context(), sub) == (
        "jane@example.com is already unsubscribed to subscription 102"
    )


@pytest.mark.parametrize(
    ("types", "wide"), [({}, {}), ({102: SUB}, {}), ({}, {0: UNSUB}), ({102: NS}, {0: UNSUB})]
)
def test_unsubscribe_sets_the_type_even_when_opted_out(
    types: dict[int, Status], wide: dict[int, Status]
) -> None:
    sub = subscriber(types=types, wide=wide)
    old = rules.current(sub, context().by_id[102])
    assert call(rules.v3_unsubscribe, context(), sub) == [Change(ChangeKind.TYPE, 102, old, UNSUB)]
    assert sub.types[102] == TypeStatus(UNSUB, SOURCE, NOW)
    assert {u: w.status for u, w in sub.wide.items()} == wide  # the wide status is untouched


# --- N resubscribe ---------------------------------------------------------------------------


def test_resubscribe_refuses_an_address_already_subscribed() -> None:
    sub = subscriber(types={102: SUB})
    assert refused(rules.v3_resubscribe, context(), sub) == (
        "jane@example.com is already subscribed to subscription 102"
    )


def test_resubscribe_lifts_the_covering_opt_out_even_when_the_type_is_subscribed() -> None:
    sub = subscriber(types={102: SUB}, wide={0: UNSUB})
    changes = call(rules.v3_resubscribe, context(), sub)
    assert Change(ChangeKind.WIDE, 0, UNSUB, SUB) in changes
    assert sub.wide[0] == WideStatus(SUB, NOW, SOURCE)


def test_resubscribe_of_an_unsubscribed_type_in_a_brands_portal() -> None:
    ctx = brands_context()
    sub = subscriber(types={201: UNSUB, 202: UNSUB}, wide={0: UNSUB, 7: UNSUB})
    assert call(rules.v3_resubscribe, ctx, sub, 201) == [
        Change(ChangeKind.TYPE, 201, UNSUB, SUB),
        Change(ChangeKind.WIDE, 7, UNSUB, SUB),
    ]
    assert sub.wide[0].status is UNSUB
    assert sub.types[202].status is UNSUB
    assert rules.v3_row(ctx, sub, ctx.by_id[201]).status == "SUBSCRIBED"


def test_resubscribe_of_a_type_never_chosen() -> None:
    sub = subscriber()
    assert call(rules.v3_resubscribe, context(), sub) == [Change(ChangeKind.TYPE, 102, NS, SUB)]


# --- unknown addresses (§5.11, strict_v3_unknown_404) -------------------------------------


@pytest.mark.parametrize(
    "rule",
    [rules.v3_subscribe, rules.v3_unsubscribe, rules.v3_resubscribe],
    ids=lambda r: r.__name__,
)
def test_strict_portal_answers_404_for_unknown_addresses(rule: V3Rule) -> None:
    sub = subscriber(created_at=None)
    with pytest.raises(NotFound) as raised:
        call(rule, context(strict_v3_unknown_404=True), sub)
    assert raised.value.http_status == 404
    assert raised.value.category == "OBJECT_NOT_FOUND"
    assert raised.value.message == (
        f"{EMAIL} either has no subscriptions associated with this portal or does not exist"
    )
    assert sub.types == {}


@pytest.mark.parametrize(
    "rule",
    [rules.v3_subscribe, rules.v3_unsubscribe, rules.v3_resubscribe],
    ids=lambda r: r.__name__,
)
def test_unknown_addresses_are_written_by_default_and_known_ones_in_strict_portals(
    rule: V3Rule,
) -> None:
    assert call(rule, context(), subscriber(created_at=None)) != []
    assert call(rule, context(strict_v3_unknown_404=True), subscriber()) != []


def test_strict_404_comes_before_the_unsubscribed_refusal() -> None:
    sub = subscriber(created_at=None, types={102: UNSUB})
    with pytest.raises(NotFound):
        call(rules.v3_subscribe, context(strict_v3_unknown_404=True), sub)
