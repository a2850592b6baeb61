"""The packed subscriber state and the ledger's change list (storage/codec.py)."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from commpref.domain.model import Bounce, Change, ChangeKind, Status, TypeStatus, WideStatus
from commpref.storage import codec

INT64 = st.integers(min_value=0, max_value=2**63 - 1)
STATUSES = st.sampled_from(list(Status))
OPTIONAL_TEXT = st.none() | st.text(max_size=40)
TYPE_STATUSES = st.builds(
    TypeStatus, STATUSES, st.text(max_size=40), INT64, OPTIONAL_TEXT, OPTIONAL_TEXT
)
WIDE_STATUSES = st.builds(WideStatus, STATUSES, INT64, st.text(max_size=40))
CHANGES = st.builds(
    Change,
    st.sampled_from(list(ChangeKind)),
    INT64,
    STATUSES,
    STATUSES,
    OPTIONAL_TEXT,
    OPTIONAL_TEXT,
)


def test_state_round_trip() -> None:
    types = {
        101: TypeStatus(Status.SUBSCRIBED, "Public status API", 1_777_629_600_000, "NON_GDPR", "x"),
        102: TypeStatus(Status.UNSUBSCRIBED, "Public status API, App ID:5848098", 1, None, None),
        2**40: TypeStatus(Status.NOT_SPECIFIED, "Ünïcødé ✓", 0),
    }
    wide = {
        0: WideStatus(Status.UNSUBSCRIBED, 5, "Public status API"),
        7: WideStatus(Status.SUBSCRIBED, 6),
    }
    assert codec.decode(codec.encode(types, wide)) == (types, wide, None)


def test_empty_state_round_trip() -> None:
    assert codec.decode(codec.encode({}, {})) == ({}, {}, None)


def test_an_opted_out_state_stays_small() -> None:
    # Ten types and the wide status opted out at once share one entry: the row must not
    # outgrow its page when an address opts out (docs/architecture.md "Layout for speed").
    optout = TypeStatus(Status.UNSUBSCRIBED, "Public status API", 1_777_629_600_000)
    types = {33_583_163 + d: optout for d in range(10)}
    wide = {0: WideStatus(Status.UNSUBSCRIBED, optout.timestamp, optout.source)}
    packed = codec.encode(types, wide)
    assert len(packed) <= 70
    assert codec.decode(packed) == (types, wide, None)
    # Without sharing, each of the eleven would carry its own 9-byte timestamp.
    assert packed.count((1_777_629_600_000).to_bytes(8, "big")) == 1


@given(
    st.dictionaries(INT64, TYPE_STATUSES, max_size=12),
    st.dictionaries(INT64, WIDE_STATUSES, max_size=4),
)
def test_any_state_round_trips(types: dict[int, TypeStatus], wide: dict[int, WideStatus]) -> None:
    assert codec.decode(codec.encode(types, wide)) == (types, wide, None)


def test_changes_are_compact() -> None:
    changes = (
        Change(ChangeKind.TYPE, 101, Status.NOT_SPECIFIED, Status.SUBSCRIBED, "NON_GDPR", "why"),
        Change(ChangeKind.WIDE, 0, Status.UNSUBSCRIBED, Status.SUBSCRIBED),
    )
    packed = codec.encode_changes(changes)
    assert codec.decode_changes(packed) == changes
    # An opt-out of all of ten types: eleven changes in about 11 bytes each.
    optout = [
        Change(ChangeKind.TYPE, 33_583_163 + d, Status.NOT_SPECIFIED, Status.UNSUBSCRIBED)
        for d in range(10)
    ]
    optout.append(Change(ChangeKind.WIDE, 0, Status.NOT_SPECIFIED, Status.UNSUBSCRIBED))
    assert len(codec.encode_changes(optout)) <= 11 * len(optout) + 1


@given(st.lists(CHANGES, max_size=8).map(tuple))
def test_any_changes_round_trip(changes: tuple[Change, ...]) -> None:
    assert codec.decode_changes(codec.encode_changes(changes)) == changes


@given(
    st.lists(
        st.tuples(
            st.dictionaries(st.integers(0, 3), TYPE_STATUSES, max_size=3),
            st.dictionaries(st.integers(0, 1), WIDE_STATUSES, max_size=2),
        ),
        max_size=6,
    ),
    st.lists(st.lists(CHANGES, max_size=3).map(tuple), max_size=6),
)
def test_a_packer_packs_each_value_as_encode_does(
    states: list[tuple[dict[int, TypeStatus], dict[int, WideStatus]]],
    change_lists: list[tuple[Change, ...]],
) -> None:
    pack = codec.Packer()
    for types, wide in states * 2:  # the second round comes from its memo
        assert pack.state(types, wide) == codec.encode(types, wide)
    for changes in change_lists * 2:
        assert pack.changes(changes) == codec.encode_changes(changes)


def test_a_packer_packs_an_equal_state_once() -> None:
    pack = codec.Packer()
    optout = TypeStatus(Status.UNSUBSCRIBED, "Public status API", 1_777_629_600_000)
    first = pack.state({1: optout, 2: optout}, {})
    twin = TypeStatus(optout.status, optout.source, optout.timestamp)
    assert pack.state({1: twin, 2: optout}, {}) is first  # equal, not identical
    assert pack.state({2: optout, 1: optout}, {}) is not first  # another order packs apart


def test_a_bounce_round_trips_and_a_state_without_one_packs_as_before() -> None:
    types = {7: TypeStatus(Status.SUBSCRIBED, "API", 1_700_000_000_000)}
    wide = {0: WideStatus(Status.UNSUBSCRIBED, 1_700_000_000_001, "Spam complaint")}
    bounce = Bounce(1_700_000_000_002, "Hard bounce (ses)")
    assert codec.decode(codec.encode(types, wide, bounce)) == (types, wide, bounce)
    # The 5-element array states were stored as before bounces: still read, still written.
    legacy = msgspec.msgpack.encode(
        (["API"], [(1, 0, 1_700_000_000_000, None, None)], 7, {0: 0}, {})
    )
    assert codec.encode(types, {}) == legacy
    assert codec.decode(legacy) == (types, {}, None)
    assert len(codec.encode(types, wide, bounce)) > len(codec.encode(types, wide))


def test_every_change_kind_keeps_its_code() -> None:
    # Codes are stored in the ledger: a kind keeps its number for ever.
    codes = {ChangeKind.TYPE: 0, ChangeKind.WIDE: 1, ChangeKind.ERASURE: 2,
             ChangeKind.CONFIRMATION: 3, ChangeKind.BOUNCE: 4,
             ChangeKind.SOFT_BOUNCE: 5}  # fmt: skip
    assert set(codes) == set(ChangeKind)
    for kind, code in codes.items():
        packed = codec.encode_changes([Change(kind, 0, Status.NOT_SPECIFIED, Status.NOT_SPECIFIED)])
        assert msgspec.msgpack.decode(packed)[0][0] == code
