-- Email: single-use tokens for the links in emails, the outbox that carries
-- each email to the mail server, and the per-address counter of
-- RATE_LIMIT_EMAIL.

-- A token in an emailed link (password reset, email verification, email
-- change), by its SHA-256 only: the database never holds a usable link
-- once its email is sent. `email` is the address the token was issued for
-- (the new address of an email change), so a token issued before the
-- account's address changed does not confirm the new one by accident.
CREATE TABLE email_tokens (
    token_hash bytea       PRIMARY KEY CONSTRAINT email_tokens_hash_length CHECK (length(token_hash) = 32),
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text        NOT NULL CONSTRAINT email_tokens_purpose_check
                           CHECK (purpose IN ('password_reset', 'email_verify', 'email_change')),
    email      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    -- Set when the token is spent or superseded; a token never comes back.
    ended_at   timestamptz
);
-- The live tokens of an account (what a new request supersedes); spent and
-- superseded ones wait for the purge without slowing that down.
CREATE INDEX email_tokens_live_idx ON email_tokens (user_id, purpose) WHERE ended_at IS NULL;
-- For ON DELETE CASCADE from users.
CREATE INDEX email_tokens_user_id_idx ON email_tokens (user_id);
CREATE INDEX email_tokens_expires_at_idx ON email_tokens (expires_at);

-- Emails waiting for the mail server, written in the same transaction as
-- the change that causes them. The worker claims a row by pushing
-- `next_attempt_at` forward (a lease: a crashed worker's claim runs out),
-- sends, and then clears the body (`subject` and bodies become NULL: a
-- sent link stays only in the recipient's mailbox).
CREATE TABLE outbox (
    id              uuid        PRIMARY KEY,
    kind            text        NOT NULL,
    recipient       text        NOT NULL,
    subject         text,
    text_body       text,
    html_body       text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    abandoned_at    timestamptz
);
-- The worker's queue: only what is still to be sent.
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at)
    WHERE sent_at IS NULL AND abandoned_at IS NULL;

-- RATE_LIMIT_EMAIL: emails asked for per target address (known or not),
-- keyed by the SHA-256 of the normalized address, as login_attempts is.
CREATE TABLE email_requests (
    email_hash     bytea       PRIMARY KEY CONSTRAINT email_requests_hash_length CHECK (length(email_hash) = 32),
    requests       integer     NOT NULL,
    window_ends_at timestamptz NOT NULL
);
CREATE INDEX email_requests_window_ends_at_idx ON email_requests (window_ends_at);
