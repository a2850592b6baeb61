"""The sign-up operations of `/commpref/v1`: sign an address up, with double opt-in where
it is on, and read a sign-up with its confirmation email's delivery (handlers in
`signups.py`)."""

from __future__ import annotations

from commpref.domain import scopes
from commpref.http.api import signups
from commpref.http.api.declare import operation
from commpref.http.operation import Operation

OPERATIONS: tuple[Operation, ...] = (
    operation(
        "create_signup",
        "POST",
        "signups",
        scopes.SIGNUPS_WRITE,
        signups.create_signup,
        "Subscribe an address, or email it a confirmation link first (double opt-in); the "
        "answer is the same whether the address is known or not",
        {202: signups.SignupAnswer},
        body=signups.SignupCreate,
        conflict=True,
    ),
    operation(
        "get_signup",
        "GET",
        "signups/{id}",
        scopes.SIGNUPS_READ,
        signups.get_signup,
        "A sign-up: SUBSCRIBED (at once), PENDING, CONFIRMED or EXPIRED, and its "
        "confirmation email's delivery",
        {200: signups.SignupView},
        param_description="The sign-up's id",
    ),
)
