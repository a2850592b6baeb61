"""HTML rendering: one Jinja environment per page language, autoescaped, plus the headers
every page carries.

Portal and definition names are user data: autoescaping is on for every template, and
translated strings take their values as escaped `%(name)s` parameters (newstyle gettext).
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from commpref.web import i18n

CSP = (
    "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CSP),
    ("Referrer-Policy", "no-referrer"),  # the token is in the URL: never leak it onwards
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
PAGE_HEADERS: tuple[tuple[str, str], ...] = (
    *SECURITY_HEADERS,
    ("Cache-Control", "no-store"),  # personal pages: no shared or back-button caches
)
STYLESHEET = "pages.css"


@cache
def stylesheet() -> tuple[bytes, str]:
    """The CSS and a short hash of it, used to version its URL."""
    css = resources.files("commpref.web").joinpath("static", STYLESHEET).read_bytes()
    return css, hashlib.sha256(css).hexdigest()[:12]


@cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=PackageLoader("commpref.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    translations = i18n.Translations(language)
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the i18n extension
        translations.gettext, translations.ngettext, newstyle=True
    )
    return env


def page(template: str, language: str, **values: Any) -> str:
    """Render one page in `language` (a shipped catalog's code)."""
    _, version = stylesheet()
    return (
        environment(language)
        .get_template(template)
        .render(lang=language, css=f"static/{STYLESHEET}?v={version}", **values)
    )
