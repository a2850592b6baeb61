"""`/commpref/v1/users`: the console users who see the token's portal (docs/console.md),
for the owners' automation. A token manages only users who see no portal but its own, and
gives new users its portal alone: it can never reach beyond its portal. The rules are
`services.console`'s, the console's."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from commpref.domain.console import ConsoleUser
from commpref.http.api.handlers import path_id
from commpref.http.operation import Reply, Request
from commpref.http.values import DateTime, Int64, iso
from commpref.services import console

RoleName = Literal["viewer", "editor", "admin", "owner"]
Password = Annotated[str, msgspec.Meta(min_length=console.MIN_PASSWORD,
                                       max_length=console.MAX_PASSWORD)]  # fmt: skip


class User(msgspec.Struct, kw_only=True, gc=False):
    id: Int64
    email: str
    role: RoleName
    portals: list[Int64] | None  # null: every portal
    disabled: bool
    createdAt: DateTime
    updatedAt: DateTime


class UserList(msgspec.Struct, kw_only=True, gc=False):
    results: list[User]  # by id


class UserCreate(msgspec.Struct, kw_only=True, gc=False, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    role: RoleName
    password: Password  # at least 12 characters; stored as an argon2id hash only


class UserUpdate(msgspec.Struct, kw_only=True, gc=False, forbid_unknown_fields=True):
    role: RoleName | msgspec.UnsetType = msgspec.UNSET
    disabled: bool | msgspec.UnsetType = msgspec.UNSET  # true ends the user's sessions
    password: Password | msgspec.UnsetType = msgspec.UNSET  # ends the user's sessions


def user(u: ConsoleUser) -> User:
    return User(
        id=u.id,
        email=u.email,
        role=u.role.label,  # type: ignore[arg-type]  # one of RoleName by construction
        portals=None if u.portals is None else sorted(u.portals),
        disabled=u.disabled_at is not None,
        createdAt=iso(u.created_at),
        updatedAt=iso(u.updated_at),
    )


def _manager(rq: Request) -> console.Manager:
    return console.Manager(frozenset({rq.call.ctx.portal.id}))


async def list_users(rq: Request) -> Reply:
    found = await rq.runtime.store.list_users(rq.call.ctx.portal.id)
    return 200, UserList(results=[user(u) for u in found])


async def create_user(rq: Request) -> Reply:
    body: UserCreate = rq.body
    made = await console.create_user(
        store=rq.runtime.store,
        email=body.email,
        password=body.password,
        role=body.role,
        portals=[rq.call.ctx.portal.id],
        now=rq.now,
    )
    return 201, user(made)


async def update_user(rq: Request) -> Reply:
    body: UserUpdate = rq.body
    changed = await console.change_user(
        store=rq.runtime.store,
        manager=_manager(rq),
        user_id=path_id(rq, "Console user"),
        portal_id=rq.call.ctx.portal.id,
        now=rq.now,
        role=None if body.role is msgspec.UNSET else body.role,
        disabled=None if body.disabled is msgspec.UNSET else body.disabled,
        password=None if body.password is msgspec.UNSET else body.password,
    )
    return 200, user(changed)
