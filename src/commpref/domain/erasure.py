"""Erasure (right to be forgotten) that keeps the address suppressed (docs/privacy.md).

Erasing an address removes its statuses and rewrites its ledger entries to a keyed hash of
the address: HMAC-SHA256 under the portal's secret, so the hash cannot be reversed by
hashing candidate addresses without that secret. The hash is kept as a suppression, and an
address that has no stored record but a suppression reads as opted out of everything since
its erasure (`suppressed_subscriber`), on every read path and for every write rule.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from commpref.domain.model import Change, ChangeKind, Status, Subscriber, TypeStatus, WideStatus

ERASURE_SOURCE = "Data erasure"
LABEL_PREFIX = "erased:"
ERASURE_CHANGE = Change(ChangeKind.ERASURE, 0, Status.NOT_SPECIFIED, Status.UNSUBSCRIBED)


def subject_key(secret: bytes, email: str) -> bytes:
    """The keyed hash of a normalised address (32 bytes)."""
    return hmac.new(secret, email.encode(), hashlib.sha256).digest()


def key_id(secret: bytes) -> str:
    """A short public name of a portal's erasure key: exports carry it beside each erasure
    hash, so an import can tell whether the hash suppresses anything under its own key. It
    reveals nothing that would help reverse a hash."""
    return hmac.new(secret, b"commpref erasure key id", hashlib.sha256).hexdigest()[:16]


def valid_key(value: str) -> bool:
    """An erasure key as portals hold it: 32 to 128 URL-safe characters (new portals get
    64 hexadecimal digits)."""
    return re.fullmatch(r"[A-Za-z0-9_-]{32,128}", value) is not None


def label(key: bytes) -> str:
    """What the ledger shows instead of an erased address."""
    return LABEL_PREFIX + key.hex()


def key_of(label_: str) -> bytes | None:
    """The keyed hash a label shows, or None for a string that is no label."""
    if not is_label(label_):
        return None
    try:
        key = bytes.fromhex(label_.removeprefix(LABEL_PREFIX))
    except ValueError:
        return None
    return key if len(key) == 32 else None


def is_label(subscriber: str) -> bool:
    return subscriber.startswith(LABEL_PREFIX)


def suppressed_subscriber(
    email: str, erased_at: int, definitions: Iterable[int], business_units: Iterable[int]
) -> Subscriber:
    """An erased address as every rule sees it: opted out of all email of every business unit,
    every active definition UNSUBSCRIBED, all since the erasure."""
    return Subscriber(
        email,
        erased_at,
        {d: TypeStatus(Status.UNSUBSCRIBED, ERASURE_SOURCE, erased_at) for d in definitions},
        {u: WideStatus(Status.UNSUBSCRIBED, erased_at, ERASURE_SOURCE) for u in business_units},
    )
