"""Storage contract, part 1: portals, business units, definitions, tokens, contexts, secrets.

Runs on every backend (the `store` fixture); tests only what `storage/store.py` promises.
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from commpref.domain.model import BusinessUnit, Portal, Translation
from commpref.errors import NotFound, ValidationError
from commpref.storage import migrations
from commpref.storage.store import Store

NOW = 1_700_000_000_000
DEFAULTS = [
    ("Marketing Information", "Marketing offers and updates.", "Marketing", "Email", False),
    (
        "Customer Service Communication",
        "Receive feedback requests and customer service information.",
        "Service",
        "Email",
        True,
    ),
    ("One to One", "One to One emails", "Sales", "Email", True),
]


def secret_hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


async def test_schema_is_current_and_ping_answers(store: Store) -> None:
    assert await store.schema_version() == (migrations.LATEST, migrations.LATEST)
    await store.ping()


async def test_new_portal_has_flags_unit_zero_and_three_default_definitions(store: Store) -> None:
    portal = await store.create_portal(
        name="Acme", gdpr=True, brands=True, default_language="fr", now=NOW
    )
    assert (portal.name, portal.gdpr, portal.brands) == ("Acme", True, True)
    assert (portal.default_language, portal.created_at) == ("fr", NOW)
    assert portal.batch_scopes_enabled is True
    assert portal.strict_v3_unknown_404 is False
    assert portal.rate_limit_tier is None
    assert await store.get_portal(portal.id) == portal

    ctx = await store.portal_context(portal.id)
    assert ctx.portal == portal
    assert ctx.business_units == frozenset({0})
    got = [
        (d.name, d.description, d.purpose, d.communication_method, d.is_internal)
        for d in ctx.definitions
    ]
    assert got == DEFAULTS
    ids = [d.id for d in ctx.definitions]
    assert ids == sorted(ids)
    for d in ctx.definitions:
        assert d.portal_id == portal.id
        assert (d.business_unit_id, d.is_default, d.is_active) == (0, True, True)
        assert (d.created_at, d.updated_at, d.translations) == (NOW, NOW, ())


async def test_portals_are_listed_and_unknown_ones_are_absent(store: Store) -> None:
    a = await store.create_portal(name="A", now=NOW)
    b = await store.create_portal(name="B", now=NOW)
    assert a.id != b.id
    listed = await store.list_portals()
    assert {a, b} <= set(listed)
    missing = max(a.id, b.id) + 1000
    assert await store.get_portal(missing) is None
    with pytest.raises(NotFound):
        await store.portal_context(missing)


async def test_update_portal_changes_only_the_given_flags(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    updated = await store.update_portal(
        portal.id, gdpr=True, rate_limit_tier="starter", batch_scopes_enabled=False, name="B"
    )
    assert updated == Portal(
        portal.id,
        "B",
        gdpr=True,
        rate_limit_tier="starter",
        batch_scopes_enabled=False,
        created_at=NOW,
    )
    assert await store.get_portal(portal.id) == updated
    assert (await store.portal_context(portal.id)).portal == updated
    again = await store.update_portal(portal.id, strict_v3_unknown_404=True, brands=True)
    assert (again.strict_v3_unknown_404, again.brands, again.gdpr) == (True, True, True)
    assert (await store.update_portal(portal.id, default_language="de")).default_language == "de"


async def test_update_portal_rejects_unknown_fields_and_portals(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    with pytest.raises(ValueError):
        await store.update_portal(portal.id, secret="x")
    with pytest.raises(NotFound):
        await store.update_portal(portal.id + 1000, gdpr=True)
    assert await store.get_portal(portal.id) == portal


async def test_definition_ids_are_unique_across_portals(store: Store) -> None:
    a = await store.create_portal(name="A", now=NOW)
    b = await store.create_portal(name="B", now=NOW)
    extra = await store.create_definition(portal_id=b.id, name="News", description="", now=NOW)
    ids_a = [d.id for d in (await store.portal_context(a.id)).definitions]
    ids_b = [d.id for d in (await store.portal_context(b.id)).definitions]
    assert len(set(ids_a + ids_b)) == 7
    assert extra.id in ids_b
    assert extra.id not in ids_a


async def test_create_definition_in_a_business_unit(store: Store) -> None:
    portal = await store.create_portal(name="A", brands=True, now=NOW)
    unit = await store.create_business_unit(portal_id=portal.id, business_unit_id=7, name="Brand")
    assert (unit.portal_id, unit.id, unit.name) == (portal.id, 7, "Brand")
    d = await store.create_definition(
        portal_id=portal.id,
        name="Brand news",
        description="News of the brand",
        business_unit_id=7,
        purpose="Marketing",
        communication_method="Email",
        is_active=False,
        is_internal=True,
        now=NOW + 1,
    )
    assert (d.portal_id, d.business_unit_id, d.name, d.description) == (
        portal.id,
        7,
        "Brand news",
        "News of the brand",
    )
    assert (d.purpose, d.communication_method) == ("Marketing", "Email")
    assert (d.is_active, d.is_default, d.is_internal) == (False, False, True)
    assert (d.created_at, d.updated_at) == (NOW + 1, NOW + 1)
    ctx = await store.portal_context(portal.id)
    assert ctx.business_units == frozenset({0, 7})
    assert ctx.definitions[-1] == d  # ordered by id: the newest is last
    assert ctx.definition(d.id) == d


async def test_create_definition_rejects_unknown_business_unit_and_portal(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    with pytest.raises(ValidationError, match="Business unit 9 does not exist"):
        await store.create_definition(
            portal_id=portal.id, name="X", description="", business_unit_id=9, now=NOW
        )
    with pytest.raises(NotFound):
        await store.create_definition(portal_id=portal.id + 1000, name="X", description="", now=NOW)
    assert len((await store.portal_context(portal.id)).definitions) == 3


async def test_update_definition(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    d = (await store.portal_context(portal.id)).definitions[0]
    updated = await store.update_definition(
        d.id, now=NOW + 5, name="Promos", description="Deals", is_active=False
    )
    assert (updated.id, updated.name, updated.description) == (d.id, "Promos", "Deals")
    assert (updated.is_active, updated.purpose) == (False, d.purpose)
    assert (updated.created_at, updated.updated_at) == (NOW, NOW + 5)
    ctx = await store.portal_context(portal.id)
    assert ctx.definition(d.id) == updated
    more = await store.update_definition(
        d.id, now=NOW + 6, purpose="Sales", communication_method="SMS", is_active=True
    )
    assert (more.purpose, more.communication_method, more.is_active) == ("Sales", "SMS", True)
    assert more.name == "Promos"


async def test_update_definition_rejects_unknown_fields_and_ids(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    d = (await store.portal_context(portal.id)).definitions[0]
    with pytest.raises(ValueError):
        await store.update_definition(d.id, now=NOW, portal_id=99)
    last = max(x.id for x in (await store.portal_context(portal.id)).definitions)
    with pytest.raises(NotFound):
        await store.update_definition(last + 1000, now=NOW, name="X")
    assert (await store.portal_context(portal.id)).definition(d.id) == d


async def test_translations_appear_in_the_context_by_language_code(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    d = (await store.portal_context(portal.id)).definitions[1]
    await store.set_translation(
        definition_id=d.id, language_code="fr", name="Service", description="FR", now=NOW + 1
    )
    await store.set_translation(
        definition_id=d.id, language_code="de", name="Zentrale", description="DE", now=NOW + 2
    )
    await store.set_translation(
        definition_id=d.id,
        language_code="fr",
        name="Service client",
        description="FR2",
        now=NOW + 3,
    )
    ctx = await store.portal_context(portal.id)
    assert ctx.definitions[1].translations == (
        Translation("de", "Zentrale", "DE", NOW + 2, NOW + 2),
        Translation("fr", "Service client", "FR2", NOW + 1, NOW + 3),
    )
    assert ctx.definitions[0].translations == ()


async def test_a_translation_is_deleted_in_one_language_only(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    other = await store.create_portal(name="B", now=NOW)
    d, e = (await store.portal_context(portal.id)).definitions[:2]
    theirs = (await store.portal_context(other.id)).definitions[0]
    for definition_id in (d.id, e.id, theirs.id):
        for lang in ("de", "fr"):
            await store.set_translation(
                definition_id=definition_id, language_code=lang, name=lang, description="",
                now=NOW,
            )  # fmt: skip
    assert await store.delete_translation(definition_id=d.id, language_code="fr") is True
    assert await store.delete_translation(definition_id=d.id, language_code="fr") is False
    assert await store.delete_translation(definition_id=d.id, language_code="es") is False
    missing = max(x.id for x in (await store.portal_context(other.id)).definitions) + 1000
    assert await store.delete_translation(definition_id=missing, language_code="de") is False

    async def languages(portal_id: int, definition_id: int) -> list[str]:
        found = (await store.portal_context(portal_id)).definition(definition_id)
        assert found is not None
        return [t.language_code for t in found.translations]

    assert await languages(portal.id, d.id) == ["de"]
    assert await languages(portal.id, e.id) == ["de", "fr"]
    assert await languages(other.id, theirs.id) == ["de", "fr"]


async def test_business_units_are_listed_and_renamed_within_their_portal(store: Store) -> None:
    portal = await store.create_portal(name="A", brands=True, now=NOW)
    other = await store.create_portal(name="B", now=NOW)
    assert await store.list_business_units(portal.id) == [BusinessUnit(portal.id, 0, "Account")]
    await store.create_business_unit(portal_id=portal.id, business_unit_id=9, name="Nine")
    await store.create_business_unit(portal_id=portal.id, business_unit_id=7, name="Seven")
    renamed = await store.rename_business_unit(
        portal_id=portal.id, business_unit_id=7, name="Sieben <b>"
    )
    assert renamed == BusinessUnit(portal.id, 7, "Sieben <b>")
    assert await store.rename_business_unit(
        portal_id=portal.id, business_unit_id=0, name="Main"
    ) == BusinessUnit(portal.id, 0, "Main")
    assert await store.list_business_units(portal.id) == [
        BusinessUnit(portal.id, 0, "Main"),
        BusinessUnit(portal.id, 7, "Sieben <b>"),
        BusinessUnit(portal.id, 9, "Nine"),
    ]
    with pytest.raises(NotFound):
        await store.rename_business_unit(portal_id=portal.id, business_unit_id=8, name="X")
    with pytest.raises(NotFound):  # another portal's unit is not this portal's
        await store.rename_business_unit(portal_id=other.id, business_unit_id=7, name="X")
    with pytest.raises(ValidationError):
        await store.create_business_unit(portal_id=portal.id, business_unit_id=7, name="Again")
    assert await store.list_business_units(other.id) == [BusinessUnit(other.id, 0, "Account")]
    assert await store.list_business_units(max(portal.id, other.id) + 1000) == []
    assert (await store.portal_context(portal.id)).business_units == frozenset({0, 7, 9})


async def test_portal_branding_is_stored_read_back_and_cleared(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    await store.create_token(
        portal_id=portal.id, name="t", secret_hash=secret_hash("b"), scopes=frozenset({"x"}),
        now=NOW,
    )  # fmt: skip
    found = await store.authenticate(secret_hash("b"))  # fills the authentication caches
    assert found is not None and found[1].portal.brand_name is None
    assert (portal.brand_name, portal.brand_logo_url, portal.brand_colour) == (None, None, None)
    branded = await store.update_portal(
        portal.id,
        brand_name="Acme ‮ <script>",
        brand_logo_url="https://cdn.example.com/logo.png",
        brand_colour="#0a0b0c",
    )
    assert branded == Portal(
        portal.id,
        "A",
        created_at=NOW,
        brand_name="Acme ‮ <script>",
        brand_logo_url="https://cdn.example.com/logo.png",
        brand_colour="#0a0b0c",
    )
    assert await store.get_portal(portal.id) == branded
    assert branded in await store.list_portals()
    assert (await store.portal_context(portal.id)).portal == branded
    found = await store.authenticate(secret_hash("b"))  # the change reaches every cache
    assert found is not None and found[1].portal == branded
    cleared = await store.update_portal(portal.id, brand_logo_url=None, brand_colour=None)
    assert (cleared.brand_name, cleared.brand_logo_url, cleared.brand_colour) == (
        "Acme ‮ <script>",
        None,
        None,
    )
    found = await store.authenticate(secret_hash("b"))
    assert found is not None and found[1].portal == cleared


async def test_tokens_are_created_listed_and_authenticated(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    scopes = frozenset({"communication_preferences.read", "communication_preferences.write"})
    t1 = await store.create_token(
        portal_id=portal.id, name="ci", secret_hash=secret_hash("one"), scopes=scopes, now=NOW
    )
    t2 = await store.create_token(
        portal_id=portal.id,
        name="app",
        secret_hash=secret_hash("two"),
        scopes=frozenset({"commpref.admin"}),
        app_id=4242,
        expires_at=NOW + 60_000,
        now=NOW + 1,
    )
    assert (t1.portal_id, t1.name, t1.scopes, t1.created_at) == (portal.id, "ci", scopes, NOW)
    assert (t1.app_id, t1.expires_at, t1.revoked_at) == (None, None, None)
    assert (t2.app_id, t2.expires_at) == (4242, NOW + 60_000)
    assert t1.id != t2.id
    assert await store.list_tokens(portal.id) == [t1, t2]

    found = await store.authenticate(secret_hash("two"))
    assert found is not None
    token, ctx = found
    assert token == t2
    assert ctx == await store.portal_context(portal.id)
    assert [d.name for d in ctx.definitions] == [d[0] for d in DEFAULTS]
    assert await store.authenticate(secret_hash("nobody")) is None


async def test_revoked_token_is_still_returned_with_its_revocation_time(store: Store) -> None:
    a = await store.create_portal(name="A", now=NOW)
    b = await store.create_portal(name="B", now=NOW)
    token = await store.create_token(
        portal_id=a.id, name="t", secret_hash=secret_hash("a"), scopes=frozenset({"x"}), now=NOW
    )
    assert await store.revoke_token(portal_id=b.id, token_id=token.id, now=NOW + 1) is False
    assert await store.revoke_token(portal_id=a.id, token_id=token.id + 1000, now=NOW) is False
    found = await store.authenticate(secret_hash("a"))
    assert found is not None and found[0].revoked_at is None

    assert await store.revoke_token(portal_id=a.id, token_id=token.id, now=NOW + 2) is True
    found = await store.authenticate(secret_hash("a"))
    assert found is not None
    assert found[0].id == token.id
    assert found[0].revoked_at == NOW + 2
    assert (await store.list_tokens(a.id))[0].revoked_at == NOW + 2
    assert await store.list_tokens(b.id) == []


async def test_create_token_for_unknown_portal_fails(store: Store) -> None:
    portal = await store.create_portal(name="A", now=NOW)
    with pytest.raises(NotFound):
        await store.create_token(
            portal_id=portal.id + 1000, name="t", secret_hash="h", scopes=frozenset({"x"}), now=NOW
        )
    assert await store.authenticate("h") is None


async def test_secrets_are_set_once(store: Store) -> None:
    assert await store.get_secret("link-key") is None
    assert await store.set_secret_if_absent("link-key", "first") == "first"
    assert await store.set_secret_if_absent("link-key", "second") == "first"
    assert await store.get_secret("link-key") == "first"
    assert await store.get_secret("other") is None


async def test_concurrent_set_secret_if_absent_agrees_on_one_value(store: Store) -> None:
    values = await asyncio.gather(
        *(store.set_secret_if_absent("race", f"value-{i}") for i in range(20))
    )
    assert len(set(values)) == 1
    assert await store.get_secret("race") == values[0]


async def test_token_uses_keep_the_newest_time_per_token_of_the_portal(store: Store) -> None:
    portal = await store.create_portal(name="Uses", now=1)
    other = await store.create_portal(name="Other", now=1)
    mine = await store.create_token(portal_id=portal.id, name="a", secret_hash="h-a",
                                    scopes=frozenset({"x"}), now=1)  # fmt: skip
    idle = await store.create_token(portal_id=portal.id, name="b", secret_hash="h-b",
                                    scopes=frozenset({"x"}), now=1)  # fmt: skip
    theirs = await store.create_token(portal_id=other.id, name="c", secret_hash="h-c",
                                      scopes=frozenset({"x"}), now=1)  # fmt: skip
    await store.note_token_uses({mine.id: 50, theirs.id: 60})
    await store.note_token_uses({mine.id: 40})  # an older note (a slower process) loses
    await store.note_token_uses({})
    assert await store.token_uses(portal.id) == {mine.id: 50}
    assert idle.id not in await store.token_uses(portal.id)
    assert await store.token_uses(other.id) == {theirs.id: 60}
