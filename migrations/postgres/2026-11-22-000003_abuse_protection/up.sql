-- Login attempts per email, for RATE_LIMIT_LOGIN. Keyed by the SHA-256 of
-- the normalized email: attacker-chosen text of any length never lands in the
-- table, and neither does an address that has no account. The counter lives
-- here, not in process memory, so the limit holds across every instance
-- sharing the database. A fixed window: it starts at the first attempt.
CREATE TABLE login_attempts (
    email_hash     bytea       PRIMARY KEY CONSTRAINT login_attempts_hash_length CHECK (length(email_hash) = 32),
    attempts       integer     NOT NULL,
    window_ends_at timestamptz NOT NULL
);
CREATE INDEX login_attempts_window_ends_at_idx ON login_attempts (window_ends_at);

-- For the background purge of expired rows (see the housekeeping task).
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
