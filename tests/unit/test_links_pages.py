"""The pieces of the preference pages that need no server: form tokens, form bodies, the
translation catalogs, language choice and escaping (web/forms.py, web/i18n.py, web/render.py)."""

from __future__ import annotations

import base64
import re

import pytest

from commpref.web import forms, i18n, render

KEY, OTHER = b"signing key", b"other key"
LINK = "AoMIAjRWX3MFT_0FT1XOGR0SxWvQujgvEzRcSznqEI9E1uh9g7ajDCfR"
OTHER_LINK = "AuPKaiMVXzetHKnDtyB1KIj6DD-xD8kWQKWOs6BjdXT5QHi1x3CvfOaf"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


# --- form tokens -------------------------------------------------------------------------


def test_a_form_token_is_accepted_for_its_link_and_form_only() -> None:
    token = forms.form_token(KEY, "manage", LINK)
    assert forms.form_token_ok(token, (KEY,), "manage", LINK)
    assert forms.form_token_ok(token, (OTHER, KEY), "manage", LINK)  # rotated keys verify
    assert not forms.form_token_ok(token, (OTHER,), "manage", LINK)
    assert not forms.form_token_ok(token, (KEY,), "all", LINK)  # another form
    assert not forms.form_token_ok(token, (KEY,), "manage", OTHER_LINK)  # another link
    single = forms.form_token(KEY, "single:101", LINK)
    assert forms.form_token_ok(single, (KEY,), "single:101", LINK)
    assert not forms.form_token_ok(single, (KEY,), "single:102", LINK)  # another type


def test_form_tokens_are_fresh_each_time() -> None:
    assert forms.form_token(KEY, "all", LINK) != forms.form_token(KEY, "all", LINK)


def test_an_altered_missing_or_malformed_form_token_is_refused() -> None:
    token = forms.form_token(KEY, "all", LINK)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for i in range(len(raw)):
        altered = raw[:i] + bytes([raw[i] ^ 1]) + raw[i + 1 :]
        value = base64.urlsafe_b64encode(altered).rstrip(b"=").decode()
        assert not forms.form_token_ok(value, (KEY,), "all", LINK), i
    for bad in [None, "", token[:-1], token + "A", "x" * 100, "!!!!", "AAAA"]:
        assert not forms.form_token_ok(bad, (KEY,), "all", LINK), bad


# --- form bodies -------------------------------------------------------------------------


async def test_url_encoded_bodies_keep_repeated_fields_in_order() -> None:
    body = b"csrf=abc&subscription=101&subscription=103&unsubscribe_all="
    assert await forms.parse(body, "application/x-www-form-urlencoded") == [
        ("csrf", "abc"),
        ("subscription", "101"),
        ("subscription", "103"),
        ("unsubscribe_all", ""),
    ]


async def test_the_one_click_body_reads_the_same_in_both_encodings() -> None:
    multipart = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        b"One-Click\r\n"
        b"--b0undary--\r\n"
    )
    expected = [("List-Unsubscribe", "One-Click")]
    assert await forms.parse(multipart, "multipart/form-data; boundary=b0undary") == expected
    form_urlencoded = "application/x-www-form-urlencoded"
    assert await forms.parse(b"List-Unsubscribe=One-Click", form_urlencoded) == expected
    assert await forms.parse(b"List-Unsubscribe=One-Click", None) == expected


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--b--\r\n',
            "multipart/form-data",
        ),
        (b"garbage", "multipart/form-data; boundary=b"),
        (
            b'--b\r\nContent-Disposition: form-data; name="f"; filename="x.txt"\r\n\r\n'
            b"x\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
        ),
        (b"\xff\xfe=1", "application/x-www-form-urlencoded"),
        (b"&".join(b"a=1" for _ in range(forms.MAX_FIELDS + 1)), None),
    ],
    ids=["no-boundary", "not-multipart", "a-file", "not-utf8", "too-many-fields"],
)
async def test_unreadable_bodies_are_a_bad_form(body: bytes, content_type: str | None) -> None:
    with pytest.raises(forms.BadForm):
        await forms.parse(body, content_type)


