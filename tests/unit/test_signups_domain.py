"""The sign-up rules: when confirmation is needed, the throttle, tokens, the changes a
request records and the evidence a confirmation leaves. No I/O."""

from __future__ import annotations

from commpref.domain import signups
from commpref.domain.model import (
    BusinessUnit,
    ChangeKind,
    Definition,
    Portal,
    Status,
    Subscriber,
    TypeStatus,
    WideStatus,
)
from commpref.domain.signups import Signup, SignupState

NOW = 1_700_000_000_000
MIN = 60_000
PORTAL = Portal(1, "P")
DOI = Portal(1, "P", double_opt_in=True)


def unit(setting: bool | None) -> BusinessUnit:
    return BusinessUnit(1, 5, "Brand", setting)


def opted_out(scope: int) -> Subscriber:
    return Subscriber("a@example.com", NOW, wide={scope: WideStatus(Status.UNSUBSCRIBED, NOW)})


def test_the_units_setting_wins_over_the_portals() -> None:
    assert signups.double_opt_in(DOI, None) is True
    assert signups.double_opt_in(DOI, unit(None)) is True
    assert signups.double_opt_in(DOI, unit(False)) is False
    assert signups.double_opt_in(PORTAL, unit(True)) is True
    assert signups.double_opt_in(PORTAL, unit(None)) is False


def test_an_opted_out_address_always_confirms() -> None:
    fresh = Subscriber("a@example.com")
    assert not signups.needs_confirmation(PORTAL, None, fresh, 0)
    assert signups.needs_confirmation(DOI, None, fresh, 0)
    assert signups.needs_confirmation(PORTAL, None, opted_out(0), 0)
    assert signups.needs_confirmation(PORTAL, unit(False), opted_out(0), 5)  # portal-wide
    assert signups.needs_confirmation(PORTAL, unit(False), opted_out(5), 5)
    assert not signups.needs_confirmation(PORTAL, None, opted_out(5), 0)  # another brand
    back = Subscriber("a@example.com", NOW, wide={0: WideStatus(Status.SUBSCRIBED, NOW)})
    assert not signups.needs_confirmation(PORTAL, None, back, 0)


def test_throttle() -> None:
    def quiet(sent: list[int]) -> bool:
        return signups.throttled(sent, now=NOW, resend_minutes=10, daily=3)

    assert not quiet([])
    assert quiet([NOW - 9 * MIN])
    assert not quiet([NOW - 10 * MIN])
    assert quiet([NOW - 60 * MIN, NOW - 120 * MIN, NOW - 180 * MIN])  # three today
    assert not quiet([NOW - 60 * MIN, NOW - 120 * MIN, NOW - 24 * 60 * MIN])  # one is older


def test_tokens_are_random_and_stored_hashed() -> None:
    a, b = signups.new_token(), signups.new_token()
    assert a != b and len(a) >= 43 and a.isascii()
    assert signups.token_hash(a) == signups.token_hash(a) != signups.token_hash(b)
    assert len(signups.token_hash(a)) == 64 and a not in signups.token_hash(a)
    assert signups.token_hash("\udcff")  # a lone surrogate from a URL hashes, never raises


def test_ids_pack() -> None:
    assert signups.unpack_ids(signups.pack_ids([3, 1, 2])) == (3, 1, 2)


def test_confirmation_changes_keep_each_status() -> None:
    d1, d2 = Definition(1, 1, "News", ""), Definition(2, 1, "Offers", "")
    sub = Subscriber("a@example.com", NOW, types={2: TypeStatus(Status.UNSUBSCRIBED, "x", NOW)})
    changes = signups.confirmation_changes(sub, [d1, d2])
    assert [(c.kind, c.target, c.old, c.new) for c in changes] == [
        (ChangeKind.CONFIRMATION, 1, Status.NOT_SPECIFIED, Status.NOT_SPECIFIED),
        (ChangeKind.CONFIRMATION, 2, Status.UNSUBSCRIBED, Status.UNSUBSCRIBED),
    ]


def signup(confirmed_at: int | None = None) -> Signup:
    return Signup(7, 1, "a@example.com", 0, (1,), "de", "Footer", NOW, NOW + 10, confirmed_at, "c")


def test_state() -> None:
    assert signup().state(NOW) is SignupState.PENDING
    assert signup().state(NOW + 10) is SignupState.EXPIRED
    assert signup(NOW + 20).state(NOW + 99) is SignupState.CONFIRMED


def test_evidence_names_when_where_and_how() -> None:
    text = signups.evidence(signup(), confirmed_at=NOW + 5, page_language="fr")
    assert "sign-up 7" in text and "Footer" in text and "language: fr" in text
    assert "2023-11-14T22:13:20.000Z" in text and "2023-11-14T22:13:20.005Z" in text
