"""The console's administration pages over real HTTP, on both backends: subscription types
and their translations (and the preview of the preference page), business units, tokens,
the portal's settings and the users page. What each role may do, what the pages change
(read back through `/commpref/v1` and the HubSpot API), another portal's ids, forms
without their token, and hostile input."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

import httpx

from commpref.domain import scopes
from tests.e2e.http_helpers import url
from tests.support.console import (
    HOSTILE,
    PASSWORD,
    Operator,
    Operators,
    Staff,
    assert_refused_or_escaped,
    csrf,
    sign_in,
    unique,
)
from tests.support.server import Portal, Server

V1 = "/commpref/v1"
_SECRET = re.compile(r'id="token-secret" readonly value="([^"]+)"')
_PREVIEW = re.compile(r'<a href="([^"]+)" rel="noreferrer" hreflang="([^"]+)">')


def api(server: Server, portal: Portal, path: str, token: str | None = None) -> httpx.Response:
    with server.client(token or portal.token) as c:
        return c.get(path)


def ok(server: Server, portal: Portal, path: str) -> Any:
    answer = api(server, portal, path)
    assert answer.status_code == 200, answer.text
    return answer.json()


def types(server: Server, portal: Portal) -> dict[str, dict[str, Any]]:
    """The portal's types by name, archived ones and translations included."""
    return {t["name"]: t for t in ok(server, portal, f"{V1}/types")["results"]}


def page(portal: Portal, path: str) -> str:
    return f"/console{path}?portal={portal.id}"


def made_type(op: Operator, portal: Portal, name: str, **fields: str) -> int:
    answer = op.post(page(portal, "/types"), {"name": name, "description": "About it", **fields})
    assert answer.status_code == 303, answer.text
    found = re.search(r"/console/types/(\d+)\?", answer.headers["location"])
    assert found is not None
    return int(found.group(1))


# --- subscription types -------------------------------------------------------------------------


def test_a_viewer_and_an_editor_read_the_types_but_change_nothing(
    server: Server, staff: Staff, portal: Portal
) -> None:
    first = portal.definitions[0]
    before = types(server, portal)
    for role in ("viewer", "editor"):
        op = staff(role)
        listed = op.page(page(portal, "/types"))
        assert listed.status_code == 200
        assert "Marketing Information" in listed.text
        assert "Add a subscription type" not in listed.text  # no form to fill
        one = op.page(page(portal, f"/types/{first}"))
        assert one.status_code == 200
        assert "Save the type" not in one.text and "Archive the type" not in one.text
        assert "Preview in en" in one.text  # a preview is no change
        for target, form in (
            (page(portal, "/types"), {"name": "Sneaky", "description": "x"}),
            (page(portal, f"/types/{first}"), {"action": "save", "name": "Renamed"}),
            (page(portal, f"/types/{first}"), {"action": "archive"}),
            (page(portal, f"/types/{first}"),
             {"action": "translate", "language_code": "de", "translation_name": "X"}),
        ):  # fmt: skip
            answer = op.post(target, form, from_page=page(portal, "/types"))
            assert answer.status_code == 403, (role, form)
            assert "needs the admin role" in answer.text
    assert types(server, portal) == before