# --- translations ------------------------------------------------------------------------


# Words that are spelt the same in English and the other language.
SAME_WORD = {
    "de": {"(optional)", "API", "Export", "Format", "ID", "Import", "Name", "Portal",
           "Portal %(id)s", "Problem", "Status", "Tokens", "URL", "Webhook", "Webhooks"},
    "fr": {"API", "Console", "Contacts", "Description", "Double opt-in", "Export", "Format",
           "ID", "Import", "Secret", "Source", "Type", "Types", "URL", "Webhook", "Webhooks",
           "app %(app)s"},
}  # fmt: skip


def template_messages() -> set[str]:
    env = render.environment(i18n.DEFAULT)
    assert env.loader is not None
    found: set[str] = set()
    for name in env.list_templates():
        source = env.loader.get_source(env, name)[0]
        for _, _, message in env.extract_translations(source):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_english_and_at_least_two_other_languages_are_shipped() -> None:
    assert {"en", "de", "fr"} <= set(i18n.catalogs())


@pytest.mark.parametrize("language", sorted(set(i18n.catalogs()) - {"en"}))
def test_every_catalog_translates_every_string_and_keeps_its_placeholders(language: str) -> None:
    catalog = i18n.catalogs()[language]
    messages = template_messages()
    assert len(messages) > 30
    assert set(catalog) == messages  # nothing missing, nothing stale
    for message, translated in catalog.items():
        assert translated.strip(), message
        # Really translated, but for the words each language shares with English.
        assert translated != message or message in SAME_WORD[language], message
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(message))


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (["de", "en"], "de"),
        (["de-AT", "fr"], "de"),
        (["DE_ch"], "de"),
        (["nl", "fr"], "fr"),  # the token's language is not shipped: the portal's default
        (["nl", "pt-br"], "en"),  # neither: English
        ([None, ""], "en"),
    ],
)
def test_the_page_language_is_the_first_shipped_candidate(
    candidates: list[str | None], expected: str
) -> None:
    assert i18n.choose(candidates) == expected


def test_accept_language_is_read_best_first() -> None:
    assert i18n.accept_language("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5") == [
        "fr-CH",
        "fr",
        "en",
        "de",
    ]
    assert i18n.accept_language("en;q=0.1, de") == ["de", "en"]
    assert i18n.accept_language("de;q=0, en;q=bogus") == []
    assert i18n.accept_language(None) == []


# --- rendering ---------------------------------------------------------------------------


def test_user_data_is_escaped_everywhere_it_appears() -> None:
    evil = '<script>alert("x")</script>'
    html = render.page(
        "confirm.html",
        "de",
        brand=evil,
        email="a@example.com",
        manage_url='unsubscribe?d=x"><b>',
        action="unsubscribe-all?d=x",
        csrf="t",
        choice=None,
        opted_out=True,
    )
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "Alle E-Mails abbestellen?" in html
    assert '<html lang="de">' in html


def test_pages_use_no_inline_scripts_or_styles() -> None:
    """No script anywhere; the one style block is a brand's colours, allowed by its hash."""
    env = render.environment(i18n.DEFAULT)
    assert env.loader is not None
    for name in env.list_templates():
        source = env.loader.get_source(env, name)[0]
        assert "<script" not in source, name
        if name != "base.html":
            assert "<style" not in source, name
        assert " style=" not in source and " on" + "click" not in source, name
    base = env.loader.get_source(env, "base.html")[0]
    assert base.count("<style") == 1 and "<style>{{ branding.style | safe }}</style>" in base


def test_the_stylesheet_url_changes_with_its_content() -> None:
    css, version = render.stylesheet()
    assert b"prefers-color-scheme" in css
    assert re.fullmatch(r"[0-9a-f]{12}", version)
    assert f"static/pages.css?v={version}" in render.page(
        "error.html", "en", kind="invalid", brand="", again_url=None
    )
