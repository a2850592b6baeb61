"""Webhook rules (domain/webhooks.py): event filters, the retry schedule, signatures."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from commpref.domain.model import Change, ChangeKind, Status
from commpref.domain.webhooks import Backoff, EventFilter, sign, verify

NS, SUB, UNSUB = Status.NOT_SPECIFIED, Status.SUBSCRIBED, Status.UNSUBSCRIBED
TYPE_101 = Change(ChangeKind.TYPE, 101, SUB, UNSUB)
TYPE_102 = Change(ChangeKind.TYPE, 102, NS, SUB)
WIDE = Change(ChangeKind.WIDE, 0, NS, UNSUB)
ERASED = Change(ChangeKind.ERASURE, 0, NS, UNSUB)


@pytest.mark.parametrize(
    ("event_filter", "passing"),
    [
        (EventFilter(), {TYPE_101, TYPE_102, WIDE, ERASED}),
        (EventFilter(statuses=frozenset({UNSUB})), {TYPE_101, WIDE, ERASED}),
        (EventFilter(subscription_ids=frozenset({102})), {TYPE_102, WIDE, ERASED}),
        (EventFilter(include_wide=False), {TYPE_101, TYPE_102, ERASED}),
        (
            EventFilter(frozenset({SUB}), frozenset({101}), include_wide=False),
            {ERASED},  # erasures always pass: every consumer must forget the address
        ),
    ],
)
def test_filters_choose_changes(event_filter: EventFilter, passing: set[Change]) -> None:
    changes = {TYPE_101, TYPE_102, WIDE, ERASED}
    assert {c for c in changes if event_filter.matches(c)} == passing


def test_filters_survive_their_json() -> None:
    for f in (EventFilter(), EventFilter(frozenset({UNSUB, SUB}), frozenset({3, 1}), False)):
        assert EventFilter.from_json(f.to_json()) == f
    assert (
        '"statuses":["SUBSCRIBED","UNSUBSCRIBED"]' in EventFilter(frozenset({UNSUB, SUB})).to_json()
    )


def test_backoff_doubles_up_to_its_cap_and_gives_up_after_the_window() -> None:
    b = Backoff(initial_ms=1000, max_ms=5000, window_ms=60_000)
    created = 1_000_000
    delays = [b.next_attempt(attempts=n, created_at=created, now=created) for n in range(1, 6)]
    assert [d - created for d in delays if d is not None] == [1000, 2000, 4000, 5000, 5000]
    # the last attempt falls on the end of the window, then it gives up
    assert b.next_attempt(attempts=9, created_at=created, now=created + 58_000) == created + 60_000
    assert b.next_attempt(attempts=10, created_at=created, now=created + 60_000) is None


def test_a_24_hour_window_with_defaults_means_about_30_attempts() -> None:
    b = Backoff(initial_ms=10_000, max_ms=3_600_000, window_ms=86_400_000)
    now, attempts = 0, 0
    while (nxt := b.next_attempt(attempts=attempts + 1, created_at=0, now=now)) is not None:
        now, attempts = nxt, attempts + 1
    assert now == 86_400_000
    assert 25 <= attempts <= 40


def test_signatures_are_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"events":[]}'
    expected = hmac.new(b"whsec_secret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("whsec_secret", 1700000000, body) == f"v1={expected}"
    assert verify("whsec_secret", 1700000000, body, f"v1={expected}")
    assert not verify("whsec_secret", 1700000001, body, f"v1={expected}")
    assert not verify("other-secret", 1700000000, body, f"v1={expected}")
    assert not verify("whsec_secret", 1700000000, body + b" ", f"v1={expected}")


def test_bounces_always_pass_and_what_changes_no_status_never_does() -> None:
    narrow = EventFilter(statuses=frozenset({Status.SUBSCRIBED}), subscription_ids=frozenset({9}))
    for f in (EventFilter(), narrow):
        assert f.matches(Change(ChangeKind.BOUNCE, 0, Status.NOT_SPECIFIED, Status.NOT_SPECIFIED))
        for kind in (ChangeKind.CONFIRMATION, ChangeKind.SOFT_BOUNCE):
            assert not f.matches(Change(kind, 9, Status.SUBSCRIBED, Status.SUBSCRIBED))
