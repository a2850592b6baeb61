"""How one subscriber's statuses are packed into a single column.

All of a subscriber's per-definition and wide statuses live in one compact msgpack value, so
an opt-out-of-all rewrites one row whatever the number of definitions (docs/architecture.md "Layout
for speed"). Both backends store these bytes as they are.
"""

from __future__ import annotations

from typing import Any

import msgspec

from commpref.domain.model import Bounce, Change, ChangeKind, Status, TypeStatus, WideStatus

_CODE = {Status.NOT_SPECIFIED: 0, Status.SUBSCRIBED: 1, Status.UNSUBSCRIBED: 2}
_STATUS = (Status.NOT_SPECIFIED, Status.SUBSCRIBED, Status.UNSUBSCRIBED)

# A subscriber's state, compact: (sources, entries, base, {definition_id - base: entry
# index}, {business_unit_id: entry index}), each entry a [status code, source index,
# timestamp, legal basis, explanation]. Sources and entries repeat within a state (an
# opt-out of all gives every definition and the wide status one identical entry), so each
# is stored once; a portal's definition ids lie close together, so as offsets from the
# smallest they take a byte each. An opted-out state is then a fraction of the size of one
# with an entry per definition under its full id. Row size decides what a write costs:
# a row that outgrows its page splits it, and every page a transaction dirties is a WAL
# frame written, synced and copied back.
_Entry = tuple[int, int, int, str | None, str | None]


class _Packed(msgspec.Struct, array_like=True, gc=False):
    # Read as an array, as the tuple it was: a state without a bounce is written as the
    # five elements it always had (`encode`), and those bytes decode unchanged.
    sources: list[str]
    entries: list[_Entry]
    base: int
    types: dict[int, int]
    wide: dict[int, int]
    bounce: Bounce | None = None


_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[_Packed] = msgspec.msgpack.Decoder(_Packed)
State = tuple[dict[int, TypeStatus], dict[int, WideStatus], Bounce | None]


def encode(
    types: dict[int, TypeStatus], wide: dict[int, WideStatus], bounce: Bounce | None = None
) -> bytes:
    sources: dict[str, int] = {}
    entries: dict[_Entry, int] = {}
    base = min(types, default=0)
    packed_types = {
        d - base: entries.setdefault(
            (
                _CODE[t.status],
                sources.setdefault(t.source, len(sources)),
                t.timestamp,
                t.legal_basis,
                t.legal_basis_explanation,
            ),
            len(entries),
        )
        for d, t in types.items()
    }
    packed_wide = {
        u: entries.setdefault(
            (_CODE[w.status], sources.setdefault(w.source, len(sources)), w.timestamp, None, None),
            len(entries),
        )
        for u, w in wide.items()
    }
    if bounce is None:
        return _encoder.encode((list(sources), list(entries), base, packed_types, packed_wide))
    return _encoder.encode(
        _Packed(list(sources), list(entries), base, packed_types, packed_wide, bounce)
    )


class Packer:
    """Packs the states and ledger changes of one save, each distinct value once: an opt-out
    batch leaves its new addresses (and most known ones) in one identical state with one of
    a few change lists, and hashing a state costs a fraction of packing it."""

    __slots__ = ("_changes", "_states")

    def __init__(self) -> None:
        self._states: dict[tuple[Any, ...], bytes] = {}
        self._changes: dict[tuple[Change, ...], bytes] = {}

    def state(
        self,
        types: dict[int, TypeStatus],
        wide: dict[int, WideStatus],
        bounce: Bounce | None = None,
    ) -> bytes:
        key = (tuple(types.items()), tuple(wide.items()), bounce)
        packed = self._states.get(key)
        if packed is None:
            packed = self._states[key] = encode(types, wide, bounce)
        return packed

    def changes(self, changes: tuple[Change, ...]) -> bytes:
        packed = self._changes.get(changes)
        if packed is None:
            packed = self._changes[changes] = encode_changes(changes)
        return packed


def decode(data: bytes) -> State:
    """(types, wide, bounce) of a packed state."""
    p = _decoder.decode(data)
    sources, entries, base, packed_types, packed_wide = (
        p.sources,
        p.entries,
        p.base,
        p.types,
        p.wide,
    )
    # One struct per distinct entry, shared by the definitions that have it (they are frozen).
    shared = [TypeStatus(_STATUS[c], sources[s], ts, lb, lbe) for c, s, ts, lb, lbe in entries]
    types = {base + d: shared[i] for d, i in packed_types.items()}
    wide: dict[int, WideStatus] = {}
    for u, i in packed_wide.items():
        code, src, ts, _, _ = entries[i]
        wide[u] = WideStatus(_STATUS[code], ts, sources[src])
    return types, wide, p.bounce


# The ledger's `changes` column, compact: one [kind, target, old, new, legal basis,
# explanation] array per change, kind and statuses as small codes. An opt-out of all makes
# one change per definition, so this keeps ledger rows (and the WAL) small.
_KINDS = (
    ChangeKind.TYPE,
    ChangeKind.WIDE,
    ChangeKind.ERASURE,
    ChangeKind.CONFIRMATION,
    ChangeKind.BOUNCE,
    ChangeKind.SOFT_BOUNCE,
)  # a kind's code is its place here: append, never reorder
_KIND = {kind: code for code, kind in enumerate(_KINDS)}
_PackedChanges = list[tuple[int, int, int, int, str | None, str | None]]
_changes_decoder: msgspec.msgpack.Decoder[_PackedChanges] = msgspec.msgpack.Decoder(_PackedChanges)


def encode_changes(changes: tuple[Change, ...] | list[Change]) -> bytes:
    return _encoder.encode(
        [(_KIND[c.kind], c.target, _CODE[c.old], _CODE[c.new], c[4], c[5]) for c in changes]
    )


def decode_changes(data: bytes) -> tuple[Change, ...]:
    return tuple(
        Change(_KINDS[k], target, _STATUS[old], _STATUS[new], lb, lbe)
        for k, target, old, new, lb, lbe in _changes_decoder.decode(data)
    )
