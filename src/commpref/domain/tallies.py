"""Standing counts and daily totals of a portal: what the console's overview shows, kept up
to date as changes commit (`storage.tallies`), so that no page view scans subscribers or the
ledger.

Standing counts (stored under `day` 0), each the number of stored addresses that:
- `subscribers`: have a stored record;
- `type:<definition id>:SUBSCRIBED` / `type:<definition id>:UNSUBSCRIBED`: have that status
  stored for that definition (an address without either is "not specified");
- `wide:<business unit id>`: are opted out of all email of that business unit (0: the
  portal).

Daily totals (`day` = days since the epoch, UTC, of the ledger entry's time), each a number
of ledger entries:
- `in:<source>`: entries that subscribed the address to at least one type;
- `out:<source>`: entries that unsubscribed it from at least one type, or from all; an
  erasure counts as one `out:erasure`;
- `feedback:complaint`, `feedback:hard_bounce`, `feedback:soft_bounce`: entries of mail
  providers' feedback (`services.feedback`): complaints that opted the address out (also
  counted in `out:feedback`), hard bounces (BOUNCE changes: imported marks too) and soft
  bounces.

The two sets of names never meet, so a daily total of 1970-01-01 (day 0) is told from a
standing count by its name (`is_daily`).

`<source>` is who made the change (`SOURCES`), read from the entry's actor. The name is
stored, so a source added later leaves the totals already counted where they were (mail
feedback and sign-up confirmations were once `other`) until a recount
(`storage.tallies`) counts the ledger again.

Erased addresses are not counted: an erasure removes the address's counts, and a suppressed
address that is written again is counted from its new stored record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from commpref.domain.model import Change, ChangeKind, Event, Status, Subscriber
from commpref.domain.signups import ACTOR_KIND

DAY_MS = 86_400_000
SUBSCRIBERS = "subscribers"
SOURCES = ("api", "page", "one_click", "signup", "import", "console", "feedback", "erasure",
           "other")  # fmt: skip
_SOURCE_OF_ACTOR = {
    "token": "api",
    "preference_page": "page",
    "one_click": "one_click",
    ACTOR_KIND: "signup",  # a double opt-in confirmed (a direct sign-up's actor is its token)
    "import": "import",
    "console": "console",
    "feedback": "feedback",  # `services.feedback.actor`: only a complaint opts out
}
COMPLAINTS, HARD_BOUNCES, SOFT_BOUNCES = (
    "feedback:complaint", "feedback:hard_bounce", "feedback:soft_bounce"
)  # fmt: skip
_KEPT = (Status.SUBSCRIBED, Status.UNSUBSCRIBED)
_DAILY = ("in:", "out:", "feedback:")


def type_name(definition_id: int, status: Status) -> str:
    return f"type:{definition_id}:{status.value}"


def wide_name(business_unit_id: int) -> str:
    return f"wide:{business_unit_id}"


def is_daily(name: str) -> bool:
    """True for the name of a daily total, False for a standing count's."""
    return name.startswith(_DAILY)


def source_of(actor: str) -> str:
    """The chart's source of a ledger entry's actor (`Actor.label`)."""
    return _SOURCE_OF_ACTOR.get(actor.partition(":")[0], "other")


def standing(sub: Subscriber | None) -> Counter[str]:
    """The standing counts one stored subscriber contributes (None: not stored)."""
    out: Counter[str] = Counter()
    if sub is None:
        return out
    out[SUBSCRIBERS] = 1
    for definition_id, ts in sub.types.items():
        if ts.status in _KEPT:
            out[type_name(definition_id, ts.status)] += 1
    for unit, ws in sub.wide.items():
        if ws.status is Status.UNSUBSCRIBED:
            out[wide_name(unit)] += 1
    return out


_Marks = tuple[bool, bool, int, int, int]


