"""mail.compose: the double opt-in confirmation email, its languages, dates, escaping and
headers that no user-supplied name can add to."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from commpref.mail import compose

DATE_MS = 1_773_415_859_000  # Fri, 13 Mar 2026 15:30:59 UTC
EXPIRES_MS = 1_773_502_259_999  # Sat, 14 Mar 2026 15:30:59.999 UTC
URL = "https://prefs.acme.test/confirm?token=abc.DEF-123&lang=de&next=%2Fdone"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def compose_(**overrides: Any) -> EmailMessage:
    values: dict[str, Any] = {
        "to": "bob@example.com",
        "sender": "news@acme.test",
        "sender_name": "Acme Newsletters",
        "brand": "Acme Widgets",
        "types": [("Weekly digest", "The week's best articles"), ("Product news", "")],
        "confirm_url": URL,
        "language": "en",
        "expires_at_ms": EXPIRES_MS,
        "message_id": "<c0ffee.42@acme.test>",
        "date_ms": DATE_MS,
    }
    values.update(overrides)
    return compose.confirmation(**values)


def parts(message: EmailMessage) -> tuple[str, str]:
    """The decoded text and HTML of a message, after a trip through bytes."""
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    text_part, html_part = parsed.iter_parts()
    assert isinstance(text_part, EmailMessage) and isinstance(html_part, EmailMessage)
    assert text_part.get_content_type() == "text/plain"
    assert html_part.get_content_type() == "text/html"
    assert text_part.get_content_charset() == html_part.get_content_charset() == "utf-8"
    return text_part.get_content(), html_part.get_content()


class Html(HTMLParser):
    """The elements, links and text of an HTML part, as a mail client would see them."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.links: list[str | None] = []
        self.text: list[str] = []
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        if tag == "a":
            self.links.append(dict(attrs).get("href"))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


# --- languages ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_each_language_names_the_brand_and_every_type(language: str) -> None:
    message = compose_(language=language)
    text, html = parts(message)
    assert "Acme Widgets" in message["Subject"]
    for body in (text, html):
        for needle in ("Acme Widgets", "Weekly digest", "Product news"):
            assert needle in body, (language, needle)
    assert "The week's best articles" in text
    assert "The week&#39;s best articles" in html  # autoescaped
    assert f'<html lang="{language}">' in html
    assert compose.format_date(EXPIRES_MS, language) in text


def test_the_languages_differ() -> None:
    messages = {lang: compose_(language=lang) for lang in ("en", "de", "fr")}
    assert len({m["Subject"] for m in messages.values()}) == 3
    assert len({parts(m)[0] for m in messages.values()}) == 3
    assert len({parts(m)[1] for m in messages.values()}) == 3
    assert "bestätigen" in messages["de"]["Subject"]
    assert "confirmer" in messages["fr"]["Subject"]
    assert "Guten Tag" in parts(messages["de"])[0]
    assert "Bonjour" in parts(messages["fr"])[0]


@pytest.mark.parametrize("language", ["nl", "", "xx-YY", "english", "zh-Hans"])
def test_an_unknown_language_is_english(language: str) -> None:
    english, other = compose_(language="en"), compose_(language=language)
    assert other["Subject"] == english["Subject"]
    assert parts(other) == parts(english)


@pytest.mark.parametrize(("code", "language"), [("DE", "de"), ("de-AT", "de"), ("fr_CA", "fr")])
def test_a_regional_code_uses_its_language(code: str, language: str) -> None:
    assert compose.language_of(code) == language
    assert compose_(language=code)["Subject"] == compose_(language=language)["Subject"]


def template_messages() -> set[str]:
    env = compose.environment(compose.DEFAULT_LANGUAGE)
    assert env.loader is not None
    found: set[str] = set()
    for name in env.list_templates():
        source = env.loader.get_source(env, name)[0]
        for _, _, message in env.extract_translations(source):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found | {compose.SUBJECT}


