"""Console users and signed-in HTTP clients for the console's tests."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from commpref.domain.console import ConsoleUser
from commpref.services import console
from commpref.services.context import now_ms
from tests.support.server import Server

PASSWORD = "a long enough password"
_SIGNIN_TOKEN = re.compile(r'name="signin_token" value="([^"]+)"')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def new_user(
    server: Server, email: str, role: str, portals: Sequence[int] | None = None
) -> ConsoleUser:
    user: ConsoleUser = server.admin(
        console.create_user, email=email, password=PASSWORD, role=role, portals=portals,
        now=now_ms(),
    )  # fmt: skip
    return user


def signin_form(client: httpx.Client) -> str:
    """Open the sign-in page (which sets the form's cookie); its form token."""
    page = client.get("/console/sign-in")
    assert page.status_code == 200, page.text
    found = _SIGNIN_TOKEN.search(page.text)
    assert found is not None
    return found.group(1)


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    token = signin_form(client)
    return client.post(
        "/console/sign-in",
        data={"signin_token": token, "email": email, "password": password, "next": ""},
    )


def csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has a form with a form token"
    return found.group(1)


@dataclass
class Operator:
    """A signed-in console user's browser, without the browser."""

    client: httpx.Client
    user: ConsoleUser

    def page(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def post(
        self, path: str, form: dict[str, str], *, from_page: str | None = None
    ) -> httpx.Response:
        """POST a form with the form token of `from_page` (default: `path` itself)."""
        token = csrf(self.client.get(from_page or path).text)
        return self.client.post(path, data={"csrf": token, **form})


def operator(
    server: Server, email: str, role: str, portals: Sequence[int] | None = None
) -> Operator:
    user = new_user(server, email, role, portals)
    client = httpx.Client(base_url=server.base_url, timeout=30, follow_redirects=False)
    answer = sign_in(client, email)
    assert answer.status_code == 303, answer.text
    return Operator(client, user)
