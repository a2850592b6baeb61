"""The confirmation email of a double opt-in sign-up, in English, German or French.

The message is transactional, not bulk: it carries `Auto-Submitted: auto-generated`
(RFC 3834) so that out-of-office robots do not answer it, and no `List-Unsubscribe`,
since there is nothing to unsubscribe from until the address is confirmed.

Its link does not confirm anything by itself: mail scanners and previews open links on
their own, so the link only opens a page whose button confirms. The text says so.

Brand, sender and type names are user data. In headers, control characters (CR, LF...)
become spaces, so no name can start a header of its own; the email package then encodes
what is not ASCII (RFC 2047). In the HTML part, Jinja's autoescaping escapes them; the
text part is not HTML and is not escaped. Addresses, the Message-ID and the confirmation
URL are not user prose: a malformed one is refused (ValueError) rather than repaired.

Translations follow the pages' scheme (`web/i18n.py`): `translations/<code>.json` maps
the English text of a template's `_()` call to its translation, with `%(name)s`
placeholders filled in after translation (and escaped, in HTML).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import cache
from importlib import resources
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "de", "fr")
# The one message id used outside the templates.
SUBJECT = "Please confirm that you want emails from %(brand)s"

# Dates are written out here rather than with `locale`, which is process-wide, not
# thread-safe, and depends on the locales the machine happens to have installed.
_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
           "September", "Oktober", "November", "Dezember"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
}  # fmt: skip
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACE = re.compile(r"\s+")
_MESSAGE_ID = re.compile(r"<[!-;=?A-~]+@[!-;=?A-~]+>")
_DOMAIN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_URL_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f\"'<>\\`]")


def new_message_id(domain: str) -> str:
    """A fresh `<...@domain>` Message-ID. Make it once, when the email is queued, and
    compose every retry with it: a relay or a mailbox that got the message already
    then recognises the retry as the same message."""
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"not a domain name for a Message-ID: {domain!r}")
    return make_msgid(domain=domain)


def language_of(code: str | None) -> str:
    """The shipped language for a code: `de`, `DE`, `de-AT` → `de`; anything else → `en`."""
    primary = (code or "").strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


def format_date(at_ms: int, language: str) -> str:
    """An epoch-milliseconds time in UTC, to the minute, as `language` writes dates.

    Seconds are cut, not rounded: a link said to work until 15:30 still works then.
    """
    t = datetime.fromtimestamp(at_ms // 1000, UTC)
    language = language_of(language)
    month = _MONTHS[language][t.month - 1]
    if language == "de":
        return f"{t.day}. {month} {t.year}, {t:%H:%M} Uhr (UTC)"
    if language == "fr":
        day = "1er" if t.day == 1 else str(t.day)
        return f"{day} {month} {t.year} à {t.hour} h {t:%M} (UTC)"
    return f"{t.day} {month} {t.year}, {t:%H:%M} UTC"


def confirmation(
    *,
    to: str,
    sender: str,
    sender_name: str | None,
    brand: str,
    types: Sequence[tuple[str, str]],
    confirm_url: str,
    language: str,
    expires_at_ms: int,
    message_id: str,
    date_ms: int,
) -> EmailMessage:
    """The email asking `to` to confirm a sign-up to `types` (name, description) of
    `brand`: multipart/alternative, text and HTML, both UTF-8.

    Everything that varies between two sends is an argument (`message_id`, `date_ms`),
    so the outbox can compose a retry identical to the first try.
    """
    language = language_of(language)
    brand = _one_line(brand)
    if not brand:
        raise ValueError("the confirmation email needs a brand")
    items = [(_one_line(name), _one_line(description)) for name, description in types]
    if not items or not all(name for name, _ in items):
        raise ValueError("the confirmation email needs the names of the subscription types")
    _check_url(confirm_url)
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"not a Message-ID: {message_id!r} (see new_message_id)")

    subject = _gettext(language, SUBJECT) % {"brand": brand}
    env = environment(language)
    values = {
        "lang": language,
        "subject": subject,
        "brand": brand,
        "types": items,
        "confirm_url": confirm_url,
        "expires": format_date(expires_at_ms, language),
    }
    text = env.get_template("confirmation.txt").render(values)
    html = env.get_template("confirmation.html").render(values)

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = Address(
        display_name=_one_line(sender_name or ""), addr_spec=_address(sender, "sender").addr_spec
    )
    message["To"] = _address(to, "recipient")
    message["Date"] = format_datetime(datetime.fromtimestamp(date_ms / 1000, UTC))
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps long lines (the URL) within SMTP's limits and the source
    # readable; either part decodes to exactly the rendered text.
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


@cache
def catalogs() -> dict[str, dict[str, str]]:
    """Every shipped catalog by language code; English is the identity."""
    found: dict[str, dict[str, str]] = {DEFAULT_LANGUAGE: {}}
    for entry in resources.files("commpref.mail").joinpath("translations").iterdir():
        if entry.name.endswith(".json"):
            found[entry.name.removesuffix(".json")] = json.loads(entry.read_text("utf-8"))
    return found


@cache
def environment(language: str) -> Environment:
    """The templates in one language: HTML autoescaped, text not (it is no markup)."""
    env = Environment(
        loader=PackageLoader("commpref.mail", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )

    def gettext(message: str) -> str:
        return _gettext(language, message)

    def ngettext(singular: str, plural: str, n: int) -> str:
        return _gettext(language, singular if n == 1 else plural)

    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the i18n extension
        gettext, ngettext, newstyle=True
    )
    return env


def _gettext(language: str, message: str) -> str:
    """A message in `language`; English when the catalog lacks it (a test forbids that)."""
    return catalogs().get(language, {}).get(message) or message


def _one_line(text: str) -> str:
    """User text for one line of a header or a list: no line breaks, no control bytes."""
    return _SPACE.sub(" ", _BREAKS.sub(" ", text)).strip()


def _address(value: str, what: str) -> Address:
    """A bare `local@domain`, or ValueError: never a list, a display name or a header."""
    try:
        address = Address(addr_spec=value)
    except (ValueError, HeaderParseError, IndexError):
        raise ValueError(f"the {what} is not one email address: {value!r}") from None
    if not address.username or not address.domain:
        raise ValueError(f"the {what} is not one email address: {value!r}")
    return address


def _check_url(url: str) -> None:
    """An absolute http(s) URL, already percent-encoded: it goes into the email as is."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or _URL_UNSAFE.search(url):
        raise ValueError(f"the confirmation URL must be an absolute http(s) URL: {url!r}")
