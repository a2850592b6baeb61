"""The SQL of migrations 9 onward, listed by version and name in `migrations.MIGRATIONS`.

Kept apart only to keep `migrations.py` short; the placeholders are the dialects' of
`migrations.py`. Never edit a released migration: add a new one.
"""

from __future__ import annotations

# 9: console users, their portals and sessions; sign-in attempts; page branding
# Sessions are stored by the SHA-256 of the cookie's value, so a copy of the table
# signs nobody in. Attempts are kept only as long as the throttle looks back.
CONSOLE_AND_BRANDING = """
        CREATE TABLE console_users (
            id {serial},
            email TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            all_portals {bool} NOT NULL DEFAULT {false},
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            disabled_at BIGINT
        );
        CREATE TABLE console_memberships (
            user_id BIGINT NOT NULL REFERENCES console_users (id),
            portal_id BIGINT NOT NULL REFERENCES portals (id),
            PRIMARY KEY (user_id, portal_id)
        );
        CREATE TABLE console_sessions (
            id_hash TEXT PRIMARY KEY,
            user_id BIGINT NOT NULL REFERENCES console_users (id),
            csrf TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            seen_at BIGINT NOT NULL,
            ended_at BIGINT
        );
        CREATE INDEX console_sessions_by_user ON console_sessions (user_id);
        CREATE TABLE signin_attempts (
            key TEXT NOT NULL,
            at BIGINT NOT NULL
        );
        CREATE INDEX signin_attempts_by_key ON signin_attempts (key, at);
        ALTER TABLE portals ADD COLUMN brand_name TEXT;
        ALTER TABLE portals ADD COLUMN brand_logo_url TEXT;
        ALTER TABLE portals ADD COLUMN brand_colour TEXT
        """

# 10: each portal's own preference-link keys
# A portal's links are sealed with its newest key (`portals.link_key_id`, read with
# the portal's context); a token names its key, so verifying reads that one row.
# Until a portal's first rotation its links use the server's keys, which keep
# verifying its older links until it retires them (`server_link_keys`).
LINK_KEYS = """
        CREATE TABLE link_keys (
            id {serial},
            portal_id BIGINT NOT NULL REFERENCES portals (id),
            secret TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            retired_at BIGINT
        );
        CREATE INDEX link_keys_by_portal ON link_keys (portal_id, id);
        ALTER TABLE portals ADD COLUMN link_key_id BIGINT;
        ALTER TABLE portals ADD COLUMN server_link_keys {bool} NOT NULL DEFAULT {true}
        """

# 11: sign-ups with double opt-in, the mail outbox, mailbox feedback
# A sign-up's confirmation token is stored as its SHA-256 only. The outbox holds each
# message as sent (its Message-ID fixed at enqueue, so a retry is the same message);
# the mail job claims due rows with a lease, as webhook delivery does. Feedback
# events are kept by provider id for as long as a delivery may come again
# (`feedback_max_age_hours`), so each applies once.
SIGNUPS_AND_FEEDBACK = """
        ALTER TABLE portals ADD COLUMN double_opt_in {bool} NOT NULL DEFAULT {false};
        ALTER TABLE portals ADD COLUMN mail_from TEXT;
        ALTER TABLE business_units ADD COLUMN double_opt_in {bool};
        CREATE TABLE signups (
            id {serial},
            portal_id BIGINT NOT NULL REFERENCES portals (id),
            email TEXT NOT NULL,
            business_unit_id BIGINT NOT NULL,
            subscription_ids TEXT NOT NULL,
            language TEXT NOT NULL,
            source TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            requested_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            confirmed_at BIGINT,
            correlation_id TEXT NOT NULL
        );
        CREATE INDEX signups_by_address ON signups (portal_id, email, requested_at);
        CREATE TABLE mail_outbox (
            id {serial},
            portal_id BIGINT NOT NULL REFERENCES portals (id),
            signup_id BIGINT REFERENCES signups (id),
            recipient TEXT NOT NULL,
            message {blob} NOT NULL,
            message_id TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at BIGINT NOT NULL,
            lease_until BIGINT,
            last_error TEXT,
            created_at BIGINT NOT NULL,
            sent_at BIGINT
        );
        CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
        CREATE INDEX mail_outbox_by_signup ON mail_outbox (signup_id);
        CREATE TABLE feedback_providers (
            portal_id BIGINT NOT NULL REFERENCES portals (id),
            provider TEXT NOT NULL,
            config TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (portal_id, provider)
        );
        CREATE TABLE feedback_events (
            portal_id BIGINT NOT NULL,
            provider TEXT NOT NULL,
            event_id TEXT NOT NULL,
            received_at BIGINT NOT NULL,
            PRIMARY KEY (portal_id, provider, event_id)
        );
        CREATE INDEX feedback_events_by_age ON feedback_events (received_at)
        """

# 12: sign-ups subscribed at once are recorded too
# Every sign-up gets a row and an id, so the API's answer is the same whether the address
# was subscribed at once or, having opted out, asked to confirm: only the sign-up's state
# (read with another scope) tells the two apart. The stores recount the tallies after it
# (`RECOUNTED_AFTER`), so complaints and confirmations move to their own chart sources.
# Sign-ups are deleted some days after their link expired (`prune_signups`, by expiry).
DIRECT_SIGNUPS = """
        ALTER TABLE signups ADD COLUMN direct {bool} NOT NULL DEFAULT {false};
        CREATE INDEX signups_by_expiry ON signups (expires_at)
        """
