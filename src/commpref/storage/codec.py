"""How one subscriber's statuses are packed into a single column.

All of a subscriber's per-definition and wide statuses live in one compact msgpack value, so
an opt-out-of-all rewrites one row whatever the number of definitions (DESIGN.md "Layout for
speed"). Both backends store these bytes as they are.
"""

from __future__ import annotations

import msgspec

from commpref.domain.model import Change, ChangeKind, Status, TypeStatus, WideStatus

_STATUS_CODE = {Status.NOT_SPECIFIED: 0, Status.SUBSCRIBED: 1, Status.UNSUBSCRIBED: 2}
_CODE_STATUS = {v: k for k, v in _STATUS_CODE.items()}

# {"t": {definition_id: [status, ts, source, legal_basis, explanation]},
#  "w": {business_unit_id: [status, ts, source]}}
_Packed = dict[str, dict[int, list[object]]]
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Packed)


def encode(types: dict[int, TypeStatus], wide: dict[int, WideStatus]) -> bytes:
    return _encoder.encode(
        {
            "t": {
                d: [
                    _STATUS_CODE[s.status],
                    s.timestamp,
                    s.source,
                    s.legal_basis,
                    s.legal_basis_explanation,
                ]
                for d, s in types.items()
            },
            "w": {u: [_STATUS_CODE[w.status], w.timestamp, w.source] for u, w in wide.items()},
        }
    )


def decode(data: bytes) -> tuple[dict[int, TypeStatus], dict[int, WideStatus]]:
    packed = _decoder.decode(data)
    types = {
        d: TypeStatus(_CODE_STATUS[v[0]], v[2], v[1], v[3], v[4])  # type: ignore[index,arg-type]
        for d, v in packed.get("t", {}).items()
    }
    wide = {
        u: WideStatus(_CODE_STATUS[v[0]], v[1], v[2])  # type: ignore[index,arg-type]
        for u, v in packed.get("w", {}).items()
    }
    return types, wide


class _PackedChange(msgspec.Struct, omit_defaults=False):
    kind: str
    target: int
    old: str
    new: str
    legalBasis: str | None = None
    legalBasisExplanation: str | None = None


_changes_decoder = msgspec.json.Decoder(list[_PackedChange])


def encode_changes(changes: tuple[Change, ...]) -> str:
    """The ledger's `changes` column: a JSON list, readable with SQL JSON functions."""
    return msgspec.json.encode(
        [
            _PackedChange(
                c.kind.value,
                c.target,
                c.old.value,
                c.new.value,
                c.legal_basis,
                c.legal_basis_explanation,
            )
            for c in changes
        ]
    ).decode()


def decode_changes(text: str | bytes) -> tuple[Change, ...]:
    return tuple(
        Change(
            ChangeKind(p.kind),
            p.target,
            Status(p.old),
            Status(p.new),
            p.legalBasis,
            p.legalBasisExplanation,
        )
        for p in _changes_decoder.decode(text)
    )
