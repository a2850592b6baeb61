"""Subscriber ids: normalisation and validation (docs/wire-contract.md §5.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commpref.domain import emails

DOMAIN = "@example.com"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("jane@example.com", "jane@example.com"),
        ("Jane@Example.COM", "jane@example.com"),
        ("  jane@example.com\t\n", "jane@example.com"),
        ("a+b@example.com", "a+b@example.com"),
        ("A+Tag@Example.com", "a+tag@example.com"),
        ("first.last@sub.example.co.uk", "first.last@sub.example.co.uk"),
        ("o'neil@example.ie", "o'neil@example.ie"),
        ("Ünïcødé@Exämple.DE", "ünïcødé@exämple.de"),
        ("用户@例子.广告", "用户@例子.广告"),
        ("ivan@пример.рф", "ivan@пример.рф"),
        ("x@xn--bcher-kva.example", "x@xn--bcher-kva.example"),
    ],
)
def test_valid_addresses_are_normalised(raw: str, expected: str) -> None:
    assert emails.parse(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "plain",
        "@example.com",
        "jane@",
        "jane@example",  # no dot in the domain
        "jane@example.c",  # one-letter TLD
        "jane@example.c0m",  # TLD with a digit
        "jane@example.123",
        "jane@example.com.",
        "jane@.example.com",
        "jane@example..com",
        "jane@@example.com",
        "jane@doe@example.com",
        "jane doe@example.com",
        "jane\t@example.com",
        "jane@exa mple.com",
        '"jane"@example.com',
        'ja"ne@example.com',
        'jane@exam"ple.com',
        "not-an-email",
    ],
)
def test_invalid_addresses_are_refused(raw: str) -> None:
    assert emails.parse(raw) is None


def test_254_characters_is_the_limit() -> None:
    longest = "a" * (254 - len(DOMAIN)) + DOMAIN
    assert len(longest) == 254
    assert emails.parse(longest) == longest
    assert emails.parse("a" + longest) is None
    assert emails.MAX_EMAIL_LENGTH == 254


def test_the_limit_applies_after_trimming() -> None:
    longest = "a" * (254 - len(DOMAIN)) + DOMAIN
    assert emails.parse(f"  {longest}  ") == longest


def test_is_valid_expects_a_normalised_address() -> None:
    assert emails.is_valid("jane@example.com")
    assert not emails.is_valid(" jane@example.com")


def test_normalise_trims_and_lowercases_only() -> None:
    assert emails.normalise("  A+B@X.COM ") == "a+b@x.com"
    assert emails.normalise("a%40b") == "a%40b"  # no decoding here: the path layer decodes


# No whitespace (categories Z, and Cc holds tab, newline and friends), no quotes, no @.
NOT_SPACE = st.characters(exclude_categories=("Cs", "Z", "Cc"), exclude_characters='@"')
LOCAL = st.text(alphabet=NOT_SPACE, min_size=1, max_size=40)
LABEL = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Z", "Cc"), exclude_characters='@".'),
    min_size=1,
    max_size=20,
)
TLD = st.text(alphabet=st.characters(categories=["Ll"]), min_size=2, max_size=6)


@given(LOCAL, st.lists(LABEL, min_size=1, max_size=3), TLD)
def test_any_local_at_dotted_domain_with_a_letter_tld_is_accepted(
    local: str, labels: list[str], tld: str
) -> None:
    raw = f"{local}@{'.'.join(labels)}.{tld}"
    expected = raw.lower()
    assert emails.parse(raw) == (expected if len(expected) <= 254 else None)


@given(st.text(max_size=300))
def test_parse_is_normalised_and_idempotent(raw: str) -> None:
    parsed = emails.parse(raw)
    if parsed is not None:
        assert parsed == parsed.strip().lower()
        assert emails.parse(parsed) == parsed
        assert len(parsed) <= 254
        assert parsed.count("@") == 1
