"""Email: composing the messages commpref sends and handing them to an SMTP relay.

It sits below the background jobs that send (a message leaves from the outbox, never
from a request) and above the services: it knows SMTP, MIME and its own templates, and
nothing of HTTP or storage.

    compose.confirmation(...) -> EmailMessage     the double opt-in confirmation
    relay.Relay.from_url(COMMPREF_SMTP_URL).send(message)
                                                  raises TemporaryFailure / PermanentFailure
"""

from __future__ import annotations

from commpref.mail.compose import confirmation, new_message_id
from commpref.mail.relay import MailError, PermanentFailure, Relay, Security, TemporaryFailure

__all__ = [
    "MailError",
    "PermanentFailure",
    "Relay",
    "Security",
    "TemporaryFailure",
    "confirmation",
    "new_message_id",
]
