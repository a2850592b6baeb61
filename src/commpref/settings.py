"""The one settings object. Every field reads `COMMPREF_<NAME>` from the environment.

`docs/configuration.md` documents every field; a test keeps the two in step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any


def _setting(default: Any, help: str, *, secret: bool = False) -> Any:
    return field(default=default, metadata={"help": help, "secret": secret}, repr=not secret)


@dataclass(frozen=True)
class Settings:
    database_url: str = _setting(
        "sqlite:///data/commpref.db",
        "Where state lives: sqlite:///PATH (relative to the working directory; "
        "sqlite:////abs/path for absolute) or postgresql://user@host:port/db.",
    )
    host: str = _setting("127.0.0.1", "Address `commpref serve` listens on.")
    port: int = _setting(8080, "Port `commpref serve` listens on.")
    workers: int = _setting(1, "Server processes started by `commpref serve`.")
    public_base_url: str | None = _setting(
        None,
        "Base URL of preference-page links; unset means http://HOST:PORT of `serve`.",
    )
    batch_max_inputs: int = _setting(1000, "Most inputs one batch request may carry.")
    max_body_bytes: int = _setting(4 * 1024 * 1024, "Largest request body accepted (413 above).")
    hapikey_enabled: bool = _setting(False, "Accept `?hapikey=<token>` as a credential.")
    sqlite_synchronous: str = _setting(
        "FULL", "SQLite PRAGMA synchronous (FULL: every commit is fsync'd)."
    )
    db_pool_size: int = _setting(10, "Most database connections per process (PostgreSQL).")
    log_level: str = _setting("info", "Log level: debug, info, warning, error.")
    access_log: bool = _setting(True, "Write one JSON access-log line per request.")
    link_signing_keys: str | None = _setting(
        None,
        "Comma-separated secrets for preference links; the first signs, all verify. "
        "Unset: a key generated once and kept in the database.",
        secret=True,
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `COMMPREF_*` variables, then explicit overrides (CLI flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"COMMPREF_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _coerce(f.default, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _coerce(default: Any, raw: str) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw
