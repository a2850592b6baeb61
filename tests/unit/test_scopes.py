"""Which scopes allow which operation (docs/wire-contract.md §2.3) and what a 403 names (§6.3)."""

from __future__ import annotations

import pytest

from commpref.domain import scopes
from commpref.domain.scopes import Op

READ = "communication_preferences.read"
WRITE = "communication_preferences.write"
READ_WRITE = "communication_preferences.read_write"
BATCH_READ = "communication_preferences.statuses.batch.read"
BATCH_WRITE = "communication_preferences.statuses.batch.write"

# docs/wire-contract.md §2.3, written out here rather than read from the code under test.
SPEC: dict[Op, list[set[str]]] = {
    Op.LIST_DEFINITIONS: [{READ}, {READ_WRITE}, {"subscriptions-definition-read"}],
    **{
        op: [{READ}, {READ_WRITE}, {"subscriptions-status-read"}]
        for op in (Op.GET_STATUSES, Op.GET_WIDE, Op.V3_STATUSES, Op.V3_BULK_STATUSES)
    },
    **{
        op: [{WRITE}, {READ_WRITE}, {"subscriptions-status-write"}]
        for op in (Op.SET_STATUS, Op.UNSUBSCRIBE_ALL, Op.V3_SUBSCRIBE, Op.V3_UNSUBSCRIBE)
    },
    Op.V3_RESUBSCRIBE: [
        {WRITE},
        {READ_WRITE},
        {"subscriptions-status-write"},
        {"subscriptions-status-resubscribe-write"},
    ],
    Op.BATCH_READ: [{BATCH_READ}, {"subscription-status-batch-read"}],
    Op.BATCH_READ_WIDE: [{BATCH_READ}, {"subscription-status-batch-read"}],
    Op.BATCH_WRITE: [{BATCH_WRITE}, {"subscription-status-batch-write"}],
    Op.BATCH_UNSUBSCRIBE_ALL: [{BATCH_WRITE}, {"subscription-status-batch-write"}],
    Op.GENERATE_LINKS: [{READ_WRITE}, {READ, WRITE}],
}
CASES = [(op, alt) for op, alts in SPEC.items() for alt in alts]


def test_the_table_names_every_operation() -> None:
    assert set(SPEC) == set(Op)
    assert [op.value for op in Op] == list("ABCDEFGHIJKLMNO")


@pytest.mark.parametrize(
    ("op", "alternative"),
    CASES,
    # Sorted: a set's order differs between processes, and test ids must not.
    ids=lambda v: "+".join(sorted(v)) if isinstance(v, set | frozenset) else str(v),
)
def test_each_alternative_allows_its_operation(op: Op, alternative: set[str]) -> None:
    assert scopes.allows(op, frozenset(alternative))
    assert scopes.allows(op, frozenset(alternative | {"unrelated"}))


@pytest.mark.parametrize("op", list(Op))
def test_scopes_outside_every_alternative_allow_nothing(op: Op) -> None:
    granted = {s for alt in SPEC[op] for s in alt}
    others = frozenset(scopes.ALL_SCOPES - granted)
    assert not scopes.allows(op, others)
    assert not scopes.allows(op, frozenset())


@pytest.mark.parametrize(
    "op", [Op.BATCH_READ, Op.BATCH_READ_WIDE, Op.BATCH_WRITE, Op.BATCH_UNSUBSCRIBE_ALL]
)
def test_read_write_does_not_grant_batch_operations(op: Op) -> None:
    assert not scopes.allows(op, frozenset({READ, WRITE, READ_WRITE}))


def test_no_scope_implies_another() -> None:
    assert not scopes.allows(Op.GET_STATUSES, frozenset({WRITE}))
    assert not scopes.allows(Op.SET_STATUS, frozenset({READ}))
    assert not scopes.allows(Op.BATCH_READ, frozenset({BATCH_WRITE}))
    assert not scopes.allows(Op.BATCH_WRITE, frozenset({BATCH_READ}))
    assert not scopes.allows(Op.GET_STATUSES, frozenset({BATCH_READ}))


@pytest.mark.parametrize(
    ("held", "allowed"),
    [
        ({READ_WRITE}, True),
        ({READ, WRITE}, True),
        ({READ}, False),
        ({WRITE}, False),
        ({"subscriptions-status-read", "subscriptions-status-write"}, False),
        ({BATCH_READ, BATCH_WRITE}, False),
    ],
)
def test_links_need_read_write_or_read_and_write(held: set[str], allowed: bool) -> None:
    assert scopes.allows(Op.GENERATE_LINKS, frozenset(held)) is allowed


