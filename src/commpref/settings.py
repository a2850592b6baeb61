"""The one settings object. Every field reads `COMMPREF_<NAME>` from the environment.

`docs/configuration.md` documents every field; a test keeps the two in step.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from typing import Any

MIN_LINK_AGE_DAYS = 60  # CASL: an unsubscribe mechanism must work for 60 days after sending
_MAILTO = re.compile(r"[^@\s<>,?]+@[^@\s<>,?]+\.[^@\s<>,?]+")


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
    max_concurrent_requests: int = _setting(
        64, "API requests one process works on at once; others wait in a short queue."
    )
    max_queued_requests: int = _setting(
        64, "API requests that may wait for a slot; beyond them: 503 with Retry-After at once."
    )
    queue_wait_ms: int = _setting(
        250, "Longest wait for a slot, in milliseconds; then 503 with Retry-After."
    )
    body_timeout_s: int = _setting(
        10, "Seconds a client may take to send a request body (408 after)."
    )
    header_timeout_s: int = _setting(
        10, "Seconds a client may take to send a request's headers (408 and close after)."
    )
    max_header_bytes: int = _setting(
        64 * 1024, "Largest request line plus headers accepted (431 and close above)."
    )
    keep_alive_timeout_s: int = _setting(
        5, "Seconds an idle keep-alive connection stays open between requests."
    )
    link_signing_keys: str | None = _setting(
        None,
        "Comma-separated secrets for preference links; the first signs, all verify. "
        "Unset: a key generated once and kept in the database.",
        secret=True,
    )
    link_max_age_days: int = _setting(
        0,
        "Days a preference link stays valid; 0 means links never expire. "
        "1 to 59 are refused at start-up (CASL wants 60).",
    )
    list_unsubscribe_mailto: str | None = _setting(
        None,
        "Address added as a mailto: fallback to the List-Unsubscribe header; unset: none.",
    )
    jobs_enabled: bool = _setting(
        True, "Run the background workers (import jobs, webhook deliveries) in `serve`."
    )
    job_poll_ms: int = _setting(
        1000, "How often an idle worker looks for import jobs and due deliveries, in ms."
    )
    import_chunk_rows: int = _setting(5000, "Valid rows an import applies per transaction.")
    import_max_bytes: int = _setting(
        1024 * 1024 * 1024, "Largest file POST /commpref/v1/imports accepts (413 above)."
    )
    webhook_backoff_initial_ms: int = _setting(
        10_000, "Delay before a failed webhook delivery is retried, in ms; doubles each time."
    )
    webhook_backoff_max_ms: int = _setting(
        3_600_000, "Longest delay between two attempts of one webhook delivery, in ms."
    )
    webhook_retry_window_ms: int = _setting(
        86_400_000, "How long a failing webhook delivery is retried before it is FAILED, in ms."
    )
    webhook_timeout_ms: int = _setting(
        10_000, "Time a webhook receiver has to answer one delivery, in ms."
    )
    console_idle_minutes: int = _setting(
        30, "Minutes of inactivity after which a console session ends."
    )
    console_session_hours: int = _setting(
        12, "Hours after sign-in at which a console session ends, however active."
    )
    console_signin_attempts: int = _setting(
        5, "Failed console sign-ins per address in 15 minutes before it is refused (429)."
    )
    console_client_attempts: int = _setting(
        20, "Failed console sign-ins per client address in 15 minutes before it is refused."
    )
    smtp_url: str | None = _setting(
        None,
        "The SMTP relay for confirmation emails: smtp://user:pass@host:587 (STARTTLS), "
        "smtps://…:465 (TLS), smtp://host:25?tls=none (a local relay). Unset: none is sent.",
        secret=True,
    )
    mail_from: str | None = _setting(
        None, "The From address of emails, for portals that set none of their own."
    )
    signup_confirm_days: int = _setting(7, "Days a sign-up's confirmation link works.")
    signup_resend_minutes: int = _setting(
        10, "Least minutes between two confirmation emails to one address of a portal."
    )
    signup_daily_emails: int = _setting(
        5, "Most confirmation emails to one address of a portal in 24 hours."
    )
    signup_keep_days: int = _setting(
        30,
        "Days a sign-up is kept after its link expired (one subscribed at once: after it was "
        "made); then it and its email are deleted. The ledger keeps the proof.",
    )
    feedback_max_age_hours: int = _setting(
        72, "Mailbox feedback older than this is refused; applied event ids are kept as long."
    )
    sns_cert_hosts: str = _setting(
        "sns.*.amazonaws.com,sns.*.amazonaws.com.cn",
        "Hosts (or full origins) Amazon SNS signing certificates may be fetched from.",
    )

    def __post_init__(self) -> None:
        for name, least in _LEAST.items():
            if getattr(self, name) < least:
                raise ValueError(
                    f"COMMPREF_{name.upper()} must be at least {least}, not {getattr(self, name)}"
                )
        if self.link_max_age_days != 0 and self.link_max_age_days < MIN_LINK_AGE_DAYS:
            raise ValueError(
                f"COMMPREF_LINK_MAX_AGE_DAYS must be 0 (links never expire) or at least "
                f"{MIN_LINK_AGE_DAYS} days, not {self.link_max_age_days}"
            )
        mailto = self.list_unsubscribe_mailto
        if mailto is not None and not _MAILTO.fullmatch(mailto):
            raise ValueError(
                f"COMMPREF_LIST_UNSUBSCRIBE_MAILTO is not an email address: {mailto!r}"
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


# Settings that make no sense below a bound: a link that expires at once, a throttle that
# lets no email through, feedback refused as soon as it arrives.
_LEAST = {
    "signup_confirm_days": 1,
    "signup_resend_minutes": 0,
    "signup_daily_emails": 1,
    "signup_keep_days": 0,
    "feedback_max_age_hours": 1,
}


def _coerce(default: Any, raw: str) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw
