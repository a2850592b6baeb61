"""Standing counts and daily totals (domain/tallies.py): what a record and a ledger entry
count for, the keyed deltas write paths use, and reading the totals back."""

from __future__ import annotations

import copy
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from commpref.domain import erasure, optout, rules
from commpref.domain.imports import ImportRow, apply_row
from commpref.domain.model import Change, ChangeKind, Event, Status, Subscriber
from commpref.domain.tallies import (
    DAY_MS,
    SOURCES,
    SUBSCRIBERS,
    Delta,
    Tallies,
    daily,
    source_of,
    standing,
    type_name,
    wide_name,
)
from commpref.storage import codec
from tests.unit.builders import NOW, brands_context, context, subscriber

NS, SUB, UNSUB = Status.NOT_SPECIFIED, Status.SUBSCRIBED, Status.UNSUBSCRIBED
DAY = NOW // DAY_MS


def event(changes: list[Change], *, actor: str = "token:1", at: int = NOW) -> Event:
    return Event("a@example.com", tuple(changes), "source", actor, "corr", at)


# --- standing counts and daily totals --------------------------------------------------------


def test_a_record_counts_its_kept_statuses_and_opt_outs_of_all() -> None:
    sub = subscriber(types={101: SUB, 102: UNSUB, 103: NS}, wide={0: UNSUB, 7: SUB})
    assert standing(sub) == {
        SUBSCRIBERS: 1,
        "type:101:SUBSCRIBED": 1,
        "type:102:UNSUBSCRIBED": 1,
        "wide:0": 1,
    }
    assert standing(None) == {}
    assert type_name(5, SUB) == "type:5:SUBSCRIBED" and wide_name(7) == "wide:7"


def test_each_actor_has_its_source() -> None:
    assert [
        source_of(a)
        for a in ("token:12", "preference_page", "one_click", "import:3", "console:4", "cli")
    ] == ["api", "page", "one_click", "import", "console", "other"]
    assert set(SOURCES) >= {"api", "page", "one_click", "import", "erasure", "other"}


def test_an_entry_counts_once_per_direction_on_its_day() -> None:
    entries = [
        # three types unsubscribed and the opt-out of all: one opt-out
        event(
            [Change(ChangeKind.TYPE, d, NS, UNSUB) for d in (101, 102, 103)]
            + [Change(ChangeKind.WIDE, 0, NS, UNSUB)]
        ),
        # one type subscribed, another unsubscribed: one of each
        event(
            [Change(ChangeKind.TYPE, 101, NS, SUB), Change(ChangeKind.TYPE, 102, SUB, UNSUB)],
            actor="preference_page",
            at=NOW + DAY_MS,
        ),
        # a lifted opt-out of all subscribes to nothing by itself
        event([Change(ChangeKind.WIDE, 0, UNSUB, SUB)], actor="import:4"),
        # back to not specified is neither
        event([Change(ChangeKind.TYPE, 101, SUB, NS)]),
        # an erasure is an opt-out of its own source, whoever asked
        event([erasure.ERASURE_CHANGE], actor="token:1"),
    ]
    assert daily(entries) == {
        (DAY, "out:api"): 1,
        (DAY + 1, "in:page"): 1,
        (DAY + 1, "out:page"): 1,
        (DAY, "out:erasure"): 1,
    }


# --- deltas ------------------------------------------------------------------------------------


def test_replace_adds_the_new_record_and_takes_away_the_old() -> None:
    delta = Delta()
    delta.replace(subscriber(types={101: SUB, 102: SUB}), subscriber(types={101: SUB, 102: UNSUB}))
    delta.replace(None, subscriber("b@example.com", types={103: UNSUB}, wide={0: UNSUB}))
    delta.replace(subscriber("c@example.com", types={101: SUB}), None)
    delta.entries([event([Change(ChangeKind.TYPE, 102, SUB, UNSUB)])])
    assert delta.rows() == [
        (0, "type:101:SUBSCRIBED", -1),
        (0, "type:102:SUBSCRIBED", -1),
        (0, "type:102:UNSUBSCRIBED", 1),
        (0, "type:103:UNSUBSCRIBED", 1),
        (0, "wide:0", 1),
        (DAY, "out:api", 1),
    ]  # the subscribers count moved by 0: one record came, one went


def test_rows_are_worked_out_again_on_each_call() -> None:
    delta = Delta()
    delta.created(b"k", subscriber(types={101: SUB}))
    assert delta.rows() == delta.rows() == [(0, SUBSCRIBERS, 1), (0, "type:101:SUBSCRIBED", 1)]