def _marks(changes: Iterable[Change]) -> _Marks:
    """What one ledger entry counts for: (opted in, opted out, erasures, hard bounces, soft
    bounces)."""
    opted_in = opted_out = False
    erasures = hard = soft = 0
    for change in changes:
        if change.kind is ChangeKind.ERASURE:
            erasures += 1
        elif change.kind is ChangeKind.BOUNCE:
            hard += 1
        elif change.kind is ChangeKind.SOFT_BOUNCE:
            soft += 1
        elif change.new is Status.SUBSCRIBED and change.old is not Status.SUBSCRIBED:
            # Lifting an opt-out of all (a WIDE change) subscribes to nothing by itself.
            opted_in = opted_in or change.kind is ChangeKind.TYPE
        elif change.new is Status.UNSUBSCRIBED and change.old is not Status.UNSUBSCRIBED:
            opted_out = True
    return opted_in, opted_out, erasures, hard, soft


def _add_marks(
    out: dict[tuple[int, str], int], day: int, actor: str, marks: _Marks, n: int
) -> None:
    opted_in, opted_out, erasures, hard, soft = marks
    source = source_of(actor) if opted_in or opted_out else ""
    complaint = int(opted_out and source == "feedback")
    counted = (("out:erasure", erasures), (HARD_BOUNCES, hard), (SOFT_BOUNCES, soft),
               (COMPLAINTS, complaint))  # fmt: skip
    for name, count in counted:
        if count:
            key = (day, name)
            out[key] = out.get(key, 0) + count * n
    if opted_in or opted_out:
        if opted_in:
            key = (day, f"in:{source}")
            out[key] = out.get(key, 0) + n
        if opted_out:
            key = (day, f"out:{source}")
            out[key] = out.get(key, 0) + n


