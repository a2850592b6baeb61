"""Consent-event ids, cursors and filters of the history (services/history.py)."""

from __future__ import annotations

import pytest

from commpref.domain.model import Change, ChangeKind, Status
from commpref.errors import ValidationError
from commpref.services import history

NS, UNSUB = Status.NOT_SPECIFIED, Status.UNSUBSCRIBED


def test_cursors_round_trip_and_are_opaque() -> None:
    for position in [(0, -1), (1, 0), (123456789012, 41)]:
        cursor = history.encode_cursor(*position)
        assert "." not in cursor
        assert history.decode_cursor(cursor) == position
    assert history.decode_cursor(None) == (0, -1)
    assert history.event_id(42, 3) == "42.3"


@pytest.mark.parametrize("cursor", ["nope", "MTIz", "!!!", "LTEuMA"])  # "123", "-1.0"
def test_a_forged_cursor_is_a_400_naming_since(cursor: str) -> None:
    with pytest.raises(ValidationError) as raised:
        history.decode_cursor(cursor)
    assert raised.value.errors == [{"message": f"Invalid cursor: {cursor}", "in": "since"}]


def test_the_subscription_filter() -> None:
    type_1 = Change(ChangeKind.TYPE, 1, NS, UNSUB)
    type_2 = Change(ChangeKind.TYPE, 2, NS, UNSUB)
    wide = Change(ChangeKind.WIDE, 1, NS, UNSUB)
    erased = Change(ChangeKind.ERASURE, 0, NS, UNSUB)
    changes = [type_1, type_2, wide, erased]

    def kept(subscription: int | str | None) -> list[Change]:
        return [c for c in changes if history.Filters(subscription).matches(c)]

    assert kept(None) == changes
    assert kept(1) == [type_1]  # not the wide change of business unit 1
    assert kept(history.ALL) == [wide, erased]
    assert history.parse_subscription("all") == "ALL"
    assert history.parse_subscription("17") == 17
    with pytest.raises(ValidationError):
        history.parse_subscription("x17")
