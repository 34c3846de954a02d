-- The SQLite twin of the PostgreSQL migration of the same name (see it for
-- what each table and column means).
CREATE TABLE email_tokens (
    token_hash BLOB    PRIMARY KEY CONSTRAINT email_tokens_hash_length CHECK (length(token_hash) = 32),
    user_id    BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL CONSTRAINT email_tokens_purpose_check
                       CHECK (purpose IN ('password_reset', 'email_verify', 'email_change')),
    email      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at   INTEGER
) STRICT;
-- The live tokens of an account (what a new request supersedes); spent and
-- superseded ones wait for the purge without slowing that down.
CREATE INDEX email_tokens_live_idx ON email_tokens (user_id, purpose) WHERE ended_at IS NULL;
-- For ON DELETE CASCADE from users.
CREATE INDEX email_tokens_user_id_idx ON email_tokens (user_id);
CREATE INDEX email_tokens_expires_at_idx ON email_tokens (expires_at);

CREATE TABLE outbox (
    id              BLOB    PRIMARY KEY CHECK (length(id) = 16),
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    subject         TEXT,
    text_body       TEXT,
    html_body       TEXT,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    sent_at         INTEGER,
    abandoned_at    INTEGER
) STRICT;
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at)
    WHERE sent_at IS NULL AND abandoned_at IS NULL;

CREATE TABLE email_requests (
    email_hash     BLOB    PRIMARY KEY CONSTRAINT email_requests_hash_length CHECK (length(email_hash) = 32),
    requests       INTEGER NOT NULL,
    window_ends_at INTEGER NOT NULL
) STRICT;
CREATE INDEX email_requests_window_ends_at_idx ON email_requests (window_ends_at);