def daily(events: Iterable[Event]) -> Counter[tuple[int, str]]:
    """The daily totals ledger entries add: (day, name) → count."""
    out: dict[tuple[int, str], int] = {}
    for e in events:
        _add_marks(out, e.at // DAY_MS, e.actor, _marks(e.changes), 1)
    return Counter(out)


def _moves(changes: Iterable[Change]) -> tuple[tuple[str, int], ...]:
    """How a stored record's standing counts move by a ledger entry's changes."""
    out: Counter[str] = Counter()
    for c in changes:
        if c.kind is ChangeKind.TYPE:
            if c.old in _KEPT:
                out[type_name(c.target, c.old)] -= 1
            if c.new in _KEPT:
                out[type_name(c.target, c.new)] += 1
        elif c.kind is ChangeKind.WIDE:
            if c.old is Status.UNSUBSCRIBED:
                out[wide_name(c.target)] -= 1
            if c.new is Status.UNSUBSCRIBED:
                out[wide_name(c.target)] += 1
    return tuple((name, n) for name, n in out.items() if n)


_Counted = tuple[_Marks, tuple[tuple[str, int], ...]]
_Changes = Iterable[Change] | Callable[[], Iterable[Change]]
_State = Subscriber | Callable[[], Subscriber]
_Bucket = tuple[int, str, bool]  # an entry's time (or day), actor, and whether it moves
# What a transaction stores of its delta (`Delta.groups`): plain (day, name, change) rows;
# per (time, actor, moves the standing counts), how many entries had each change list key;
# how many records were stored in each state key.
Groups = tuple[
    list[tuple[int, str, int]],
    list[tuple[int, str, bool, list[tuple[bytes, int]]]],
    list[tuple[bytes, int]],
]


@dataclass(slots=True)
class Delta:
    """What one or more transactions add to the tallies: (day, name) → change (day 0:
    standing).

    The plain forms are `replace` and `entries`. Write paths use the keyed forms,
    `appended` and `created_all`, which name each change list and each state by its packed
    form (`bytes`; equal bytes, equal values), and store only how many addresses fell into
    each (`groups`): a batch leaves many addresses alike, so an address costs a few
    dictionary steps, and the names are worked out later, once per distinct key for many
    transactions together (`merged`). The keyed forms rest on the ledger's rule that every
    change of a stored status is one of its changes, old → new: a stored record's counts
    move by its entries' changes, and only a record stored where there was none is counted
    whole.
    """

    values: Counter[tuple[int, str]] = field(default_factory=Counter)
    # Entries noted by a write, counted in C: (time, actor, change list, moves) → entries.
    _appended: Counter[tuple[int, str, bytes, bool]] = field(default_factory=Counter, repr=False)
    # Entries worked out: (time or day, actor, moves) → change list → entries.
    _entries: dict[_Bucket, dict[bytes, int]] = field(default_factory=dict, repr=False)
    _created: Counter[bytes] = field(default_factory=Counter, repr=False)  # state → records
    _counts: dict[bytes, _Counted] = field(default_factory=dict, repr=False)
    _names: dict[bytes, tuple[str, ...]] = field(default_factory=dict, repr=False)

    # --- plain forms ---------------------------------------------------------------------
    def replace(self, before: Subscriber | None, after: Subscriber | None) -> None:
        """A stored record replaced (None: absent before, or deleted)."""
        for name, n in standing(after).items():
            self.values[0, name] += n
        for name, n in standing(before).items():
            self.values[0, name] -= n

    def entries(self, events: Iterable[Event]) -> None:
        self.values.update(daily(events))

    # --- keyed forms: what a write path notes -------------------------------------------------
    def appended(
        self,
        at: Iterable[int],
        actors: Iterable[str],
        keys: Iterable[bytes],
        subjects: Iterable[str],
        stored: Container[str],
    ) -> None:
        """Ledger entries appended, given column by column: their times, actors, change list
        keys and subjects. `stored`: the addresses that had a stored record before this
        transaction, whose entries' changes move the standing counts (not so for an
        address first stored now: its record is counted whole, `created_all`; nor for an
        erasure label)."""
        moves = map(stored.__contains__, subjects)
        self._appended.update(zip(at, actors, keys, moves, strict=True))  # counted in C

    def created_all(self, keys: Sequence[bytes]) -> None:
        """Records stored for addresses that had none, each named by the key of its state."""
        self._created.update(keys)

    def groups(self) -> Groups:
        """What a transaction stores of this delta (only what the write paths noted), for
        `merged` to work out later."""
        buckets: dict[_Bucket, list[tuple[bytes, int]]] = {}
        for (at, actor, key, moves), n in self._appended.items():
            buckets.setdefault((at, actor, moves), []).append((key, n))
        return (
            [(day, name, n) for (day, name), n in self.values.items() if n],
            [(at, actor, moves, keyed) for (at, actor, moves), keyed in buckets.items()],
            list(self._created.items()),
        )

    # --- keyed forms: working them out ----------------------------------------------------------
    def entry(
        self, at: int, actor: str, key: bytes, changes: _Changes, n: int = 1, *, moves: bool
    ) -> None:
        """`n` ledger entries of one time and actor, whose change list `key` names (read,
        or called, only when the key is new here); `moves` as for `appended`."""
        if key not in self._counts:
            listed = tuple(changes() if callable(changes) else changes)
            self._counts[key] = (_marks(listed), _moves(listed))
        bucket = self._entries.setdefault((at, actor, moves), {})
        bucket[key] = bucket.get(key, 0) + n

    def created(self, key: bytes, sub: _State, n: int = 1) -> None:
        """`n` records stored for addresses that had none, with the statuses that `key`
        names, those of `sub` (read, or called, only when the key is new here)."""
        if key not in self._names:
            self._names[key] = _standing_names(sub() if callable(sub) else sub)
        self._created[key] += n

    @classmethod
    def merged(
        cls,
        parts: Iterable[Groups],
        changes_of: Callable[[bytes], Iterable[Change]],
        state_of: Callable[[bytes], Subscriber],
    ) -> Delta:
        """The delta of the transactions that stored `parts` (`groups`), each distinct key
        unpacked once (`changes_of`, `state_of`)."""
        delta = cls()
        values, entries, created = delta.values, delta._entries, delta._created
        counts, names = delta._counts, delta._names
        # States differ in their times far more often than in what they count for.
        by_statuses: dict[tuple[tuple[int, Status, bool], ...], tuple[str, ...]] = {}
        for rows, appended, stored in parts:
            for day, name, n in rows:
                values[day, name] += n
            for at, actor, moves, keyed in appended:
                # By day, not by time: the entries of many transactions fall together.
                bucket = entries.setdefault((at - at % DAY_MS, actor, moves), {})
                for key, n in keyed:
                    if key not in counts:
                        listed = tuple(changes_of(key))
                        counts[key] = (_marks(listed), _moves(listed))
                    bucket[key] = bucket.get(key, 0) + n
            for key, n in stored:
                if key not in names:
                    sub = state_of(key)
                    statuses = (*((d, t.status, False) for d, t in sub.types.items()),
                                *((u, w.status, True) for u, w in sub.wide.items()))  # fmt: skip
                    if statuses not in by_statuses:
                        by_statuses[statuses] = _standing_names(sub)
                    names[key] = by_statuses[statuses]
                created[key] += n
        return delta

    # --- the result ------------------------------------------------------------------------
    def rows(self) -> list[tuple[int, str, int]]:
        """(day, name, change) of every non-zero change, in key order. What a write path
        noted is worked out by `merged`, from its `groups`."""
        if self._appended:
            raise ValueError("noted entries are worked out by Delta.merged")
        out = dict(self.values)
        standing: dict[str, int] = {}
        names = self._names
        # States that count alike share their names (`merged`): each set added up once.
        alike: dict[int, tuple[tuple[str, ...], int]] = {}
        for key, n in self._created.items():
            found = names[key]
            alike[id(found)] = (found, alike.get(id(found), (found, 0))[1] + n)
        for found, n in alike.values():
            for name in found:
                standing[name] = standing.get(name, 0) + n
        # Entries of one day, actor and marks count together; moves once per change list.
        by_day: dict[tuple[int, str, _Marks], int] = {}
        by_key: dict[bytes, int] = {}
        counts = self._counts
        for (at, actor, moves), keyed in self._entries.items():
            day = at // DAY_MS
            for key, n in keyed.items():
                group = (day, actor, counts[key][0])
                by_day[group] = by_day.get(group, 0) + n
                if moves:
                    by_key[key] = by_key.get(key, 0) + n
        for (day, actor, marks), n in by_day.items():
            _add_marks(out, day, actor, marks, n)
        for key, n in by_key.items():
            for name, sign in counts[key][1]:
                standing[name] = standing.get(name, 0) + sign * n
        for name, n in standing.items():
            out[0, name] = out.get((0, name), 0) + n
        return [(day, name, n) for (day, name), n in sorted(out.items()) if n]


def _standing_names(sub: Subscriber) -> tuple[str, ...]:
    """The standing counts a record adds one to."""
    names = [SUBSCRIBERS]
    names += [type_name(d, t.status) for d, t in sub.types.items() if t.status in _KEPT]
    names += [wide_name(u) for u, w in sub.wide.items() if w.status is Status.UNSUBSCRIBED]
    return tuple(names)


@dataclass(frozen=True, slots=True)
class Tallies:
    """A portal's standing counts and daily totals as read (`storage.tallies`)."""

    standing: Mapping[str, int]
    days: Mapping[int, Mapping[str, int]]  # day → name → total

    @property
    def subscribers(self) -> int:
        return self.standing.get(SUBSCRIBERS, 0)

    def count(self, definition_id: int, status: Status) -> int:
        """Addresses with `status` for the definition; NOT_SPECIFIED: those with neither."""
        if status is Status.NOT_SPECIFIED:
            return self.subscribers - sum(self.count(definition_id, s) for s in _KEPT)
        return self.standing.get(type_name(definition_id, status), 0)

    def opted_out(self, business_unit_id: int = 0) -> int:
        return self.standing.get(wide_name(business_unit_id), 0)

    def total(self, name: str) -> int:
        """A daily total added up over the days read (those since `of`'s `since_day`)."""
        return sum(totals.get(name, 0) for totals in self.days.values())

    @classmethod
    def of(cls, rows: Iterable[tuple[int, str, int]], *, since_day: int = 0) -> Tallies:
        """From stored (day, name, value) rows; rows of one key are added up, and daily
        totals of days before `since_day` left out."""
        standing: Counter[str] = Counter()
        days: dict[int, Counter[str]] = {}
        for day, name, value in rows:
            if not is_daily(name):
                standing[name] += value
            elif day >= since_day:
                days.setdefault(day, Counter())[name] += value
        return cls(
            {k: v for k, v in sorted(standing.items()) if v},
            {
                d: {k: v for k, v in sorted(c.items()) if v}
                for d, c in sorted(days.items())
                if any(c.values())
            },
        )