def test_an_admin_creates_edits_archives_and_restores_a_type(
    server: Server, staff: Staff, portal: Portal
) -> None:
    op = staff("admin")
    new = made_type(op, portal, "Roast notes", purpose="Tasting", communication_method="Email")
    shown = op.page(page(portal, f"/types/{new}") + "&done=created")  # where it was sent
    assert "The type was added." in shown.text and "Tasting" in shown.text
    # The HubSpot API lists it at once.
    with server.client(portal.token) as c:
        listed = c.get(url("v4", "definitions")).json()["results"]
    assert {d["name"]: d["purpose"] for d in listed}["Roast notes"] == "Tasting"

    target = page(portal, f"/types/{new}")
    saved = op.post(
        target,
        {"action": "save", "name": "Roast notes weekly", "description": "Every Friday",
         "purpose": "Marketing", "communication_method": "Newsletter"},
    )  # fmt: skip
    assert saved.status_code == 303
    t = types(server, portal)["Roast notes weekly"]
    assert (t["description"], t["purpose"], t["communicationMethod"]) == (
        "Every Friday", "Marketing", "Newsletter",
    )  # fmt: skip

    assert op.post(target, {"action": "archive"}).status_code == 303
    assert types(server, portal)["Roast notes weekly"]["isActive"] is False
    assert "archived" in op.page(page(portal, "/types")).text
    assert op.post(target, {"action": "restore"}).status_code == 303
    assert types(server, portal)["Roast notes weekly"]["isActive"] is True

    # The rules are the service's: a name taken in the unit, a blank name.
    taken = op.post(target, {"action": "save", "name": "marketing information"})
    assert taken.status_code == 400
    assert "already exists" in taken.text
    assert 'value="marketing information"' in taken.text  # what was typed stays
    blank = op.post(page(portal, "/types"), {"name": "  ", "description": "x"})
    assert blank.status_code == 400 and "must not be blank" in blank.text
    unknown_unit = op.post(page(portal, "/types"), {"name": "Elsewhere", "business_unit": "77"})
    assert (
        unknown_unit.status_code == 400 and "Business unit 77 does not exist" in unknown_unit.text
    )
    assert "Elsewhere" not in types(server, portal)


def test_a_translation_shows_on_the_preview_of_the_preference_page(
    server: Server, staff: Staff, portal: Portal
) -> None:
    op = staff("admin")
    new = made_type(op, portal, "Roast notes")
    target = page(portal, f"/types/{new}")
    added = op.post(
        target,
        {"action": "translate", "language_code": "de-DE", "translation_name": "Röstnotizen",
         "translation_description": "Jeden Freitag"},
    )  # fmt: skip
    assert added.status_code == 303
    [translation] = types(server, portal)["Roast notes"]["translations"]
    assert (translation["languageCode"], translation["name"]) == ("de-de", "Röstnotizen")

    shown = op.page(target).text
    previews = {lang: html.unescape(href) for href, lang in _PREVIEW.findall(shown)}
    assert set(previews) == {"en", "de-de"}
    assert "preview@example.invalid" in shown
    with httpx.Client(timeout=30) as recipient:
        german = recipient.get(previews["de-de"])
        english = recipient.get(previews["en"])
    assert german.status_code == 200 and english.status_code == 200
    assert "Röstnotizen" in german.text and "Jeden Freitag" in german.text
    assert "Roast notes" in english.text and "Röstnotizen" not in english.text
    # Opening the preview changed nothing: the preview address is still unknown.
    with server.client(portal.token) as c:
        history = c.get(f"{V1}/subscribers/preview@example.invalid/history")
    assert history.status_code == 200 and history.json()["results"] == []

    replaced = op.post(
        target,
        {"action": "translate", "language_code": "de-de", "translation_name": "Röstbriefe",
         "translation_description": ""},
    )  # fmt: skip
    assert replaced.status_code == 303
    [translation] = types(server, portal)["Roast notes"]["translations"]
    assert translation["name"] == "Röstbriefe"
    bad = op.post(target, {"action": "translate", "language_code": "german!",
                           "translation_name": "X"})  # fmt: skip
    assert bad.status_code == 400 and "Invalid languageCode" in bad.text
    gone = op.post(target, {"action": "untranslate", "language_code": "de-de"})
    assert gone.status_code == 303
    assert types(server, portal)["Roast notes"]["translations"] == []
    again = op.post(target, {"action": "untranslate", "language_code": "de-de"})
    assert again.status_code == 404 and "has no translation in de-de" in again.text


# --- business units -----------------------------------------------------------------------------


