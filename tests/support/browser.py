"""Debian's Chromium driven by Playwright, for the page and console tests: one browser
context per test module, JavaScript off (the pages work without it)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

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
