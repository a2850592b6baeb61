"""What text an operator may give a portal, a business unit, a subscription type or a
token: names, descriptions, language tags and the preference pages' branding. Used by
`admin`, whichever surface (CLI, /commpref/v1, console) the text came through; the API's
wire shapes take their length limits from here.

Text a person types (names, descriptions, branding) is stored as given, markup and all:
every page escapes it. Only what cannot be stored or shown on one line is refused (control
characters; NUL, which PostgreSQL cannot store), and what is too long.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from commpref.domain import emails
from commpref.errors import ValidationError

MAX_NAME = 100  # names: portals, business units, subscription types, tokens, brands
MAX_TEXT = 1000  # descriptions
MAX_LABEL = 100  # a subscription type's purpose and communication method
MAX_URL = 2000
MAX_LANGUAGE = 35
# A BCP 47 language tag as HubSpot spells them (`en`, `de`, `pt-br`, `zh-hant-tw`): a 2-3
# letter language, then subtags; kept in lower case, so `de-DE` and `de-de` are one language.
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")
_COLOUR = re.compile(r"#[0-9a-f]{6}")
# What RFC 3986 allows in a URL, less the apostrophe: a logo URL lands in HTML and CSS.
_URL = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+")
_MULTILINE = frozenset("\t\n\r")


def invalid(field: str, message: str) -> ValidationError:
    """A 400 that names the field at fault, as the API's error envelope lists it."""
    return ValidationError(message, errors=[{"message": message, "in": field}])


def shown(value: str) -> str:
    """`value` quoted for an error message, cut short so the message stays one line."""
    return repr(value if len(value) <= 40 else value[:37] + "...")


def clean_text(value: str, field: str, *, limit: int, multiline: bool = False) -> str:
    """`value` as given, unless too long or holding characters no page can show."""
    if len(value) > limit:
        raise invalid(field, f"{field} is longer than {limit} characters")
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs") and not (multiline and ch in _MULTILINE):
            raise invalid(field, f"{field} contains a control character ({ord(ch):#04x})")
    return value


def clean_name(value: str, field: str = "name") -> str:
    """A name: trimmed, not blank, one line."""
    trimmed = clean_text(value.strip(), field, limit=MAX_NAME)
    if not trimmed:
        raise invalid(field, f"{field} must not be blank")
    return trimmed


def clean_language(value: str, field: str = "languageCode") -> str:
    """A language tag, in lower case with `-` (`pt_BR` → `pt-br`)."""
    code = value.strip().lower().replace("_", "-")
    if len(code) > MAX_LANGUAGE or not _LANGUAGE.fullmatch(code):
        message = f"Invalid {field} {shown(value)}: use a language tag such as en, de or pt-br"
        raise invalid(field, message)
    return code


# --- branding: for each, "" (or None) removes it -------------------------------------------


def _optional(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def clean_brand_name(value: object) -> str | None:
    given = _optional(value)
    return None if given is None else clean_name(given, "brandName")


_MAIL_FROM = re.compile(r"[!#-'*+/-9=?A-Z^-~.]+@[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


def clean_mail_from(value: object) -> str | None:
    """The From address of confirmation emails: one plain address, or empty to remove it."""
    address = _optional(value)
    if address is None:
        return None
    normalised = emails.parse(address)
    # Plain ASCII with a DNS domain: it names the Message-ID's domain and the SMTP envelope.
    if normalised is None or len(address) > MAX_URL or not _MAIL_FROM.fullmatch(address.strip()):
        raise invalid("mailFrom", "mailFrom is one email address (name@example.com), or empty")
    return address.strip()


def clean_logo_url(value: object) -> str | None:
    url = _optional(value)
    if url is None:
        return None
    message = "brandLogoUrl is an https URL (ASCII, percent-encoded), or empty to remove it"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a malformed port
        ok = parts.scheme == "https" and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok or len(url) > MAX_URL or not _URL.fullmatch(url):
        raise invalid("brandLogoUrl", message)
    return url


def clean_colour(value: object) -> str | None:
    given = _optional(value)
    if given is None:
        return None
    if not _COLOUR.fullmatch(given.lower()):
        raise invalid("brandColour", "brandColour is #rrggbb (six hex digits), or empty")
    return given.lower()