def test_business_units_are_listed_added_and_renamed_by_an_admin_only(
    server: Server, staff: Staff, portal: Portal
) -> None:
    def units() -> dict[int, str]:
        found = ok(server, portal, f"{V1}/business-units")["results"]
        return {u["id"]: u["name"] for u in found}

    viewer, admin = staff("viewer"), staff("admin")
    target = page(portal, "/business-units")
    assert viewer.page(target).status_code == 200
    before = units()
    for form in ({"action": "create", "id": "7", "name": "Roastery"},
                 {"action": "rename", "id": "0", "name": "Renamed"}):  # fmt: skip
        assert viewer.post(target, form).status_code == 403
    assert units() == before
    assert (
        admin.post(target, {"action": "create", "id": "7", "name": "Roastery"}).status_code == 303
    )
    assert admin.post(target, {"action": "rename", "id": "7", "name": "Café"}).status_code == 303
    assert units()[7] == "Café"
    assert "Café" in viewer.page(target).text
    taken = admin.post(target, {"action": "create", "id": "7", "name": "Again"})
    assert taken.status_code == 400 and "already exists" in taken.text
    for bad_id in ("abc", "-1", "99999999999999999999"):
        answer = admin.post(target, {"action": "create", "id": bad_id, "name": "X"})
        assert answer.status_code == 400, bad_id
    missing = admin.post(target, {"action": "rename", "id": "123", "name": "X"})
    assert missing.status_code == 404
    assert set(units()) == {0, 7}
    # A type can be put in the new unit.
    new = made_type(admin, portal, "Café news", business_unit="7")
    assert types(server, portal)["Café news"]["businessUnitId"] == 7
    assert "Café" in admin.page(page(portal, f"/types/{new}")).text


def test_a_business_units_double_opt_in_is_set_by_an_admin_only(
    server: Server, staff: Staff, portal: Portal
) -> None:
    def own() -> bool | None:
        found = ok(server, portal, f"{V1}/business-units")["results"]
        return {u["id"]: u["doubleOptIn"] for u in found}[0]

    viewer, admin = staff("viewer"), staff("admin")
    target = page(portal, "/business-units")
    shown = viewer.page(target).text
    assert "the portal's setting (off)" in shown and 'name="double_opt_in"' not in shown
    form = {"action": "double_opt_in", "id": "0", "double_opt_in": "on"}
    assert viewer.post(target, form).status_code == 403
    assert own() is None
    done = admin.post(target, form)
    assert done.status_code == 303 and "done=double_opt_in" in done.headers["location"]
    assert own() is True
    assert 'value="on" selected' in admin.page(target).text
    assert admin.post(target, {**form, "double_opt_in": "off"}).status_code == 303
    assert own() is False
    for bad in ("yes", "", "<b>on</b>"):
        refused = admin.post(target, {**form, "double_opt_in": bad})
        assert refused.status_code == 400 and "Choose the portal" in refused.text, bad
    assert own() is False
    assert admin.post(target, {**form, "id": "55"}).status_code == 404
    assert admin.post(target, {**form, "double_opt_in": "portal"}).status_code == 303
    assert own() is None


# --- tokens -------------------------------------------------------------------------------------


def test_an_admin_makes_a_token_sees_its_secret_once_and_revokes_it(
    server: Server, staff: Staff, portal: Portal
) -> None:
    op = staff("admin")
    target = page(portal, "/tokens")
    made = op.post(target, {"name": "Newsletter tool", "scope": [scopes.READ, scopes.TYPES_READ]})
    assert made.status_code == 201, made.text
    found = _SECRET.search(made.text)
    assert found is not None
    secret = found.group(1)
    assert "shown only this once" in made.text
    assert api(server, portal, url("v4", "definitions"), secret).status_code == 200
    assert api(server, portal, f"{V1}/types", secret).status_code == 200
    assert api(server, portal, f"{V1}/tokens", secret).status_code == 403  # not granted
    [info] = [
        t for t in ok(server, portal, f"{V1}/tokens")["results"] if t["name"] == "Newsletter tool"
    ]
    assert info["scopes"] == sorted([scopes.READ, scopes.TYPES_READ])
    assert info["revokedAt"] is None and info["expiresAt"] is None
    listed = op.page(target).text
    assert secret not in listed and "Newsletter tool" in listed
    assert scopes.TYPES_READ in listed

    revoked = op.post(f"/console/tokens/{info['id']}?portal={portal.id}", {"action": "revoke"},
                      from_page=target)  # fmt: skip
    assert revoked.status_code == 303
    assert api(server, portal, url("v4", "definitions"), secret).status_code == 401
    again = op.page(revoked.headers["location"]).text
    assert "The token was revoked" in again
    row = again[again.index(f'id="token-{info["id"]}"') :]
    assert "revoked" in row[: row.index("</tr>")]


