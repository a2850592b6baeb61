"""Erasure (domain/erasure.py): the keyed hash, and how an erased address reads."""

from __future__ import annotations

import hashlib
import hmac

from commpref.domain import erasure, rules
from commpref.domain.model import Status
from tests.unit.builders import NOW, brands_context, context


def test_the_key_is_hmac_sha256_of_the_address_under_the_portal_secret() -> None:
    key = erasure.subject_key(b"portal-secret", "a@example.com")
    assert key == hmac.new(b"portal-secret", b"a@example.com", hashlib.sha256).digest()
    assert key != erasure.subject_key(b"other-secret", "a@example.com")
    assert erasure.label(key) == "erased:" + key.hex()
    assert erasure.is_label(erasure.label(key)) and not erasure.is_label("a@example.com")


def test_an_erased_address_reads_as_opted_out_of_everything() -> None:
    ctx = context()
    sub = erasure.suppressed_subscriber("a@example.com", NOW, [101, 102, 103], [0])
    rows = rules.status_rows(ctx, sub, None, NOW + 1)
    assert [(r.status, r.source, r.timestamp) for r in rows] == [
        (Status.UNSUBSCRIBED, erasure.ERASURE_SOURCE, NOW)
    ] * 3
    assert all(rules.is_opted_out(ctx.portal, sub, d) for d in ctx.definitions)
    assert {r.status.value for r in rules.v3_rows(ctx, sub)} == {"NOT_SUBSCRIBED"}


def test_with_brands_every_business_unit_is_opted_out() -> None:
    ctx = brands_context()
    sub = erasure.suppressed_subscriber("a@example.com", NOW, [101, 102, 201, 202], [0, 7])
    assert [r.business_unit_id for r in rules.wide_rows(ctx, sub, None)] == [0, 7]
    assert all(rules.is_opted_out(ctx.portal, sub, d) for d in ctx.definitions)
