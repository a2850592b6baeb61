"""What can go wrong handing a message to the SMTP relay (`relay.py`): a `MailError`, either
a `TemporaryFailure` (keep the message, retry later) or a `PermanentFailure` (give it up),
and the text of a failure made fit for a log (see the list of which is which in `relay.py`).
"""

from __future__ import annotations

import re
import ssl

MAX_TEXT = 300  # characters of a server's reply kept in an error message
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACE = re.compile(r"\s+")


class MailError(Exception):
    """A message could not be handed to the relay.

    `code` is the SMTP reply code when the relay gave one (None for a refused connection,
    a timeout, a TLS failure...); `message` is one line, safe to log: no password, no
    line breaks, a server's reply cut short.
    """

    def __init__(self, code: int | None, message: str) -> None:
        self.code = code
        self.message = one_line(message)
        super().__init__(code, self.message)  # the constructor's arguments: it pickles

    def __str__(self) -> str:
        return self.message if self.code is None else f"{self.code} {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class TemporaryFailure(MailError):
    """Trying again later may succeed: keep the message in the outbox."""


class PermanentFailure(MailError):
    """Trying again will not help: the relay refused this message for good."""


def reason(exc: BaseException) -> str:
    """An exception's own words (an errno's text, an SSL reason) without its class."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def one_line(text: str) -> str:
    text = _SPACE.sub(" ", CONTROL.sub(" ", text)).strip()
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
