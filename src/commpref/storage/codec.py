"""How one subscriber's statuses are packed into a single column.

All of a subscriber's per-definition and wide statuses live in one compact msgpack value, so
an opt-out-of-all rewrites one row whatever the number of definitions (DESIGN.md "Layout for
speed"). Both backends store these bytes as they are.
"""

from __future__ import annotations

from typing import Any

import msgspec

from commpref.domain.model import Change, ChangeKind, Status, TypeStatus, WideStatus

_CODE = {Status.NOT_SPECIFIED: 0, Status.SUBSCRIBED: 1, Status.UNSUBSCRIBED: 2}
_STATUS = (Status.NOT_SPECIFIED, Status.SUBSCRIBED, Status.UNSUBSCRIBED)

# A subscriber's state, compact: (sources, {definition_id: [status code, source index,
# timestamp, legal basis, explanation]}, {business_unit_id: [status code, source index,
# timestamp]}). Sources repeat across a subscriber's rows, so each is stored once.
_Packed = tuple[
    list[str],
    dict[int, tuple[int, int, int, str | None, str | None]],
    dict[int, tuple[int, int, int]],
]
_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[_Packed] = msgspec.msgpack.Decoder(_Packed)


def encode(types: dict[int, TypeStatus], wide: dict[int, WideStatus]) -> bytes:
    sources: dict[str, int] = {}
    packed_types = {
        d: (
            _CODE[t.status],
            sources.setdefault(t.source, len(sources)),
            t.timestamp,
            t.legal_basis,
            t.legal_basis_explanation,
        )
        for d, t in types.items()
    }
    packed_wide = {
        u: (_CODE[w.status], sources.setdefault(w.source, len(sources)), w.timestamp)
        for u, w in wide.items()
    }
    return _encoder.encode((list(sources), packed_types, packed_wide))


class Packer:
    """Packs the states and ledger changes of one save, each distinct value once: an opt-out
    batch leaves its new addresses (and most known ones) in one identical state with one of
    a few change lists, and hashing a state costs a fraction of packing it."""

    __slots__ = ("_changes", "_states")

    def __init__(self) -> None:
        self._states: dict[tuple[Any, ...], bytes] = {}
        self._changes: dict[tuple[Change, ...], bytes] = {}

    def state(self, types: dict[int, TypeStatus], wide: dict[int, WideStatus]) -> bytes:
        key = (tuple(types.items()), tuple(wide.items()))
        packed = self._states.get(key)
        if packed is None:
            packed = self._states[key] = encode(types, wide)
        return packed

    def changes(self, changes: tuple[Change, ...]) -> bytes:
        packed = self._changes.get(changes)
        if packed is None:
            packed = self._changes[changes] = encode_changes(changes)
        return packed


def decode(data: bytes) -> tuple[dict[int, TypeStatus], dict[int, WideStatus]]:
    sources, packed_types, packed_wide = _decoder.decode(data)
    types = {
        d: TypeStatus(_STATUS[code], sources[src], ts, lb, lbe)
        for d, (code, src, ts, lb, lbe) in packed_types.items()
    }
    wide = {
        u: WideStatus(_STATUS[code], ts, sources[src]) for u, (code, src, ts) in packed_wide.items()
    }
    return types, wide


# The ledger's `changes` column, compact: one [kind, target, old, new, legal basis,
# explanation] array per change, kind and statuses as small codes. An opt-out of all makes
# one change per definition, so this keeps ledger rows (and the WAL) small.
_KIND = {ChangeKind.TYPE: 0, ChangeKind.WIDE: 1, ChangeKind.ERASURE: 2}
_KINDS = (ChangeKind.TYPE, ChangeKind.WIDE, ChangeKind.ERASURE)
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
