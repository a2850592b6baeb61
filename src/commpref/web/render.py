"""HTML rendering: one Jinja environment per page language, autoescaped, plus the headers
every page carries.

Portal and definition names are user data: autoescaping is on for every template, and
translated strings take their values as escaped `%(name)s` parameters (newstyle gettext).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined

from commpref.domain.model import Portal
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
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True, slots=True)
class Branding:
    """How a portal dresses its preference pages: a name, an https logo, a colour. The
    colour goes into a `<style>` block allowed by its hash in the page's CSP (no inline
    style attributes); the logo, when there is one, is the only thing a page loads from
    another site (its own origin is allowed for images, nothing else)."""

    name: str
    logo_url: str | None = None
    colour: str | None = None  # `#rrggbb`

    @classmethod
    def of(cls, portal: Portal) -> Branding:
        return cls(portal.brand_name or portal.name, portal.brand_logo_url, portal.brand_colour)

    @property
    def style(self) -> str | None:
        """The masthead's colours: the brand colour, with black or white text, whichever
        contrasts more (WCAG's relative luminance)."""
        if self.colour is None or not _COLOUR.fullmatch(self.colour):
            return None
        text = "#111827" if _luminance(self.colour) > 0.179 else "#ffffff"
        return (
            f":root{{--mast:{self.colour};--on-mast:{text};--mark:{text};--on-mark:{self.colour}}}"
        )

    def headers(self) -> tuple[tuple[str, str], ...]:
        """The page headers, with the CSP opened just for this brand's style and logo."""
        csp = CSP
        if self.style is not None:
            digest = base64.b64encode(hashlib.sha256(self.style.encode()).digest()).decode()
            csp = csp.replace("style-src 'self'", f"style-src 'self' 'sha256-{digest}'")
        if self.logo_url is not None:
            parts = urlsplit(self.logo_url)
            csp += f"; img-src {parts.scheme}://{parts.netloc}"
        if csp == CSP:
            return PAGE_HEADERS
        return (("Content-Security-Policy", csp), *PAGE_HEADERS[1:])


def _luminance(colour: str) -> float:
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@cache
def stylesheet(name: str = STYLESHEET) -> tuple[bytes, str]:
    """A stylesheet of `static/` and a short hash of it, used to version its URL."""
    css = resources.files("commpref.web").joinpath("static", name).read_bytes()
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
    env.filters["ms"] = format_ms
    translations = i18n.Translations(language)
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the i18n extension
        translations.gettext, translations.ngettext, newstyle=True
    )
    return env


def format_ms(at: int) -> str:
    """An epoch-milliseconds time as the console shows it (UTC, to the second)."""
    return datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def page(template: str, language: str, **values: Any) -> str:
    """Render one preference page in `language` (a shipped catalog's code)."""
    _, version = stylesheet()
    return html(template, language, css=f"static/{STYLESHEET}?v={version}", **values)


def html(template: str, language: str, **values: Any) -> str:
    """Render one template in `language`; `values` include the stylesheet's URL (`css`)."""
    return environment(language).get_template(template).render(lang=language, **values)