@pytest.mark.parametrize("language", ["de", "fr"])
def test_every_catalog_translates_every_string_and_keeps_its_placeholders(language: str) -> None:
    catalog = compose.catalogs()[language]
    assert set(catalog) == template_messages()  # nothing missing, nothing stale
    for message, translated in catalog.items():
        assert translated.strip() and translated != message, message
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(message))


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at_ms", "language", "expected"),
    [
        (EXPIRES_MS, "en", "14 March 2026, 15:30 UTC"),
        (EXPIRES_MS, "de", "14. März 2026, 15:30 Uhr (UTC)"),
        (EXPIRES_MS, "fr", "14 mars 2026 à 15 h 30 (UTC)"),
        (1_772_323_200_000, "fr", "1er mars 2026 à 0 h 00 (UTC)"),
        (1_772_323_200_000, "de", "1. März 2026, 00:00 Uhr (UTC)"),
        (1_798_761_599_000, "en", "31 December 2026, 23:59 UTC"),  # cut, not rounded up
        (1_798_761_599_000, "nl", "31 December 2026, 23:59 UTC"),
    ],
)
def test_dates_are_written_in_utc_as_each_language_writes_them(
    at_ms: int, language: str, expected: str
) -> None:
    assert compose.format_date(at_ms, language) == expected


def test_the_body_says_until_when_the_link_works() -> None:
    assert "The link works until 14 March 2026, 15:30 UTC." in parts(compose_())[0]
    assert "bis zum 14. März 2026, 15:30 Uhr (UTC) gültig" in parts(compose_(language="de"))[0]
    assert "jusqu’au 14 mars 2026 à 15 h 30 (UTC)" in parts(compose_(language="fr"))[1]


def test_the_date_header_is_the_given_time() -> None:
    message = compose_()
    assert message["Date"] == "Fri, 13 Mar 2026 15:30:59 +0000"
    assert parsedate_to_datetime(message["Date"]).timestamp() == DATE_MS // 1000
    assert message["Date"] == format_datetime(parsedate_to_datetime(message["Date"]))


# --- headers -----------------------------------------------------------------------------


def test_the_headers_of_a_transactional_message() -> None:
    message = compose_()
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == "<c0ffee.42@acme.test>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["To"] == "bob@example.com"
    assert parsed["From"] == "Acme Newsletters <news@acme.test>"
    assert parsed["Subject"] == "Please confirm that you want emails from Acme Widgets"
    assert "List-Unsubscribe" not in parsed and "List-Unsubscribe-Post" not in parsed


def test_a_retry_composes_the_same_message() -> None:
    first, second = compose_(), compose_()
    assert first.items() == second.items()
    assert parts(first) == parts(second)


def test_without_a_sender_name_from_is_the_bare_address() -> None:
    assert compose_(sender_name=None)["From"] == "news@acme.test"
    assert compose_(sender_name="  ")["From"] == "news@acme.test"


def test_a_sender_name_that_is_not_ascii_or_has_specials_is_encoded() -> None:
    message = compose_(sender_name='Acme, "Inc." — Équipe', brand="Café Ünïcode")
    raw = message.as_bytes()
    headers = raw.split(b"\n\n", 1)[0]
    assert headers.isascii()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["From"].addresses[0].display_name == 'Acme, "Inc." — Équipe'
    assert parsed["From"].addresses[0].addr_spec == "news@acme.test"
    assert "Café Ünïcode" in parsed["Subject"]


def test_a_new_message_id_is_unique_and_in_the_domain() -> None:
    ids = {compose.new_message_id("acme.test") for _ in range(100)}
    assert len(ids) == 100
    for message_id in ids:
        assert re.fullmatch(r"<[^<>@\s]+@acme\.test>", message_id)
        compose_(message_id=message_id)  # accepted as it is
    for bad in ("", "acme test", "acme.test>\r\nBcc: x@y", "@acme.test"):
        with pytest.raises(ValueError):
            compose.new_message_id(bad)


# --- hostile input -----------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script> & "Co" \'quoted\' <img src=x onerror=alert(1)>'


