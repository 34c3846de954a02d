-- Login attempts per email, for RATE_LIMIT_LOGIN, keyed by the SHA-256 of
-- the normalized email (see the PostgreSQL migration of the same name).
CREATE TABLE login_attempts (
    email_hash     BLOB    PRIMARY KEY CONSTRAINT login_attempts_hash_length CHECK (length(email_hash) = 32),
    attempts       INTEGER NOT NULL,
    window_ends_at INTEGER NOT NULL
) STRICT;
CREATE INDEX login_attempts_window_ends_at_idx ON login_attempts (window_ends_at);

-- For the background purge of expired rows (see the housekeeping task).
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