def test_a_token_with_an_expiry_and_tokens_the_rules_refuse(
    server: Server, staff: Staff, portal: Portal
) -> None:
    op = staff("admin")
    target = page(portal, "/tokens")
    made = op.post(target, {"name": "Short-lived", "scope": scopes.READ, "expires": "2999-01-31"})
    assert made.status_code == 201
    [info] = [t for t in ok(server, portal, f"{V1}/tokens")["results"]
              if t["name"] == "Short-lived"]  # fmt: skip
    assert info["expiresAt"].startswith("2999-01-31T00:00:00")
    count = len(ok(server, portal, f"{V1}/tokens")["results"])
    for form, message in (
        ({"name": "None", "expires": ""}, "at least one scope"),
        ({"name": "Odd", "scope": "not.a.scope"}, "Unknown scope"),
        ({"name": "Past", "scope": scopes.READ, "expires": "2001-01-01"}, "in the future"),
        ({"name": "Odd date", "scope": scopes.READ, "expires": "31.01.2030"}, "a date such as"),
        ({"name": " ", "scope": scopes.READ}, "must not be blank"),
    ):
        answer = op.post(target, form)
        assert answer.status_code == 400, form
        assert message in answer.text
        assert _SECRET.search(answer.text) is None
    assert len(ok(server, portal, f"{V1}/tokens")["results"]) == count


def test_a_viewer_sees_the_tokens_but_neither_makes_nor_revokes_one(
    server: Server, staff: Staff, portal: Portal
) -> None:
    viewer = staff("viewer")
    target = page(portal, "/tokens")
    listed = viewer.page(target)
    assert listed.status_code == 200
    assert "Create a token" not in listed.text and ">Revoke<" not in listed.text
    [mine] = ok(server, portal, f"{V1}/tokens")["results"]
    assert viewer.post(target, {"name": "Mine", "scope": scopes.ADMIN}).status_code == 403
    revoke = viewer.post(f"/console/tokens/{mine['id']}?portal={portal.id}",
                         {"action": "revoke"}, from_page=target)  # fmt: skip
    assert revoke.status_code == 403
    assert len(ok(server, portal, f"{V1}/tokens")["results"]) == 1  # still works, still one


# --- the portal's settings ----------------------------------------------------------------------

SETTINGS = {
    "name": "Northwind",
    "default_language": "de",
    "rate_limit_tier": "",
    "brand_name": "Northwind Coffee",
    "brand_logo_url": "https://cdn.example.com/logo.png",
    "brand_colour": "#1D4ED8",
    "gdpr": "on",
    "batch_scopes_enabled": "on",
}


def test_an_admin_changes_the_settings_and_a_viewer_only_reads_them(
    server: Server, staff: Staff, portal: Portal
) -> None:
    viewer, admin = staff("viewer"), staff("admin")
    target = page(portal, "/settings")
    read = viewer.page(target)
    assert read.status_code == 200 and "Save the settings" not in read.text
    before = ok(server, portal, f"{V1}/portal")
    assert viewer.post(target, SETTINGS).status_code == 403
    assert ok(server, portal, f"{V1}/portal") == before

    saved = admin.post(target, {**SETTINGS, "rate_limit_tier": "professional"})
    assert saved.status_code == 303
    after = ok(server, portal, f"{V1}/portal")
    assert {k: after[k] for k in ("name", "gdpr", "brands", "defaultLanguage", "rateLimitTier",
                                  "brandName", "brandLogoUrl", "brandColour",
                                  "batchScopesEnabled")} == {
        "name": "Northwind", "gdpr": True, "brands": False, "defaultLanguage": "de",
        "rateLimitTier": "professional", "brandName": "Northwind Coffee",
        "brandLogoUrl": "https://cdn.example.com/logo.png", "brandColour": "#1d4ed8",
        "batchScopesEnabled": True,
    }  # fmt: skip
    shown = viewer.page(target).text
    assert 'value="Northwind Coffee"' in shown and "#1d4ed8" in shown
    # Empty branding removes it, and no tier turns rate limits off.
    cleared = admin.post(target, {**SETTINGS, "brand_name": "", "brand_logo_url": "",
                                  "brand_colour": ""})  # fmt: skip
    assert cleared.status_code == 303
    after = ok(server, portal, f"{V1}/portal")
    assert (after["brandName"], after["brandLogoUrl"], after["brandColour"]) == (None,) * 3
    assert after["rateLimitTier"] is None