@pytest.mark.parametrize(
    ("op", "names", "all_required"),
    [
        (Op.LIST_DEFINITIONS, [READ, READ_WRITE], False),
        (Op.GET_STATUSES, [READ, READ_WRITE], False),
        (Op.V3_STATUSES, [READ, READ_WRITE], False),
        (Op.SET_STATUS, [READ_WRITE, WRITE], False),
        (Op.UNSUBSCRIBE_ALL, [READ_WRITE, WRITE], False),
        (Op.V3_RESUBSCRIBE, [READ_WRITE, WRITE], False),
        (Op.BATCH_READ, [BATCH_READ], False),
        (Op.BATCH_READ_WIDE, [BATCH_READ], False),
        (Op.BATCH_WRITE, [BATCH_WRITE], False),
        (Op.BATCH_UNSUBSCRIBE_ALL, [BATCH_WRITE], False),
        (Op.GENERATE_LINKS, [READ, WRITE], True),
    ],
)
def test_required_for_message(op: Op, names: list[str], all_required: bool) -> None:
    assert scopes.required_for_message(op) == (names, all_required)


@pytest.mark.parametrize("op", list(Op))
def test_403_lists_are_sorted_spec_names(op: Op) -> None:
    names, _ = scopes.required_for_message(op)
    assert names == sorted(names)
    assert names
    assert all(n.startswith("communication_preferences.") for n in names)


def test_batch_operation_sets() -> None:
    assert set(scopes.BATCH_OPS) == {
        Op.BATCH_READ,
        Op.BATCH_READ_WIDE,
        Op.BATCH_WRITE,
        Op.BATCH_UNSUBSCRIBE_ALL,
    }


EXTENSIONS = {
    "commpref.admin",
    "commpref.history.read",
    "commpref.import.write",
    "commpref.export.read",
    "commpref.webhooks.write",
    "commpref.subscribers.erase",
    "commpref.types.read",
    "commpref.types.write",
    "commpref.business_units.read",
    "commpref.business_units.write",
    "commpref.tokens.read",
    "commpref.tokens.write",
    "commpref.portal.read",
    "commpref.portal.write",
    "commpref.users.read",
    "commpref.users.write",
    "commpref.signups.write",
    "commpref.signups.read",
    "commpref.feedback.read",
    "commpref.feedback.write",
}


def test_all_scopes_holds_both_families_admin_and_the_extension_scopes() -> None:
    assert {s for alts in SPEC.values() for alt in alts for s in alt} | EXTENSIONS == (
        scopes.ALL_SCOPES
    )


@pytest.mark.parametrize("scope", sorted(EXTENSIONS - {"commpref.admin"}))
def test_an_extension_scope_is_granted_by_itself_or_admin_only(scope: str) -> None:
    assert scopes.allows_extension(scope, frozenset({scope}))
    assert scopes.allows_extension(scope, frozenset({"commpref.admin"}))
    others = frozenset(scopes.ALL_SCOPES - {scope, "commpref.admin"})
    assert not scopes.allows_extension(scope, others)


def test_extension_scopes_are_exactly_the_commpref_ones() -> None:
    assert scopes.EXTENSION_SCOPES == EXTENSIONS
    assert all(s.startswith("commpref.") for s in scopes.EXTENSION_SCOPES)


@pytest.mark.parametrize(
    ("held", "wanted", "allowed"),
    [
        ({"commpref.tokens.write", "commpref.types.read"}, {"commpref.types.read"}, True),
        ({"commpref.tokens.write"}, {"commpref.tokens.write"}, True),
        ({"commpref.tokens.write"}, {"commpref.types.read"}, False),
        ({"commpref.tokens.write", READ}, {READ, WRITE}, False),
        ({"commpref.tokens.write"}, {"commpref.admin"}, False),
        ({"commpref.admin"}, {READ_WRITE, BATCH_WRITE, "commpref.admin"}, True),
    ],
)
def test_a_token_grants_only_scopes_it_holds_unless_admin(
    held: set[str], wanted: set[str], allowed: bool
) -> None:
    assert scopes.may_grant(frozenset(held), frozenset(wanted)) is allowed