def test_hostile_names_are_escaped_in_html_and_kept_in_text() -> None:
    message = compose_(
        brand=HOSTILE, types=[(HOSTILE, HOSTILE), ("<b>bold</b>", "</ul><a href=x>")]
    )
    text, html = parts(message)
    doc = Html(html)
    assert "script" not in doc.tags and "img" not in doc.tags and "b" not in doc.tags
    assert doc.links == [URL]  # the one link is the confirmation's
    assert not any(name.startswith("on") for name, _ in doc.attrs)
    assert "&lt;script&gt;" in html and "<script" not in html.lower()
    assert "&#34;Co&#34;" in html or "&quot;Co&quot;" in html
    shown = "".join(doc.text)
    assert shown.count('<script>alert("x")</script>') >= 3  # brand, type name, description
    assert "<b>bold</b>" in shown and "</ul><a href=x>" in shown
    # The text part is not HTML: the names are shown as they are.
    assert HOSTILE in text and "<b>bold</b>" in text


def test_a_hostile_brand_is_escaped_in_the_html_title() -> None:
    _, html = parts(compose_(brand="</title><script>x()</script>"))
    assert "<script" not in html
    assert "&lt;/title&gt;" in html


@pytest.mark.parametrize("line_break", ["\r\n", "\n", "\r", "\x85", "\u2028", "\x00", "\x0b"])
def test_line_breaks_in_names_cannot_add_headers(line_break: str) -> None:
    injection = f"{line_break}Bcc: victim@example.com{line_break}X-Injected: yes"
    message = compose_(
        brand=f"Acme{injection}",
        sender_name=f"Evil{injection}",
        types=[(f"Digest{injection}", f"About{injection}")],
    )
    raw = message.as_bytes()
    headers = raw.split(b"\n\n", 1)[0]
    assert not re.search(rb"(?mi)^(bcc|x-injected):", headers)  # folded lines start with " "
    parsed = message_from_bytes(raw, policy=policy.default)
    for part in parsed.walk():
        assert {"Bcc", "X-Injected"}.isdisjoint(part.keys())
    assert parsed.get_all("To") == ["bob@example.com"]
    assert parsed["Subject"].endswith("Acme Bcc: victim@example.com X-Injected: yes")
    assert parsed["From"].addresses[0].display_name == (
        "Evil Bcc: victim@example.com X-Injected: yes"
    )
    assert parsed["From"].addresses[0].addr_spec == "news@acme.test"
    text, _ = parts(message)
    assert "- Digest Bcc: victim@example.com X-Injected: yes\n" in text


@pytest.mark.parametrize(
    "overrides",
    [
        {"to": "bob@example.com\r\nBcc: victim@example.com"},
        {"to": "bob@example.com, victim@example.com"},
        {"to": "Bob <bob@example.com>"},
        {"to": "bob"},
        {"to": ""},
        {"sender": "news@acme.test\nBcc: victim@example.com"},
        {"message_id": "<a@acme.test>\r\nBcc: victim@example.com"},
        {"message_id": "no-brackets@acme.test"},
        {"confirm_url": "javascript:alert(1)"},
        {"confirm_url": "/relative/confirm?t=1"},
        {"confirm_url": 'https://prefs.acme.test/c?t=1"><script>'},
        {"confirm_url": "https://prefs.acme.test/c?t=1\r\nBcc: x@y"},
        {"brand": " \r\n "},
        {"types": []},
        {"types": [("\n", "no name")]},
    ],
)
def test_malformed_addresses_ids_and_urls_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        compose_(**overrides)


# --- the confirmation URL ----------------------------------------------------------------


def test_the_url_is_untouched_and_appears_once_per_part() -> None:
    message = compose_()
    text, html = parts(message)
    assert text.count(URL) == 1
    assert URL not in html  # its & is escaped in the href...
    escaped = URL.replace("&", "&amp;")
    assert html.count(escaped) == 1
    assert f'href="{escaped}"' in html
    assert Html(html).links == [URL]  # ...and resolves to the very same URL
    # Quoted-printable may wrap it in the raw message; decoding restores it.
    raw = message.as_bytes()
    assert all(len(line) <= 78 for line in raw.split(b"\n"))


def test_the_html_is_simple_and_accessible() -> None:
    _, html = parts(compose_(language="fr"))
    doc = Html(html)
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="fr">' in html
    assert {"script", "img", "style", "link", "iframe", "form"}.isdisjoint(doc.tags)
    assert "title" in doc.tags
    [link_text] = re.findall(r"<a [^>]*>([^<]+)</a>", html)
    assert link_text == "Ouvrir la page de confirmation"
