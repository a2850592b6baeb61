"""The console in a real headless Chromium (Debian's, driven by Playwright), JavaScript off:
an operator signs in with what `commpref demo` would print, uses every page, and signs out;
what the pages change is read back through the API.

Each page is screenshotted; with UPDATE_SCREENSHOTS=1 the SQLite run also copies them to
docs/screenshots/ (the console's in docs/console.md and the README).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from commpref.services import admin
from tests.e2e.http_helpers import url
from tests.support.browser import Recorder, chromium, focus_order, off_loop
from tests.support.console import PASSWORD, new_user
from tests.support.server import Portal, Server, until

WEEKLY = "Weekly roast notes"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    yield from chromium(tmp_path_factory.mktemp("chromium-profile"))


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver that fails until told to accept."""

    accept = False
    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        Receiver.received.append(body)
        self.send_response(200 if Receiver.accept else 500)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.accept, Receiver.received = False, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    httpd.shutdown()
    httpd.server_close()


@dataclass
class Console(Recorder):
    """A portal of its own, its owner's address, its API client, and the browser's tabs."""

    header: ClassVar[str] = "header.top"
    prefix: ClassVar[str] = "console-"

    portal: Portal
    api: httpx.Client
    email: str

    def sign_in(self, page: Page) -> None:
        page.get_by_label("Email address").fill(self.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

    def statuses(self, email: str) -> dict[int, str]:
        r = self.api.get(url("v4", f"statuses/{email}?channel=EMAIL"))
        assert r.status_code == 200, r.text
        return {x["subscriptionId"]: x["status"] for x in r.json()["results"]}


@pytest.fixture
def site(server: Server, browser: BrowserContext, tmp_path: Path) -> Iterator[Console]:
    portal = off_loop(server.new_portal, name="Northwind Coffee")
    off_loop(
        server.admin, admin.create_definition, portal_id=portal.id, name=WEEKLY,
        description="Tasting notes and brewing tips for the beans of the week.",
    )  # fmt: skip
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    off_loop(new_user, server, email, "owner", [portal.id])
    with server.client(portal.token) as api:
        yield Console(server, browser, tmp_path, portal, api, email)
    browser.clear_cookies()


def test_an_operator_signs_in_finds_a_contact_changes_it_and_signs_out(site: Console) -> None:
    customer = "jane.doe@example.com"
    r = site.api.post(
        url("v4", f"statuses/{customer}?channel=EMAIL"),
        json={"channel": "EMAIL", "statusState": "SUBSCRIBED",
              "subscriptionId": site.portal.definitions[0]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    page = site.open("/console/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    site.check_clean(page)
    site.shot(page, "sign-in")
    site.sign_in(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    rows = page.locator("table").first.locator("tbody tr")
    expect(rows.filter(has_text="Marketing Information").locator("td").first).to_have_text("1")
    expect(page.locator(".changes")).to_contain_text(customer)
    site.check_clean(page)
    site.shot(page, "overview")

    page.get_by_role("link", name="Contacts").click()
    page.get_by_label("Address, or its beginning").fill("jane")
    page.get_by_role("button", name="Find").click()
    site.shot(page, "contacts")
    page.get_by_role("link", name=customer).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(customer)
    page.get_by_label("Type", exact=True).select_option(label="Marketing Information")
    page.get_by_label("Status", exact=True).select_option("UNSUBSCRIBED")
    page.get_by_role("button", name="Save the status").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator(".timeline li").first).to_contain_text(site.email)
    site.check_clean(page)
    site.shot(page, "contact")
    assert site.statuses(customer)[site.portal.definitions[0]] == "UNSUBSCRIBED"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.goto(site.server.base_url + "/console/contacts")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_an_import_is_uploaded_and_watched_until_it_finishes(site: Console, tmp_path: Path) -> None:
    first = site.portal.definitions[0]
    lines = ["email,subscription_id,status"]
    lines += [f"bulk{n}@example.com,{first},SUBSCRIBED" for n in range(50)]
    lines += ["not-an-address,1,SUBSCRIBED"]
    file = tmp_path / "newsletter.csv"
    file.write_text("\n".join(lines) + "\n")
    page = site.open("/console/imports")
    site.sign_in(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Imports and exports")
    page.get_by_label("File", exact=True).set_input_files(str(file))
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("newsletter.csv")
    # The page refreshes itself (no script) until the job is done.
    state = page.locator(".job-state")
    expect(state).to_have_attribute("data-state", "COMPLETE", timeout=30_000)
    expect(state).to_have_text("Complete")
    expect(page.locator("dl.pairs")).to_contain_text("50")
    site.check_clean(page)
    site.shot(page, "import")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rows not applied (CSV)").click()
    report = Path(download.value.path()).read_text()
    assert "not-an-address" in report and "REJECTED" in report
    assert site.statuses("bulk7@example.com")[first] == "SUBSCRIBED"


def test_a_failed_webhook_delivery_is_replayed(site: Console, receiver: str) -> None:
    page = site.open("/console/webhooks")
    site.sign_in(page)
    page.get_by_label("URL").fill(receiver)
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("heading", name="Signing secret")).to_be_visible()
    r = site.api.post(
        url("v4", "statuses/hooked@example.com/unsubscribe-all?channel=EMAIL"), json={}
    )
    assert r.status_code == 200, r.text
    until(lambda: len(Receiver.received) >= 1, "the first (refused) delivery")
    Receiver.accept = True

    def failed_once() -> bool:
        page.reload()
        return "500" in page.locator("table").inner_text()

    until(failed_once, "the delivery log shows the refusal")
    site.shot(page, "webhook")
    page.locator("input[name=delivery]").first.check()
    page.get_by_role("button", name="Send the chosen deliveries again").click()
    expect(page.get_by_role("status")).to_contain_text("sent again")

    def delivered() -> bool:
        page.reload()
        return page.locator("td.delivery-state[data-state=DELIVERED]").count() > 0

    until(delivered, "the replayed delivery arrives")
    assert len(Receiver.received) >= 2


def test_the_console_reads_well_on_a_phone_and_by_keyboard(site: Console) -> None:
    page = site.open("/console/", phone=True)
    assert focus_order(page, 5) == [
        "Skip to content",
        "commpref console",
        "Email address",
        "Password",
        "Sign in",
    ]
    site.sign_in(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    button = page.get_by_role("button", name="Sign out").bounding_box()
    assert button is not None and button["height"] >= 40
    site.shot(page, "overview-phone")


# --- the administration pages -------------------------------------------------------------------


def test_an_admin_adds_a_type_translates_it_and_previews_it_in_german(site: Console) -> None:
    page = site.open("/console/types")
    site.sign_in(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Subscription types")
    page.get_by_label("Name", exact=True).fill("Harvest reports")
    page.get_by_label("Description", exact=True).fill("Where the beans come from.")
    page.get_by_label("Purpose (optional)").fill("Marketing")
    page.get_by_role("button", name="Add the type").click()
    expect(page.get_by_role("status")).to_have_text("The type was added.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Harvest reports")

    page.get_by_label("Language code").fill("de")
    page.get_by_label("Translated name").fill("Ernteberichte")
    page.get_by_label("Translated description").fill("Woher die Bohnen kommen.")
    page.get_by_role("button", name="Save the translation").click()
    expect(page.get_by_role("status")).to_have_text("The translation was saved.")
    expect(page.locator("table")).to_contain_text("Ernteberichte")
    site.check_clean(page)
    site.shot(page, "type")
    [made] = [t for t in site.api.get("/commpref/v1/types").json()["results"]
              if t["name"] == "Harvest reports"]  # fmt: skip
    assert [(t["languageCode"], t["name"]) for t in made["translations"]] == [
        ("de", "Ernteberichte")
    ]

    page.get_by_role("link", name="Subscription types", exact=True).click()
    row = page.locator("tbody tr").filter(has_text="Harvest reports")
    expect(row).to_contain_text("de")
    expect(row.locator(".type-state")).to_have_text("active")
    site.check_clean(page)
    site.shot(page, "types")

    page.get_by_role("link", name="Harvest reports").click()
    page.get_by_role("link", name="Preview in de").click()
    # The recipient's page, in German, with the translated name and description.
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_label("Ernteberichte")).to_be_visible()
    expect(page.get_by_text("Woher die Bohnen kommen.")).to_be_visible()
    expect(page.get_by_text("preview@example.invalid")).to_be_visible()
    assert "Harvest reports" not in page.content()
    # Opening the preview changed nothing.
    history = site.api.get("/commpref/v1/subscribers/preview@example.invalid/history")
    assert history.status_code == 200 and history.json()["results"] == []


def test_an_admin_makes_a_token_and_revokes_it(site: Console) -> None:
    page = site.open("/console/tokens")
    site.sign_in(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Tokens")
    page.get_by_label("Name", exact=True).fill("Mailing tool")
    page.get_by_label("communication_preferences.read", exact=True).check()
    page.get_by_role("button", name="Create the token").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Token created: Mailing tool")
    secret = page.get_by_role("textbox", name="Secret").input_value()
    assert secret
    with site.server.client(secret) as tool:
        assert tool.get(url("v4", "definitions")).status_code == 200

    page.get_by_role("link", name="All tokens").click()
    assert secret not in page.content()  # shown once, never again
    row = page.locator("tbody tr").filter(has_text="Mailing tool")
    expect(row.locator(".token-state")).to_contain_text("active")
    row.get_by_role("button", name="Revoke the token Mailing tool").click()
    expect(page.get_by_role("status")).to_contain_text("The token was revoked")
    row = page.locator("tbody tr").filter(has_text="Mailing tool")
    expect(row.locator(".token-state")).to_contain_text("revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    site.check_clean(page)
    site.shot(page, "tokens")
    with site.server.client(secret) as tool:
        assert tool.get(url("v4", "definitions")).status_code == 401


def test_an_owner_brands_the_portal_and_adds_a_user(site: Console) -> None:
    page = site.open("/console/settings")
    site.sign_in(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")
    page.get_by_label("Brand name (optional)").fill("Northwind Roastery")
    page.get_by_label("Colour (#rrggbb, optional)").fill("#7c2d12")
    page.get_by_role("button", name="Save the settings").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    portal = site.api.get("/commpref/v1/portal").json()
    assert (portal["brandName"], portal["brandColour"]) == ("Northwind Roastery", "#7c2d12")

    page.get_by_role("button", name="Rotate the link keys").click()
    expect(page.get_by_role("status")).to_contain_text("A new key seals this portal's links")
    keys = site.api.get("/commpref/v1/portal/link-keys").json()["results"]
    sealing = page.locator(f"#link-key-{keys[0]['id']}")
    expect(sealing).to_contain_text("seals new links")
    expect(page.locator("#link-key-server")).to_contain_text("verifies older links")
    site.check_clean(page)
    site.shot(page, "settings")

    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    colleague = f"colleague-{uuid.uuid4().hex[:8]}@example.com"
    page.get_by_label("Email address").fill(colleague)
    page.get_by_label("Role", exact=True).select_option("editor")
    page.get_by_label("Password", exact=True).fill("a password for my colleague")
    page.get_by_role("button", name="Add the user").click()
    expect(page.get_by_role("status")).to_have_text("The user was added.")
    row = page.locator("tbody tr").filter(has_text=colleague)
    expect(row.locator(".user-state")).to_have_text("enabled")
    expect(row.get_by_label(f"Role of {colleague}")).to_have_value("editor")
    mine = page.locator("tbody tr").filter(has_text=site.email)
    expect(mine.get_by_role("button", name="Disable")).to_have_count(0)  # never oneself
    site.check_clean(page)
    site.shot(page, "users")


def test_an_admin_takes_mailgun_feedback_and_watches_the_sign_ups(site: Console) -> None:
    r = site.api.patch(
        "/commpref/v1/portal", json={"doubleOptIn": True, "mailFrom": "news@northwind.example"}
    )
    assert r.status_code == 200, r.text
    weekly = site.portal.definitions[0]
    for email in ("ada@example.com", "grace@example.com"):
        r = site.api.post(
            "/commpref/v1/signups",
            json={"email": email, "subscriptionIds": [weekly], "source": "Shop footer"},
        )
        assert r.status_code == 202, r.text
    page = site.open("/console/feedback")
    site.sign_in(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mail feedback")
    page.get_by_label("Webhook signing key").fill("key-for-the-mailgun-webhooks")
    page.locator("section:has(#feedback-mailgun)").get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("#provider-mailgun")).to_contain_text("configured")
    listed = site.api.get("/commpref/v1/feedback-providers").json()
    assert [p["provider"] for p in listed["results"]] == ["mailgun"]
    site.check_clean(page)
    site.shot(page, "feedback")

    page.get_by_role("link", name="Sign-ups").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-ups")
    rows = page.locator("table.signups tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("grace@example.com")
    expect(rows.first.locator(".signup-state")).to_contain_text("waiting until")
    expect(rows.first.locator(".mail-state")).to_contain_text("queued")
    site.check_clean(page)
    site.shot(page, "signups")