INVALID_SETTINGS = [
    ("brand_logo_url", "http://cdn.example.com/logo.png", "brandLogoUrl is an https URL"),
    ("brand_logo_url", "javascript:alert(1)", "brandLogoUrl is an https URL"),
    ("brand_colour", "blue", "brandColour is #rrggbb"),
    ("brand_colour", "#12345", "brandColour is #rrggbb"),
    ("default_language", "Deutsch!", "Invalid defaultLanguage"),
    ("name", "", "must not be blank"),
    ("rate_limit_tier", "unlimited", "Unknown rate_limit_tier"),
]


def test_invalid_settings_re_render_the_form_with_the_message(
    server: Server, staff: Staff, portal: Portal
) -> None:
    admin = staff("admin")
    before = ok(server, portal, f"{V1}/portal")
    for field, value, message in INVALID_SETTINGS:
        answer = admin.post(page(portal, "/settings"), {**SETTINGS, field: value})
        assert answer.status_code == 400, (field, value)
        assert message in answer.text, (field, value)
        assert 'name="brand_name"' in answer.text, (field, value)  # the form, not the error page
        if value and field != "rate_limit_tier":
            # what was typed stays
            assert f'value="{html.escape(value)}"' in answer.text, (field, value)
        assert ok(server, portal, f"{V1}/portal") == before, (field, value)


# --- users --------------------------------------------------------------------------------------


def test_the_users_page_is_an_owners_only(server: Server, staff: Staff, portal: Portal) -> None:
    owner = staff("owner")
    for role in ("viewer", "editor", "admin"):
        op = staff(role)
        assert op.page(page(portal, "/users")).status_code == 403, role
        refused = op.post(
            page(portal, "/users"),
            {"email": unique("intruder"), "role": "owner", "portals": "all",
             "password": PASSWORD},
            from_page=page(portal, "/types"),
        )  # fmt: skip
        assert refused.status_code == 403
        assert "needs the owner role" in refused.text
        assert 'href="/console/users' not in op.page(page(portal, "/types")).text  # no nav entry
        change = op.post(
            f"/console/users/{owner.user.id}?portal={portal.id}",
            {"action": "role", "role": "viewer"},
            from_page=page(portal, "/types"),
        )
        assert change.status_code == 403
    listed = owner.page(page(portal, "/users"))
    assert listed.status_code == 200
    assert owner.user.email in listed.text and "intruder" not in listed.text
    assert 'href="/console/users' in owner.page(page(portal, "/types")).text


