"""Double opt-in in a real headless Chromium (JavaScript off): the browser follows the link
from the email a real SMTP server received; the page shows the button and changes nothing,
the click confirms, and the API reads the types back as subscribed.

The confirmation page is screenshotted into the test's temporary folder; with
UPDATE_SCREENSHOTS=1 the SQLite run also copies it to docs/screenshots/confirm.png.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from commpref.services import admin
from tests.e2e.http_helpers import B, url
from tests.support.browser import DOCS_SHOTS, chromium, off_loop
from tests.support.server import Server, until
from tests.support.smtp import SmtpServer

EMAIL = "jane.doe@example.com"
HREF = re.compile(r'href="([^"]+/hs/manage-preferences/confirm\?t=[^"]+)"')


@pytest.fixture(scope="module")
def server(mailing_server: Server) -> Server:
    return mailing_server


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    yield from chromium(tmp_path_factory.mktemp("chromium-profile"))


def test_follow_the_emailed_link_and_confirm(
    server: Server, smtp: SmtpServer, browser: BrowserContext, tmp_path: Path
) -> None:
    smtp.messages.clear()
    portal = off_loop(server.new_portal, name="Northwind Coffee", double_opt_in=True,
                      mail_from="hello@northwind.example")  # fmt: skip
    create = admin.create_definition
    weekly = off_loop(
        server.admin, create, portal_id=portal.id, name="Weekly roast notes",
        description="Tasting notes and brewing tips for the beans of the week.",
    )  # fmt: skip
    events = off_loop(
        server.admin, create, portal_id=portal.id, name="Events and tastings",
        description="Invitations to cuppings and open days near you.",
    )  # fmt: skip
    with server.client(portal.token) as api:
        body = {"email": EMAIL, "subscriptionIds": [weekly.id, events.id], "source": "Shop"}
        r = api.post("/commpref/v1/signups", json=body)
        assert r.status_code == 202, r.text
        until(lambda: bool(smtp.messages), "the confirmation email")
        html = smtp.messages[0].message.get_body(preferencelist=("html",)).get_content()
        link = HREF.search(html)
        assert link is not None, html
        target = link.group(1).replace("&amp;", "&")

        page = browser.new_page()
        page.goto(target)
        expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
        expect(page.locator("main")).to_contain_text("Weekly roast notes")
        expect(page.locator("main")).to_contain_text("Events and tastings")
        button = page.get_by_role("button", name="Confirm subscription")
        expect(button).to_be_visible()
        shot = tmp_path / "confirm.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("UPDATE_SCREENSHOTS") and server.database_url.startswith("sqlite"):
            DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, DOCS_SHOTS / "confirm.png")

        def statuses() -> dict[int, str]:
            got = api.get(url(B, f"statuses/{EMAIL}"), params={"channel": "EMAIL"}).json()
            return {int(x["subscriptionId"]): x["status"] for x in got["results"]}

        assert set(statuses().values()) == {"NOT_SPECIFIED"}  # opening changed nothing
        button.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your subscription is confirmed")
        now = statuses()
        assert (now[weekly.id], now[events.id]) == ("SUBSCRIBED", "SUBSCRIBED")
        assert {s for i, s in now.items() if i not in (weekly.id, events.id)} == {"NOT_SPECIFIED"}
        page.goto(target)  # again: already confirmed, no button
        expect(page.get_by_role("heading", level=1)).to_have_text("Already confirmed")
        expect(page.get_by_role("button")).to_have_count(0)
        page.close()