def test_a_key_is_read_once() -> None:
    calls: list[str] = []

    def sub() -> Subscriber:
        calls.append("state")
        return subscriber(types={101: UNSUB})

    def changes() -> list[Change]:
        calls.append("changes")
        return [Change(ChangeKind.TYPE, 101, NS, UNSUB)]

    delta = Delta()
    for _ in range(3):
        delta.created(b"state", sub)
        delta.entry(NOW, "import:1", b"changes", changes, moves=False)
    delta.created(b"state", sub, n=2)
    assert calls == ["state", "changes"]
    assert delta.rows() == [
        (0, SUBSCRIBERS, 5),
        (0, "type:101:UNSUBSCRIBED", 5),
        (DAY, "out:import", 3),
    ]


def test_what_a_write_stores_is_worked_out_later_each_key_once() -> None:
    one = Delta()
    one.replace(subscriber(types={101: SUB}), None)  # an erasure: plain rows
    two = Delta()
    two.created_all([b"s1", b"s1", b"s2"])
    e = event([Change(ChangeKind.TYPE, 101, NS, UNSUB)])
    two.appended([e.at] * 2, [e.actor] * 2, [b"c1", b"c1"], [e.email] * 2, stored={e.email})
    unpacked: list[bytes] = []

    def changes_of(key: bytes) -> list[Change]:
        unpacked.append(key)
        return [Change(ChangeKind.TYPE, 101, NS, UNSUB)]

    def state_of(key: bytes) -> Subscriber:
        unpacked.append(key)
        return subscriber(types={102: SUB} if key == b"s1" else {103: UNSUB})

    merged = Delta.merged([one.groups(), two.groups(), two.groups()], changes_of, state_of)
    assert sorted(unpacked) == [b"c1", b"s1", b"s2"]
    assert merged.rows() == [
        (0, SUBSCRIBERS, 5),  # -1 erased, 3 + 3 created
        (0, "type:101:SUBSCRIBED", -1),
        (0, "type:101:UNSUBSCRIBED", 4),  # the stored address's entries, twice each
        (0, "type:102:SUBSCRIBED", 4),
        (0, "type:103:UNSUBSCRIBED", 2),
        (DAY, "out:api", 4),
    ]
    assert Delta().groups() == ([], [], [])


# The keyed forms a write path uses must give what the plain forms give, for changes made by
# the real rules: a stored record moves by its entries' changes, a new one counts whole.

_CTX = brands_context()
_TYPES = tuple(d.id for d in _CTX.definitions)  # 101, 102 in unit 0; 201, 202 in unit 7
_STATUS = st.sampled_from([NS, SUB, UNSUB])
_STATE = st.fixed_dictionaries(
    {},
    optional={
        # 103: a type the portal no longer has, which no write changes
        "types": st.dictionaries(st.sampled_from([*_TYPES, 103]), _STATUS, max_size=5),
        "wide": st.dictionaries(st.sampled_from([0, 7]), _STATUS, max_size=2),
    },
)
_OP = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(_TYPES), st.sampled_from([SUB, UNSUB])),
    st.tuples(st.just("optout"), st.sampled_from([0, 7]), st.just(UNSUB)),
    st.tuples(st.just("import"), st.sampled_from([*_TYPES, None]), _STATUS),
)


