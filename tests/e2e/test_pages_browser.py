"""The preference pages in a real headless Chromium (Debian's, driven by Playwright) with
JavaScript turned off: links from `links/generate`, forms submitted by the browser, results
read back through the API.

Each page is screenshotted into the test's temporary folder; with UPDATE_SCREENSHOTS=1 the
SQLite run also copies them to docs/screenshots/ (the committed ones in the README).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect

from commpref.services import admin
from commpref.services.context import now_ms
from tests.e2e.http_helpers import B, url
from tests.support.browser import Recorder, chromium, focus_order, off_loop
from tests.support.server import Portal, Server

EMAIL = "jane.doe@example.com"
WEEKLY = ("Weekly roast notes", "Tasting notes and brewing tips for the beans of the week.")
EVENTS = ("Events and tastings", "Invitations to cuppings and open days near you.")
WEEKLY_DE = (
    "Wöchentliche Röstnotizen",
    "Verkostungsnotizen und Brühtipps zu den Bohnen der Woche.",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    yield from chromium(tmp_path_factory.mktemp("chromium-profile"))


@dataclass
class Site(Recorder):
    """A portal dressed for the screenshots, its API client and the browser's tabs."""

    header: ClassVar[str] = "header.masthead"

    portal: Portal
    api: httpx.Client
    weekly: int
    events: int

    def links(self, email: str = EMAIL, **body: Any) -> dict[str, str]:
        r = self.api.post(
            url(B, "links/generate"),
            params={"channel": "EMAIL"},
            json={"subscriberIdString": email, **body},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    def statuses(self, email: str = EMAIL) -> dict[int, tuple[str, str]]:
        r = self.api.get(url(B, f"statuses/{email}"), params={"channel": "EMAIL"})
        assert r.status_code == 200, r.text
        return {x["subscriptionId"]: (x["status"], x["source"]) for x in r.json()["results"]}

    def wide(self, email: str = EMAIL) -> list[str]:
        r = self.api.get(url(B, f"statuses/{email}/unsubscribe-all"), params={"channel": "EMAIL"})
        assert r.status_code == 200, r.text
        return [x["status"] for x in r.json()["results"]]


@pytest.fixture
def site(server: Server, browser: BrowserContext, tmp_path: Path) -> Iterator[Site]:
    portal = off_loop(server.new_portal, name="Northwind Coffee")
    create = admin.create_definition
    weekly = off_loop(
        server.admin, create, portal_id=portal.id, name=WEEKLY[0], description=WEEKLY[1]
    )
    events = off_loop(
        server.admin, create, portal_id=portal.id, name=EVENTS[0], description=EVENTS[1]
    )
    with server.client(portal.token) as api:
        yield Site(server, browser, tmp_path, portal, api, weekly.id, events.id)


def test_untick_a_type_save_and_the_api_reports_it_unsubscribed(site: Site) -> None:
    links = site.links()
    page = site.open(links["managePreferencesUrl"])
    expect(page).to_have_title("Email preferences · Northwind Coffee")
    expect(page.get_by_role("heading", level=1)).to_have_text("Email preferences")
    expect(page.locator("main")).to_contain_text(
        f"Choose which emails Northwind Coffee sends to {EMAIL}."
    )
    boxes = page.get_by_role("checkbox")
    expect(boxes).to_have_count(6)  # five types and "unsubscribe from all"
    weekly = page.get_by_role("checkbox", name=WEEKLY[0])  # labelled by the type's name
    expect(weekly).to_be_checked()  # NOT_SPECIFIED is sent outside GDPR portals
    expect(page.get_by_role("checkbox", name="Unsubscribe me from all emails")).not_to_be_checked()
    site.check_clean(page)
    site.shot(page, "manage")
    assert site.statuses()[site.weekly] == ("NOT_SPECIFIED", "Not specified")  # GET: no change

    weekly.uncheck()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your preferences have been saved")
    summary = page.locator("ul.summary li", has_text=WEEKLY[0])
    expect(summary).to_contain_text("Unsubscribed")
    expect(page.locator("ul.summary li", has_text=EVENTS[0])).to_contain_text("Subscribed")
    site.check_clean(page)
    site.shot(page, "saved")

    statuses = site.statuses()
    assert statuses[site.weekly] == ("UNSUBSCRIBED", "Self Service Unsubscription")
    assert statuses[site.events] == ("NOT_SPECIFIED", "Not specified")
    assert site.wide() == []

    # Ticking it again brings it back through the same resubscribe rule as the API.
    page.get_by_role("link", name="Change your preferences").click()
    page.get_by_role("checkbox", name=WEEKLY[0]).check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.locator("ul.summary li", has_text=WEEKLY[0])).to_contain_text("Subscribed")
    assert site.statuses()[site.weekly] == ("SUBSCRIBED", "Self Service Resubscription")


