"""The console's users page, for owners: who may sign in, with which role, seeing which
portals; add a user, change a role, a password, disable or enable. The rules are
`services.console`'s (an owner never demotes or disables itself, and manages only users
whose portals it sees all of).
"""

from __future__ import annotations

from commpref.domain.console import ROLES, ConsoleUser, Role
from commpref.errors import Conflict, ValidationError
from commpref.http.operation import Reply
from commpref.services import console
from commpref.web.console.visit import Visit, view


def _everywhere(owner: ConsoleUser) -> list[int] | None:
    """Every portal the owner sees: None for all of them."""
    return None if owner.portals is None else sorted(owner.portals)


async def _users_page(
    v: Visit, status: int = 200, problem: str = "", typed: dict[str, str] | None = None
) -> Reply:
    rt = v.rq.runtime
    users = await rt.store.list_users(v.portal.portal.id)
    names = {p.id: p.name for p in v.portals}
    return v.render(
        "users.html",
        status,
        users=users,
        names=names,
        roles=ROLES,
        manageable={u.id for u in users if _manager(v).may_manage(u)},
        problem=problem,
        typed=typed or {"role": "viewer", "portals": "this"},
        done=v.query("done") if status == 200 else "",
        min_password=console.MIN_PASSWORD,
        section="/users",
    )


@view(Role.OWNER)
async def user_list(v: Visit) -> Reply:
    return await _users_page(v)


@view(Role.OWNER, form=True)
async def user_create(v: Visit) -> Reply:
    typed = v.typed(("email", "role", "portals"))
    password = v.raw("password")
    try:
        if typed["portals"] not in ("this", "all"):
            raise ValidationError("Choose the portals the user may see")
        portals = [v.portal.portal.id] if typed["portals"] == "this" else _everywhere(v.me)
        await console.create_user(
            store=v.rq.runtime.store, email=typed["email"], password=password,
            role=typed["role"], portals=portals, now=v.rq.now,
        )  # fmt: skip
    except Conflict:
        return await _users_page(v, 409, "A console user with this address exists", typed)
    except ValidationError as exc:
        return await _users_page(v, exc.http_status, exc.message, typed)
    return v.redirect(v.url("/users", done="created"))


@view(Role.OWNER, form=True)
async def user_change(v: Visit) -> Reply:
    action = v.value("action")
    if action not in ("role", "disable", "enable", "password"):
        raise ValidationError("Unknown action")
    user_id = v.path_id("user")
    try:
        await console.change_user(
            store=v.rq.runtime.store, manager=_manager(v), user_id=user_id,
            portal_id=v.portal.portal.id, now=v.rq.now,
            role=v.value("role") if action == "role" else None,
            disabled={"disable": True, "enable": False}.get(action),
            password=v.raw("password") if action == "password" else None,
        )  # fmt: skip
    except ValidationError as exc:
        user = await v.rq.runtime.store.get_user(user_id)
        return await _users_page(v, exc.http_status, f"{user.email if user else ''}: {exc.message}")
    done = {"role": "role", "disable": "disabled", "enable": "enabled", "password": "password"}
    return v.redirect(v.url("/users", done=done[action]))


def _manager(v: Visit) -> console.Manager:
    return console.Manager(v.me.portals, v.me.id)
