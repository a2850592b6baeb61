"""Link tokens (services/links.py): sealing, verification, rotation, tampering, truncation,
foreign keys and portals, expiry; the List-Unsubscribe lines; the link settings."""

from __future__ import annotations

import base64
import dataclasses
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commpref.domain.model import Actor, LinkKey, PortalContext, Translation
from commpref.errors import ValidationError
from commpref.services import links
from commpref.services.context import Call
from commpref.services.links import ExpiredLink, InvalidLink, LinkClaims, check, sign, verify
from commpref.settings import Settings
from commpref.web import i18n
from tests.unit.builders import NOW, context

DAY_MS = 86_400_000
ISSUED = NOW // 1000
CLAIMS = LinkClaims(7, "jane.doe@example.com", 0, "de", ISSUED)
KEY, OLD_KEY, OTHER_KEY = b"current signing key", b"previous signing key", b"another server"


def b64(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def unb64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- sealing and verification ------------------------------------------------------------


def test_a_token_round_trips_and_is_url_safe_without_padding() -> None:
    token = sign(CLAIMS, KEY)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert verify(token, (KEY,)) == CLAIMS
    assert check(token, (KEY,), now=NOW, max_age_days=0) == CLAIMS


def test_a_token_is_opaque_the_address_cannot_be_read_from_it() -> None:
    token = sign(CLAIMS, KEY)
    raw = b64(token)
    for secret in (b"jane.doe", b"example.com", b"jane", b"de"):
        assert secret not in raw
    assert "jane" not in token.lower()


def test_a_token_is_compact() -> None:
    # version byte + 16-byte synthetic IV + the packed claims (no nonce, no JSON keys)
    packed = 1 + 16 + 1 + 1 + 21 + 1 + 3 + 5
    assert len(b64(sign(CLAIMS, KEY))) == packed
    assert len(sign(CLAIMS, KEY)) <= 80


@given(
    portal_id=st.integers(min_value=1, max_value=2**53),
    local=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.+_-", min_size=1, max_size=64),
    unit=st.integers(min_value=0, max_value=2**53),
    language=st.sampled_from(["en", "de", "fr", "pt-br", "zh-cn"]),
    issued=st.integers(min_value=0, max_value=2**40),
)
def test_every_claim_survives_sealing(
    portal_id: int, local: str, unit: int, language: str, issued: int
) -> None:
    claims = LinkClaims(portal_id, f"{local}@bücher.example", unit, language, issued)
    assert verify(sign(claims, KEY), (KEY,)) == claims


def test_different_claims_give_different_tokens() -> None:
    variants = [
        CLAIMS,
        LinkClaims(8, CLAIMS.email, 0, "de", ISSUED),
        LinkClaims(7, "jane.doe@example.org", 0, "de", ISSUED),
        LinkClaims(7, CLAIMS.email, 1, "de", ISSUED),
        LinkClaims(7, CLAIMS.email, 0, "fr", ISSUED),
        LinkClaims(7, CLAIMS.email, 0, "de", ISSUED + 1),
    ]
    assert len({sign(c, KEY) for c in variants}) == len(variants)


# --- rotation and foreign keys -----------------------------------------------------------


def test_the_first_key_signs_and_every_key_verifies() -> None:
    old_token = sign(CLAIMS, OLD_KEY)
    assert verify(old_token, (KEY, OLD_KEY)) == CLAIMS  # rotated: the old key still verifies
    assert verify(old_token, (KEY,)) is None  # retired: it no longer does
    assert verify(sign(CLAIMS, KEY), (KEY, OLD_KEY)) == CLAIMS


def test_a_token_of_another_server_or_key_is_refused() -> None:
    foreign = sign(CLAIMS, OTHER_KEY)
    assert verify(foreign, (KEY, OLD_KEY)) is None
    with pytest.raises(InvalidLink):
        check(foreign, (KEY,), now=NOW, max_age_days=0)


def test_a_token_naming_another_portal_is_only_ever_what_its_signer_sealed() -> None:
    # Re-sealing under a foreign key cannot move a link to another portal of this server.
    moved = sign(LinkClaims(8, CLAIMS.email, 0, "de", ISSUED), OTHER_KEY)
    assert verify(moved, (KEY,)) is None
    # Splicing the tail of a genuine token for portal 8 onto one for portal 7 fails too.
    genuine_7, genuine_8 = sign(CLAIMS, KEY), sign(LinkClaims(8, CLAIMS.email, 0, "de", 1), KEY)
    assert verify(genuine_7[:20] + genuine_8[20:], (KEY,)) is None


def test_derived_keys_depend_on_the_signing_key_and_the_purpose() -> None:
    a = links.derive_key(KEY, b"purpose one")
    assert len(a) == 32
    assert a == links.derive_key(KEY, b"purpose one")
    assert a != links.derive_key(KEY, b"purpose two")
    assert a != links.derive_key(OLD_KEY, b"purpose one")


# --- tampering and truncation ------------------------------------------------------------


def test_flipping_any_bit_of_a_token_is_detected() -> None:
    raw = b64(sign(CLAIMS, KEY))
    for i in range(len(raw)):
        for bit in (0x01, 0x80):
            altered = raw[:i] + bytes([raw[i] ^ bit]) + raw[i + 1 :]
            assert verify(unb64(altered), (KEY,)) is None, (i, bit)


def test_every_truncation_and_extension_is_refused() -> None:
    token = sign(CLAIMS, KEY)
    for n in range(len(token)):
        assert verify(token[:n], (KEY,)) is None, n
    assert verify(token + "A", (KEY,)) is None
    assert verify(token + "AA", (KEY,)) is None
    assert verify("A" + token, (KEY,)) is None


@pytest.mark.parametrize(
    "junk",
    ["", "=", "!!!!", "a b", "AoMIAjRW%3D", "Zm9v", "A" * 2000, "AQ", "ä" * 10, "d" * 64],
)
def test_junk_is_refused_without_an_exception(junk: str) -> None:
    assert verify(junk, (KEY,)) is None
    with pytest.raises(InvalidLink) as caught:
        check(junk, (KEY,), now=NOW, max_age_days=0)
    assert not isinstance(caught.value, ExpiredLink)


def test_characters_outside_base64url_are_not_silently_dropped() -> None:
    token = sign(CLAIMS, KEY)
    for extra in ("!", ".", "+", "/", "="):
        assert verify(token[:10] + extra + token[10:], (KEY,)) is None


def test_a_version_1_token_is_refused() -> None:
    raw = b64(sign(CLAIMS, KEY))
    assert verify(unb64(b"\x01" + raw[1:]), (KEY,)) is None


# --- expiry ------------------------------------------------------------------------------


def test_links_never_expire_by_default() -> None:
    ancient = sign(LinkClaims(7, CLAIMS.email, 0, "de", 0), KEY)
    assert check(ancient, (KEY,), now=NOW, max_age_days=0).issued_at == 0


def test_a_link_expires_after_the_maximum_age_and_not_before() -> None:
    token = sign(CLAIMS, KEY)
    last_valid = NOW + 60 * DAY_MS
    assert check(token, (KEY,), now=last_valid, max_age_days=60) == CLAIMS
    with pytest.raises(ExpiredLink):
        check(token, (KEY,), now=last_valid + 1000, max_age_days=60)
    assert check(token, (KEY,), now=last_valid + 1000, max_age_days=61) == CLAIMS
    # verify() checks genuineness only: expired links still identify their address
    # (one-click unsubscribes honour them).
    assert verify(token, (KEY,)) == CLAIMS


def test_expiry_is_a_validation_error_the_pages_can_render() -> None:
    assert issubclass(ExpiredLink, InvalidLink)
    assert issubclass(InvalidLink, ValidationError)
    assert InvalidLink().http_status == 400


# --- generated links and List-Unsubscribe ------------------------------------------------


def test_generated_links_carry_one_token_for_the_normalised_address() -> None:
    call = Call.make(context(), Actor("cli"), now=NOW)
    generated = links.generate_links(
        call=call,
        email=" Jane.Doe@Example.com ",
        business_unit_id=0,
        language=None,
        subscription_id=102,
        base_url="https://prefs.example.com/",
        key=KEY,
    )
    base = "https://prefs.example.com/hs/manage-preferences/"
    token = re.search(r"[?&]d=([^&]+)", generated.unsubscribe_all_url)
    assert token is not None
    assert verify(token.group(1), (KEY,)) == LinkClaims(1, "jane.doe@example.com", 0, "en", ISSUED)
    query = f"languagePreference=en&d={token.group(1)}&v=3"
    assert generated.manage_preferences_url == f"{base}unsubscribe?{query}"
    assert generated.unsubscribe_all_url == f"{base}unsubscribe-all?{query}"
    assert (
        generated.unsubscribe_single_url == f"{base}unsubscribe-single?{query}&subscriptionId=102"
    )


def test_list_unsubscribe_gives_the_one_click_url_and_the_post_line() -> None:
    call = Call.make(context(), Actor("cli"), now=NOW)
    found = links.list_unsubscribe(
        call=call,
        email="jane.doe@example.com",
        business_unit_id=0,
        language=None,
        base_url="https://prefs.example.com",
        key=KEY,
    )
    assert found.email == "jane.doe@example.com"
    assert found.url.startswith("https://prefs.example.com/hs/manage-preferences/unsubscribe-all?")
    assert found.mailto is None
    assert found.lines() == [
        f"List-Unsubscribe: <{found.url}>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    ]
    with_mailto = links.list_unsubscribe(
        call=call,
        email="jane.doe@example.com",
        business_unit_id=0,
        language=None,
        base_url="https://prefs.example.com",
        key=KEY,
        mailto="unsubscribe@example.com",
    )
    assert with_mailto.list_unsubscribe == (
        f"<{with_mailto.url}>, <mailto:unsubscribe@example.com?subject=unsubscribe>"
    )


def test_list_unsubscribe_validates_like_links_generate() -> None:
    call = Call.make(context(), Actor("cli"), now=NOW)

    def headers(email: str, unit: int) -> links.ListUnsubscribe:
        return links.list_unsubscribe(
            call=call,
            email=email,
            business_unit_id=unit,
            language=None,
            base_url="https://x.example",
            key=KEY,
        )

    with pytest.raises(ValidationError, match="Invalid email address"):
        headers("not-an-address", 0)
    with pytest.raises(ValidationError, match="Business unit 5 does not exist"):
        headers("a@example.com", 5)


# --- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 30, 59, -1])
def test_a_maximum_age_below_60_days_is_refused_at_start_up(days: int) -> None:
    with pytest.raises(ValueError, match="at least 60 days"):
        Settings(link_max_age_days=days)
    with pytest.raises(ValueError, match="COMMPREF_LINK_MAX_AGE_DAYS"):
        Settings.from_env({"COMMPREF_LINK_MAX_AGE_DAYS": str(days)})


@pytest.mark.parametrize("days", [0, 60, 365])
def test_zero_or_60_days_and_more_are_accepted(days: int) -> None:
    assert Settings.from_env({"COMMPREF_LINK_MAX_AGE_DAYS": str(days)}).link_max_age_days == days


def test_the_mailto_setting_must_be_an_address() -> None:
    settings = Settings.from_env({"COMMPREF_LIST_UNSUBSCRIBE_MAILTO": "unsub@example.com"})
    assert settings.list_unsubscribe_mailto == "unsub@example.com"
    for bad in ["nobody", "a@b", "<a@b.co>", "a@b.co?subject=x"]:
        with pytest.raises(ValueError, match="COMMPREF_LIST_UNSUBSCRIBE_MAILTO"):
            Settings(list_unsubscribe_mailto=bad)


# --- the page language (§5.14) -------------------------------------------------------------


def _translated(code: str) -> PortalContext:
    """A portal whose default language is Spanish, with one type translated into `code`."""
    ctx = context()
    first = dataclasses.replace(
        ctx.definitions[0], translations=(Translation(code, "Nombre", "Texto", NOW, NOW),)
    )
    portal = dataclasses.replace(ctx.portal, default_language="es")
    return dataclasses.replace(ctx, portal=portal, definitions=(first, *ctx.definitions[1:]))


@pytest.mark.parametrize(
    ("requested", "chosen"),
    [
        ("en", "en"),
        ("de", "de"),
        ("fr", "fr"),
        ("DE", "de"),
        ("de-DE", "de"),  # a regional tag counts as its base language
        ("fr_CA", "fr"),
        ("ar", "ar"),  # a type has a translation in it
        ("ar-EG", "ar"),
        ("xx", "es"),  # neither: the portal's default
        ("", "es"),
        (None, "es"),
    ],
)
def test_the_page_language_is_one_the_pages_speak(requested: str | None, chosen: str) -> None:
    assert links.page_language(_translated("ar"), requested, 0) == chosen


def test_the_pages_own_languages_are_the_shipped_catalogs() -> None:
    assert set(i18n.catalogs()) == links.PAGE_LANGUAGES


# --- a portal's own keys -------------------------------------------------------------------


def test_a_portal_key_token_names_its_key_and_opens_with_that_key_only() -> None:
    token = sign(CLAIMS, KEY, 70_000)
    assert links.sealing_key_id(token) == 70_000
    assert links.sealing_key_id(sign(CLAIMS, KEY)) is None  # a server key's token
    assert verify(token, (KEY,)) == CLAIMS
    assert verify(token, (OTHER_KEY,)) is None
    assert b64(token)[:5] == b"\x03" + (70_000).to_bytes(4)


def test_a_portal_key_token_cannot_be_moved_to_another_key_id_or_version() -> None:
    raw = b64(sign(CLAIMS, KEY, 5))
    moved = unb64(raw[:1] + (6).to_bytes(4) + raw[5:])
    assert links.sealing_key_id(moved) == 6
    assert verify(moved, (KEY,)) is None  # the header is authenticated
    as_server_token = unb64(b"\x02" + raw[5:])
    assert verify(as_server_token, (KEY,)) is None
    for n in range(6):  # a header with nothing sealed after it is no token
        assert links.sealing_key_id(unb64(raw[:n])) is None
        assert verify(unb64(raw[:n]), (KEY,)) is None


def test_flipping_any_bit_of_a_portal_key_token_is_detected() -> None:
    raw = b64(sign(CLAIMS, KEY, 12))
    for i in range(len(raw)):
        altered = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]
        assert verify(unb64(altered), (KEY,)) is None, i


def test_links_are_sealed_with_the_portals_own_key_once_it_has_one() -> None:
    ctx = context()
    own = LinkKey(41, ctx.portal.id, "the portal's own key", NOW)
    with_key = dataclasses.replace(ctx, portal=dataclasses.replace(ctx.portal, link_key=own))
    for c, key_id, opening in ((ctx, None, KEY), (with_key, 41, own.secret.encode())):
        made = links.generate_links(
            call=Call.make(c, Actor("t"), now=NOW),
            email="ada@example.com",
            business_unit_id=0,
            language=None,
            subscription_id=None,
            base_url="https://p.example",
            key=KEY,
        )
        token = made.manage_preferences_url.split("&d=")[1].split("&")[0]
        assert links.sealing_key_id(token) == key_id
        assert verify(token, (opening,)) is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [("signup_confirm_days", 0), ("signup_resend_minutes", -1), ("signup_daily_emails", 0),
     ("signup_keep_days", -1), ("feedback_max_age_hours", 0)],
)  # fmt: skip
def test_settings_below_their_bound_are_refused(name: str, value: int) -> None:
    with pytest.raises(ValueError, match=f"COMMPREF_{name.upper()} must be at least"):
        Settings.from_env({f"COMMPREF_{name.upper()}": str(value)})
    assert getattr(Settings.from_env({f"COMMPREF_{name.upper()}": str(value + 1)}), name) == (
        value + 1
    )