def test_an_owner_adds_a_user_and_changes_its_role_state_and_password(
    server: Server, signed_in: Operators, portal: Portal
) -> None:
    owner = signed_in("owner", [portal.id])
    target = page(portal, "/users")
    email = unique("new")
    added = owner.post(target, {"email": email.upper(), "role": "editor", "portals": "this",
                                "password": "twelve chars"})  # fmt: skip
    assert added.status_code == 303
    listed = owner.page(target).text
    assert email in listed
    with httpx.Client(base_url=server.base_url, timeout=30) as them:
        assert sign_in(them, email, "twelve chars").status_code == 303
        assert them.get(page(portal, "/contacts")).status_code == 200
    users = server.admin(lambda store: store.list_users(portal.id))
    [user] = [u for u in users if u.email == email]
    assert (user.role.label, user.portals) == ("editor", frozenset({portal.id}))

    change = f"/console/users/{user.id}?portal={portal.id}"
    assert (
        owner.post(change, {"action": "role", "role": "admin"}, from_page=target).status_code == 303
    )
    assert server.admin(lambda store: store.get_user(user.id)).role.label == "admin"
    assert owner.post(change, {"action": "disable"}, from_page=target).status_code == 303
    with httpx.Client(base_url=server.base_url, timeout=30) as them:
        assert sign_in(them, email, "twelve chars").status_code == 401
    assert owner.post(change, {"action": "enable"}, from_page=target).status_code == 303
    short = owner.post(change, {"action": "password", "password": "too short"}, from_page=target)
    assert short.status_code == 400 and "at least 12 characters" in short.text
    new_password = "a brand new password"
    answer = owner.post(change, {"action": "password", "password": new_password}, from_page=target)
    assert answer.status_code == 303
    with httpx.Client(base_url=server.base_url, timeout=30) as them:
        assert sign_in(them, email, "twelve chars").status_code == 401
        assert sign_in(them, email, new_password).status_code == 303

    # The rules: a short password, a taken address, an unknown role.
    for form, status, message in (
        ({"email": unique("short"), "role": "viewer", "portals": "this", "password": "short"},
         400, "at least 12 characters"),
        ({"email": email, "role": "viewer", "portals": "this", "password": PASSWORD},
         409, "exists"),
        ({"email": unique("odd"), "role": "superuser", "portals": "this", "password": PASSWORD},
         400, "Unknown role"),
        ({"email": "not an address", "role": "viewer", "portals": "this",
          "password": PASSWORD}, 400, "Not an email address"),
        ({"email": unique("where"), "role": "viewer", "portals": "mars", "password": PASSWORD},
         400, "Choose the portals"),
    ):  # fmt: skip
        refused = owner.post(target, form)
        assert refused.status_code == status, form
        assert message in refused.text
    emails = {u.email for u in server.admin(lambda store: store.list_users(portal.id))}
    assert not {e for e in emails if e.startswith(("short-", "odd-", "where-"))}


def test_an_owner_never_disables_or_demotes_themselves(
    server: Server, staff: Staff, signed_in: Operators, portal: Portal
) -> None:
    owner = signed_in("owner")
    target = page(portal, "/users")
    me = f"/console/users/{owner.user.id}?portal={portal.id}"
    for form, message in (
        ({"action": "disable"}, "cannot disable yourself"),
        ({"action": "role", "role": "admin"}, "cannot change your own role"),
        ({"action": "role", "role": "viewer"}, "cannot change your own role"),
    ):
        answer = owner.post(me, form, from_page=target)
        assert answer.status_code == 400, form
        assert message in answer.text
    still = server.admin(lambda store: store.get_user(owner.user.id))
    assert still.role.label == "owner" and still.disabled_at is None
    assert owner.page(target).status_code == 200
    # Another owner may.
    other = staff("owner")
    answer = other.post(me, {"action": "role", "role": "admin"}, from_page=target)
    assert answer.status_code == 303
    assert owner.page(target).status_code == 403


def test_an_owner_of_one_portal_manages_only_users_of_its_portals(
    server: Server, staff: Staff, signed_in: Operators
) -> None:
    mine, theirs = server.new_portal(name="Mine"), server.new_portal(name="Theirs")
    owner = signed_in("owner", [mine.id])
    everywhere = staff("viewer")  # sees every portal, mine too
    elsewhere = signed_in("viewer", [theirs.id])
    target = page(mine, "/users")
    listed = owner.page(target).text
    assert everywhere.user.email in listed and elsewhere.user.email not in listed
    answer = owner.post(f"/console/users/{everywhere.user.id}?portal={mine.id}",
                        {"action": "password", "password": "a password I know"},
                        from_page=target)  # fmt: skip
    assert answer.status_code == 403
    hidden = owner.post(f"/console/users/{elsewhere.user.id}?portal={mine.id}",
                        {"action": "disable"}, from_page=target)  # fmt: skip
    assert hidden.status_code == 404
    for user in (everywhere.user, elsewhere.user):
        with httpx.Client(base_url=server.base_url, timeout=30) as them:
            assert sign_in(them, user.email).status_code == 303  # nothing changed
    # "Every portal" of an owner of one portal is that portal.
    email = unique("added")
    added = owner.post(target, {"email": email, "role": "viewer", "portals": "all",
                                "password": PASSWORD})  # fmt: skip
    assert added.status_code == 303
    [user] = [u for u in server.admin(lambda store: store.list_users()) if u.email == email]
    assert user.portals == frozenset({mine.id})


