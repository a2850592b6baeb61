"""Start and stop the background workers of one process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from commpref.jobs.imports import ImportWorker
from commpref.jobs.mail import MailWorker
from commpref.jobs.pruning import Pruner
from commpref.jobs.tallies import TallyFolder
from commpref.jobs.webhooks import WebhookWorker
from commpref.settings import Settings
from commpref.storage.store import Store


def owner_id() -> str:
    """Who holds a lease: host and pid (so a dead holder on this host can be recognised)
    and a random part (so two stores of one process are told apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str | None) -> bool:
    """True only when `owner` ran on this host and its process has exited: gone, a zombie
    (exited, not yet reaped by its parent), or its pid now names a program that is not
    commpref."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return _exited(pid)


def _exited(pid: str | int) -> bool:
    """What /proc says of a pid that still exists (False where there is no /proc)."""
    proc = Path("/proc") / str(pid)
    try:
        # The state follows the command name, which is in parentheses and may hold spaces.
        state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        command = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    return state in ("Z", "X") or b"commpref" not in command


class Workers:
    """The import, webhook, tally and mail workers of one process, as asyncio tasks."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        on_webhook_backlog: Callable[[int], None] | None = None,
        on_mail_backlog: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.owner = owner_id()
        self.on_webhook_backlog = on_webhook_backlog
        self.on_mail_backlog = on_mail_backlog
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    def start(self) -> None:
        imports = ImportWorker(self.store, self.settings, owner=self.owner)
        hooks = WebhookWorker(self.store, self.settings, on_backlog=self.on_webhook_backlog)
        folder = TallyFolder(self.store)
        mail = MailWorker(self.store, self.settings, on_backlog=self.on_mail_backlog)
        loops: tuple[tuple[str, Callable[[asyncio.Event], Coroutine[Any, Any, None]]], ...] = (
            ("commpref-imports", imports.run),
            ("commpref-webhooks", hooks.run),
            ("commpref-tallies", folder.run),
            ("commpref-pruning", Pruner(self.store, self.settings).run),
            ("commpref-mail", mail.run),
        )
        for name, loop in loops:
            self._tasks.append(asyncio.create_task(loop(self._stop), name=name))

    async def stop(self) -> None:
        """Stop taking work; work in progress is abandoned at a safe point (a job's lease
        lapses and another process resumes it; an unsent delivery stays PENDING)."""
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
