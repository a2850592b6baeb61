"""Subscriber ids are email addresses: normalisation and validation (docs/wire-contract.md §5.2)."""

from __future__ import annotations

import re

MAX_EMAIL_LENGTH = 254

# local@domain.tld: one @, a local part without whitespace, quotes or control characters
# (PostgreSQL cannot store NUL in text), a dotted domain whose last label is two or more
# letters (unicode letters included).
_EMAIL = re.compile(r"^[^@\s\"\x00-\x1f\x7f]+@(?:[^@\s\".\x00-\x1f\x7f]+\.)+[^\W\d_]{2,}$")


def normalise(raw: str) -> str:
    """Trim surrounding whitespace and lowercase the whole address."""
    return raw.strip().lower()


def is_valid(normalised: str) -> bool:
    return len(normalised) <= MAX_EMAIL_LENGTH and _EMAIL.match(normalised) is not None


def parse(raw: str) -> str | None:
    """The normalised address, or None when it is not a valid address."""
    email = normalise(raw)
    return email if is_valid(email) else None
