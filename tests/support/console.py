"""Console users and signed-in HTTP clients for the console's tests, and the hostile input
their forms are fed."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import httpx

from commpref.domain.console import ConsoleUser, Role
from commpref.services import console
from commpref.services.context import now_ms
from commpref.storage.store import Store
from tests.support.server import Server

PASSWORD = "a long enough password"
_SIGNIN_TOKEN = re.compile(r'name="signin_token" value="([^"]+)"')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')

# What the console's hostile-input tests type into every field and query parameter.
HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' OR 1=1 --",
    "\u0000\u202e\ufeff",
    "x" * 5000,
    "%00%2e%2e/",
    "{{7*7}}",
]


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


@functools.cache
def _password_hash() -> str:
    """PASSWORD's argon2id hash, made once per test run: argon2 is slow on purpose, and every
    user these helpers make has that password (the server still verifies it at sign-in)."""
    return console.hash_password(PASSWORD)


def new_user(
    server: Server, email: str, role: str, portals: Sequence[int] | None = None
) -> ConsoleUser:
    """A console user with PASSWORD: what `console.create_user` stores, without hashing the
    password anew (the service itself is tested in tests/integration/test_store_console.py,
    and through the console's users page and `/commpref/v1/users`)."""

    async def create(store: Store) -> ConsoleUser:
        return await store.create_user(
            email=console.parse_address(email), password_hash=_password_hash(),
            role=Role.parse(role).label, portals=portals, now=now_ms(),
        )  # fmt: skip

    user: ConsoleUser = server.admin(create)
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


class Operators:
    """Signs console users of their own in (an address of `email`, else a unique one of
    the role); `close` closes their clients."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.made: list[Operator] = []

    def __call__(
        self, role: str, portals: Sequence[int] | None = None, *, email: str | None = None
    ) -> Operator:
        self.made.append(operator(self.server, email or unique(role), role, portals))
        return self.made[-1]

    def close(self) -> None:
        for op in self.made:
            op.client.close()


class Staff:
    """One signed-in user of every portal per role, made at first use and then shared: for
    the tests that neither sign it out nor change it, so that they need no sign-in (an
    argon2 hash on the server) of their own."""

    def __init__(self, server: Server) -> None:
        self._operators = Operators(server)
        self._by_role: dict[str, Operator] = {}

    def __call__(self, role: str) -> Operator:
        if role not in self._by_role:
            self._by_role[role] = self._operators(role)
        return self._by_role[role]

    def close(self) -> None:
        self._operators.close()


def assert_refused_or_escaped(op: Operator, answers: Iterable[httpx.Response], value: str) -> None:
    """Every answer to `value` is no 5xx, and neither it nor the page a redirect leads to
    carries `value`'s markup unescaped."""
    for answer in answers:
        where = (value[:40], str(answer.request.url)[:200])
        assert answer.status_code < 500, (*where, answer.text[:300])
        if answer.status_code == 303:
            answer = op.page(answer.headers["location"])
        assert "<script>alert(1)</script>" not in answer.text, where
        assert "<img src=x onerror" not in answer.text, where