def _apply(sub: Subscriber, op: tuple[str, int | None, Status], at: int) -> list[Change]:
    kind, target, status = op
    if kind == "write":
        assert target is not None
        definition = _CTX.by_id[target]
        _, changes = rules.write_status(
            _CTX.portal,
            sub,
            definition,
            status,
            legal_basis=None,
            explanation=None,
            source="s",
            now=at,
        )
    elif kind == "optout":
        assert target is not None
        _, changes = optout.unsubscribe_all(_CTX, sub, target, source="s", now=at)
    else:
        definition = None if target is None else _CTX.by_id[target]
        row = ImportRow(1, sub.email, target, 0, status, at, "s")
        _, changes, _ = apply_row(_CTX.portal, sub, row, definition, allow_resubscribe=True)
    if changes and sub.created_at is None:
        sub.created_at = at
    return changes


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(st.tuples(st.booleans(), _STATE), min_size=1, max_size=4),
    ops=st.lists(
        st.tuples(st.integers(0, 3), _OP, st.sampled_from(["token:1", "import:2"])), max_size=12
    ),
)
def test_keyed_deltas_agree_with_replacing_whole_records(
    records: list[tuple[bool, dict[str, dict[int, Status]]]],
    ops: list[tuple[int, tuple[str, int | None, Status], str]],
) -> None:
    subs, befores = {}, {}
    for i, (is_stored, state) in enumerate(records):
        email = f"{i}@example.com"
        sub = subscriber(email, **state) if is_stored else Subscriber(email)
        subs[email] = sub
        befores[email] = copy.deepcopy(sub) if is_stored else None
    stored = {e for e, b in befores.items() if b is not None}
    events, touched = [], set()
    for n, (which, op, actor) in enumerate(ops):
        email = f"{which % len(records)}@example.com"
        if changes := _apply(subs[email], op, NOW + n * DAY_MS // 3):
            events.append(Event(email, tuple(changes), "s", actor, "c", NOW + n * DAY_MS // 3))
            touched.add(email)

    plain = Delta()
    for email in touched:
        plain.replace(befores[email], subs[email])
    plain.entries(events)

    keyed, pack = Delta(), codec.Packer()
    keyed.appended(
        [e.at for e in events],
        [e.actor for e in events],
        [pack.changes(e.changes) for e in events],
        [e.email for e in events],
        stored,
    )
    new = [subs[email] for email in sorted(touched - stored)]
    keyed.created_all([pack.state(sub.types, sub.wide) for sub in new])
    assert worked_out(keyed) == plain.rows()


def worked_out(delta: Delta) -> list[tuple[int, str, int]]:
    """What a folder makes of a write's delta (its keys are packed by `storage.codec`)."""

    def state_of(key: bytes) -> Subscriber:
        return Subscriber("", 0, *codec.decode(key))

    return Delta.merged([delta.groups()], codec.decode_changes, state_of).rows()


def test_an_erased_address_written_again_counts_as_a_new_record() -> None:
    # The plan sees it opted out of everything, but nothing of it is stored: its new record
    # counts whole, and its entry's changes move nothing.
    sub = erasure.suppressed_subscriber("a@example.com", NOW, [101, 102, 103], [0])
    ctx = context()
    _, changes = rules.write_status(
        ctx.portal,
        sub,
        ctx.by_id[101],
        SUB,
        legal_basis=None,
        explanation=None,
        source="s",
        now=NOW,
    )
    pack = codec.Packer()
    delta = Delta()
    e = event(changes)
    delta.appended([e.at], [e.actor], [pack.changes(e.changes)], [e.email], stored=set())
    delta.created_all([pack.state(sub.types, sub.wide)])
    assert worked_out(delta) == [
        (0, SUBSCRIBERS, 1),
        (0, "type:101:SUBSCRIBED", 1),
        (0, "type:102:UNSUBSCRIBED", 1),
        (0, "type:103:UNSUBSCRIBED", 1),
        (DAY, "in:api", 1),
    ]


# --- reading -----------------------------------------------------------------------------------


def test_tallies_tell_standing_counts_from_daily_totals_by_name() -> None:
    rows = [
        (0, SUBSCRIBERS, 10),
        (0, "type:101:SUBSCRIBED", 4),
        (0, "type:101:SUBSCRIBED", -1),  # pending deltas add up
        (0, "type:101:UNSUBSCRIBED", 2),
        (0, "wide:0", 2),
        (0, "wide:7", 0),
        (0, "out:import", 3),  # 1970-01-01: a daily total, not a standing count
        (DAY - 1, "in:api", 5),
        (DAY, "in:api", 1),
        (DAY, "out:api", 0),
    ]
    t = Tallies.of(rows, since_day=DAY - 1)
    assert t.standing == {
        SUBSCRIBERS: 10,
        "type:101:SUBSCRIBED": 3,
        "type:101:UNSUBSCRIBED": 2,
        "wide:0": 2,
    }
    assert t.days == {DAY - 1: {"in:api": 5}, DAY: {"in:api": 1}}
    assert (t.subscribers, t.opted_out(), t.opted_out(7)) == (10, 2, 0)
    assert [t.count(101, s) for s in (SUB, UNSUB, NS)] == [3, 2, 5]
    assert t.count(102, NS) == 10
    assert Tallies.of(rows).days[0] == {"out:import": 3}


def test_counting_is_additive() -> None:
    a = subscriber(types={101: SUB}, wide={0: UNSUB})
    b = subscriber("b@example.com", types={101: UNSUB, 102: SUB})
    assert standing(a) + standing(b) == Counter(
        {
            SUBSCRIBERS: 2,
            "type:101:SUBSCRIBED": 1,
            "type:101:UNSUBSCRIBED": 1,
            "type:102:SUBSCRIBED": 1,
            "wide:0": 1,
        }
    )