def test_keyboard_focus_follows_the_form_in_reading_order(site: Site) -> None:
    page = site.open(site.links()["managePreferencesUrl"])
    assert focus_order(page, 7) == [
        "Marketing Information",
        "Customer Service Communication",
        "One to One",
        WEEKLY[0],
        EVENTS[0],
        "Unsubscribe me from all emails",
        "Save preferences",
    ]


def test_the_manage_page_reads_well_on_a_phone(site: Site) -> None:
    page = site.open(site.links()["managePreferencesUrl"], phone=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling
    button = page.get_by_role("button", name="Save preferences").bounding_box()
    assert button is not None and button["height"] >= 44 and button["width"] > 300
    site.check_clean(page)
    site.shot(page, "manage-phone")


def test_unsubscribe_from_all_after_confirming_and_the_api_reports_the_opt_out(
    site: Site,
) -> None:
    links = site.links()
    page = site.open(links["unsubscribeAllUrl"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe from all emails?")
    expect(page.locator("main")).to_contain_text(
        f"{EMAIL} will no longer receive any emails from Northwind Coffee."
    )
    site.check_clean(page)
    site.shot(page, "unsubscribe-all")
    assert site.wide() == []  # the GET changed nothing

    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You have been unsubscribed")
    site.check_clean(page)
    site.shot(page, "unsubscribed")
    assert site.wide() == ["UNSUBSCRIBED"]
    assert {s for s, _ in site.statuses().values()} == {"UNSUBSCRIBED"}
    assert {src for _, src in site.statuses().values()} == {"Self Service Unsubscription"}

    # The manage page now says so, and ticking one type lifts the opt-out for it alone.
    page.get_by_role("link", name="Change your preferences").click()
    expect(page.get_by_role("status")).to_contain_text(
        "You are unsubscribed from all emails from Northwind Coffee."
    )
    for box in page.get_by_role("checkbox").all():
        expect(box).not_to_be_checked()
    site.shot(page, "manage-opted-out")
    page.get_by_role("checkbox", name=EVENTS[0]).check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.locator("ul.summary li", has_text=EVENTS[0])).to_contain_text("Subscribed")
    assert site.wide() == ["SUBSCRIBED"]
    statuses = site.statuses()
    assert statuses[site.events] == ("SUBSCRIBED", "Self Service Resubscription")
    assert statuses[site.weekly] == ("UNSUBSCRIBED", "Self Service Unsubscription")


def test_unsubscribe_from_one_type(site: Site) -> None:
    links = site.links(subscriptionId=site.weekly)
    page = site.open(links["unsubscribeSingleUrl"])
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Unsubscribe from {WEEKLY[0]}?")
    expect(page.locator("main")).to_contain_text(WEEKLY[1])
    site.check_clean(page)
    site.shot(page, "unsubscribe-single")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("main")).to_contain_text(
        f"{EMAIL} will no longer receive {WEEKLY[0]} emails from Northwind Coffee."
    )
    statuses = site.statuses()
    assert statuses[site.weekly] == ("UNSUBSCRIBED", "Self Service Unsubscription")
    assert statuses[site.events][0] == "NOT_SPECIFIED"
    assert site.wide() == []


def test_the_page_in_german_with_translated_types(site: Site) -> None:
    store_now = now_ms()
    off_loop(
        site.server.admin,
        lambda store: store.set_translation(
            definition_id=site.weekly,
            language_code="de",
            name=WEEKLY_DE[0],
            description=WEEKLY_DE[1],
            now=store_now,
        ),
    )
    links = site.links(language="de")
    assert "languagePreference=de" in links["managePreferencesUrl"]
    page = site.open(links["managePreferencesUrl"])
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text("E-Mail-Einstellungen")
    weekly = page.get_by_role("checkbox", name=WEEKLY_DE[0])
    expect(weekly).to_be_checked()
    expect(page.locator("main")).to_contain_text(WEEKLY_DE[1])
    # A type without a German translation keeps its own name, marked as not German.
    expect(page.get_by_text(EVENTS[0], exact=True)).to_have_attribute("lang", "en")
    site.check_clean(page)
    site.shot(page, "manage-de")

    weekly.uncheck()
    page.get_by_role("button", name="Einstellungen speichern").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Ihre Einstellungen wurden gespeichert"
    )
    expect(page.locator("ul.summary li", has_text=WEEKLY_DE[0])).to_contain_text("Abbestellt")
    assert site.statuses()[site.weekly][0] == "UNSUBSCRIBED"


def test_a_regional_tag_opens_the_pages_in_its_language_without_translations(
    site: Site,
) -> None:
    links = site.links(language="fr-CA")
    assert "languagePreference=fr&" in links["unsubscribeAllUrl"]
    page = site.open(links["unsubscribeAllUrl"])
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_role("button").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert site.wide() == ["UNSUBSCRIBED"]
    site.check_clean(page)


def test_a_damaged_link_shows_a_friendly_page(site: Site) -> None:
    link = site.links()["managePreferencesUrl"]
    page = site.open(link[:-12])  # an email program cut the link short
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    site.check_clean(page, status=400)
    site.shot(page, "error")
