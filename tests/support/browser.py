"""Debian's Chromium driven by Playwright, for the page and console tests: one browser
context per test module, JavaScript off (the pages work without it), and the tabs a test
opens in it, recorded."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import urljoin

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from tests.support.server import Server

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a helper that calls asyncio.run: Playwright's sync API keeps a loop running here."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def chromium(profile: Path, **options: Any) -> Iterator[BrowserContext]:
    """A persistent headless Chromium context (fails in CI, skips elsewhere, without it)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs chromium")
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            java_script_enabled=False,
            viewport={"width": 960, "height": 760},
            locale="en-US",
            color_scheme="light",
            **options,
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class Recorder:
    """Tabs of one browser context on `server`, each with every request it made and every
    error its console logged, and their screenshots (in `shots`; with UPDATE_SCREENSHOTS=1 the
    SQLite run also copies them to docs/screenshots/)."""

    header: ClassVar[str]  # the pages' banner, styled only when the stylesheet passed the CSP
    prefix: ClassVar[str] = ""  # of the screenshots' names

    server: Server
    browser: BrowserContext
    shots: Path
    requests: dict[Page, list[str]] = field(default_factory=dict, kw_only=True)
    problems: dict[Page, list[str]] = field(default_factory=dict, kw_only=True)

    def open(self, link: str, *, phone: bool = False) -> Page:
        """A new tab on `link` (a path is the server's)."""
        page = self.browser.new_page()
        if phone:
            page.set_viewport_size({"width": 390, "height": 844})
        self.requests[page] = []
        self.problems[page] = []
        page.on("request", lambda request: self.requests[page].append(request.url))
        page.on(
            "console", lambda m: self.problems[page].append(m.text) if m.type == "error" else None
        )
        page.goto(urljoin(self.server.base_url, link))
        return page

    def shot(self, page: Page, name: str) -> None:
        path = self.shots / f"{self.prefix}{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("UPDATE_SCREENSHOTS") and self.server.database_url.startswith("sqlite"):
            DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SHOTS / path.name)

    def check_clean(self, page: Page, *, status: int = 200) -> None:
        """Styled (the stylesheet passed the CSP), nothing loaded from elsewhere, no console
        errors (but the one an error page's own status causes)."""
        expect(page.locator(self.header)).to_have_css("background-color", "rgb(17, 24, 39)")
        base = self.server.base_url + "/"
        assert [r for r in self.requests[page] if not r.startswith(base)] == []
        expected = [] if status == 200 else [f"the server responded with a status of {status}"]
        problems = [p.split(": ", 1)[-1].split(" (")[0] for p in self.problems[page]]
        assert problems == expected, "\n".join(self.problems[page] + self.requests[page])


def focus_order(page: Page, presses: int) -> list[str]:
    """What the keyboard's focus lands on, Tab after Tab: each element's label, else its text."""
    names = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        names.append(
            page.evaluate(
                "document.activeElement.labels?.[0]?.textContent"
                " ?? document.activeElement.textContent"
            )
        )
    return [str(n).strip() for n in names]