# --- portals, form tokens -----------------------------------------------------------------------


def test_another_portals_types_and_tokens_are_never_visible(
    server: Server, signed_in: Operators
) -> None:
    mine, theirs = server.new_portal(name="Mine"), server.new_portal(name="Theirs")
    their_type = theirs.definitions[0]
    [their_token] = ok(server, theirs, f"{V1}/tokens")["results"]
    op = signed_in("owner", [mine.id])
    for path in ("/types", f"/types/{their_type}", "/tokens", "/settings", "/users",
                 "/business-units"):  # fmt: skip
        assert op.page(page(theirs, path)).status_code == 404, path
    assert op.page(page(mine, f"/types/{their_type}")).status_code == 404
    assert op.page(page(mine, "/types/abc")).status_code == 404
    listed = op.page(page(mine, "/tokens")).text
    assert f'id="token-{their_token["id"]}"' not in listed
    home = page(mine, "/types")
    for target, form in (
        (page(mine, f"/types/{their_type}"), {"action": "archive"}),
        (page(theirs, f"/types/{their_type}"), {"action": "archive"}),
        (f"/console/tokens/{their_token['id']}?portal={mine.id}", {"action": "revoke"}),
        (f"/console/tokens/{their_token['id']}?portal={theirs.id}", {"action": "revoke"}),
        (page(theirs, "/settings"), {**SETTINGS}),
    ):
        assert op.post(target, form, from_page=home).status_code == 404, target
    assert api(server, theirs, url("v4", "definitions")).status_code == 200  # token alive
    assert all(t["isActive"] for t in types(server, theirs).values())
    assert ok(server, theirs, f"{V1}/portal")["name"] == "Theirs"


def test_forms_without_their_token_change_nothing(
    server: Server, staff: Staff, portal: Portal
) -> None:
    op = staff("owner")
    first = portal.definitions[0]
    [token] = ok(server, portal, f"{V1}/tokens")["results"]
    before = (types(server, portal), ok(server, portal, f"{V1}/portal"))
    good = csrf(op.page(page(portal, "/types")).text)
    intruder = unique("intruder")
    for target, form in (
        (page(portal, "/types"), {"name": "Sneaky", "description": "x"}),
        (page(portal, f"/types/{first}"), {"action": "archive"}),
        (page(portal, "/business-units"), {"action": "create", "id": "5", "name": "X"}),
        (page(portal, "/tokens"), {"name": "Sneaky", "scope": scopes.ADMIN}),
        (f"/console/tokens/{token['id']}?portal={portal.id}", {"action": "revoke"}),
        (page(portal, "/settings"), SETTINGS),
        (page(portal, "/users"), {"email": intruder, "role": "owner", "portals": "all",
                                  "password": PASSWORD}),
        (f"/console/users/{op.user.id}?portal={portal.id}", {"action": "password",
                                                             "password": PASSWORD + "!"}),
    ):  # fmt: skip
        for extra, headers in (({}, {}), ({"csrf": "wrong"}, {}),
                               ({"csrf": good}, {"sec-fetch-site": "cross-site"})):  # fmt: skip
            answer = op.client.post(target, data={**form, **extra}, headers=headers)
            assert answer.status_code == 403, (target, extra, headers)
            assert "text/html" in answer.headers["content-type"]
    assert (types(server, portal), ok(server, portal, f"{V1}/portal")) == before
    assert api(server, portal, url("v4", "definitions")).status_code == 200
    assert len(ok(server, portal, f"{V1}/tokens")["results"]) == 1
    assert server.admin(lambda store: store.find_user(intruder)) is None
    with httpx.Client(base_url=server.base_url, timeout=30) as again:
        assert sign_in(again, op.user.email).status_code == 303  # the password unchanged


