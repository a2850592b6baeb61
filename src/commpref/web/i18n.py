"""The pages' own strings: English in the templates, other languages in `translations/`.

Each `translations/<code>.json` maps an English message id (as written in a template's
`_()` call) to its translation. A missing entry falls back to English; a unit test keeps
every catalog complete. Adding a language is adding one JSON file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources

DEFAULT = "en"


@cache
def catalogs() -> dict[str, dict[str, str]]:
    """Every shipped catalog by language code; English is the identity."""
    found: dict[str, dict[str, str]] = {DEFAULT: {}}
    for entry in resources.files("commpref.web").joinpath("translations").iterdir():
        if entry.name.endswith(".json"):
            found[entry.name.removesuffix(".json")] = json.loads(entry.read_text("utf-8"))
    return found


def supported(code: str | None) -> str | None:
    """The shipped language matching a code (`de-AT` → `de`), or None."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-")
    known = catalogs()
    if code in known:
        return code
    primary = code.split("-")[0]
    return primary if primary in known else None


def choose(candidates: Iterable[str | None]) -> str:
    """The first candidate the pages speak, else English."""
    for code in candidates:
        found = supported(code)
        if found is not None:
            return found
    return DEFAULT


def accept_language(header: str | None) -> list[str]:
    """Languages of an `Accept-Language` header, best first (q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        code, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if code and code != "*" and q > 0:
            ranked.append((-q, index, code))
    return [code for _, _, code in sorted(ranked)]


class Translations:
    """gettext/ngettext over one catalog, for Jinja's i18n extension."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.messages = catalogs().get(language, {})

    def gettext(self, message: str) -> str:
        return self.messages.get(message) or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)
