-- Sessions and refresh tokens: the SQLite twin of the PostgreSQL migration of
-- the same name (see it for what each column means). Foreign keys are
-- enforced because every connection turns them on.
CREATE TABLE sessions (
    id         BLOB    PRIMARY KEY CHECK (length(id) = 16),
    user_id    BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    -- Slides forward on every rotation: the expiry of the newest refresh token.
    expires_at INTEGER NOT NULL,
    -- Set once, when the session ends; a session never comes back to life.
    ended_at   INTEGER,
    end_reason TEXT    CONSTRAINT sessions_end_reason_check
                       CHECK (end_reason IN ('logout', 'logout_all', 'reuse'))
) STRICT;
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Every refresh token ever issued, by its SHA-256. Single use: rotation sets
-- `used_at` and inserts the successor in the same write transaction.
CREATE TABLE refresh_tokens (
    token_hash BLOB    PRIMARY KEY CONSTRAINT refresh_tokens_hash_length CHECK (length(token_hash) = 32),
    session_id BLOB    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