# --- hostile input ------------------------------------------------------------------------------


def hostile_posts(
    server: Server, op: Operator, portal: Portal, value: str
) -> tuple[int, list[tuple[str, dict[str, str]]]]:
    """A type of the portal's, and every form of the administration pages with `value` in
    one field: that type, its translations, business units, tokens, users and settings."""
    first = made_type(op, portal, "Target")
    [token] = ok(server, portal, f"{V1}/tokens")["results"]
    token_path = f"/console/tokens/{token['id']}?portal={portal.id}"
    user_path = f"/console/users/{op.user.id}?portal={portal.id}"
    posts: list[tuple[str, dict[str, str]]] = []
    for name in ("name", "description", "purpose", "communication_method", "business_unit"):
        posts.append((page(portal, "/types"), {"name": f"Hostile {name}", "description": "x",
                                               name: value}))  # fmt: skip
        if name != "business_unit":
            posts.append((page(portal, f"/types/{first}"), {"action": "save", name: value}))
    for name in ("language_code", "translation_name", "translation_description"):
        posts.append((page(portal, f"/types/{first}"), {
            "action": "translate", "language_code": "fr", "translation_name": "Nom",
            "translation_description": "", name: value,
        }))  # fmt: skip
    posts += [
        (page(portal, f"/types/{first}"), {"action": value}),
        (page(portal, f"/types/{first}"), {"action": "untranslate", "language_code": value}),
        (page(portal, "/business-units"), {"action": "create", "id": value, "name": "X"}),
        (page(portal, "/business-units"), {"action": "create", "id": "9", "name": value}),
        (page(portal, "/business-units"), {"action": "rename", "id": "0", "name": value}),
        (page(portal, "/business-units"), {"action": value, "id": "0", "name": "X"}),
        (page(portal, "/tokens"), {"name": value, "scope": scopes.READ}),
        (page(portal, "/tokens"), {"name": "T", "scope": value}),
        (page(portal, "/tokens"), {"name": "T", "scope": scopes.READ, "expires": value}),
        (token_path, {"action": value}),
        (page(portal, "/users"), {"email": value, "role": "viewer", "portals": "this",
                                  "password": PASSWORD}),
        (page(portal, "/users"), {"email": unique("h"), "role": value, "portals": "this",
                                  "password": PASSWORD}),
        (page(portal, "/users"), {"email": unique("h"), "role": "viewer", "portals": value,
                                  "password": PASSWORD}),
        (user_path, {"action": value}),
        (user_path, {"action": "role", "role": value}),
    ]  # fmt: skip
    for name in SETTINGS:
        posts.append((page(portal, "/settings"), {**SETTINGS, name: value}))
    return first, posts


def test_hostile_input_in_every_field_is_refused_or_escaped(server: Server, staff: Staff) -> None:
    """Each value of HOSTILE in every field and query parameter, on a portal of its own (what
    one value stores cannot be in another's way); one signed-in owner types them all."""
    op = staff("owner")
    for value in HOSTILE:
        portal = server.new_portal()
        first, posts = hostile_posts(server, op, portal, value)
        form_token = csrf(op.page(page(portal, "/types")).text)
        answers = [
            op.client.post(target, data={"csrf": form_token, **form}) for target, form in posts
        ]
        answers += [
            op.client.get(f"/console/types/{quote(value, safe='')}", params={"portal": portal.id}),
            op.client.get("/console/types", params={"portal": value}),
            op.client.get("/console/tokens", params={"portal": portal.id, "done": value}),
        ]
        assert_refused_or_escaped(op, answers, value)
        # What the rules let through is stored as given and shown escaped.
        shown = ("/types", f"/types/{first}", "/business-units", "/tokens", "/settings", "/users")
        stored = [op.page(page(portal, path)).text for path in shown]
        if value.startswith("<script>"):
            assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in text for text in stored)
        assert all(r.status_code < 500 for r in answers), value
        assert op.page(page(portal, "/users")).status_code == 200  # still an owner, still in
