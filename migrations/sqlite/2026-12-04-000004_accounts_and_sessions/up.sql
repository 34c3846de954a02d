-- The SQLite twin of the PostgreSQL migration of the same name (see it for
-- what each column means).
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0
    CONSTRAINT users_email_verified_bool CHECK (email_verified IN (0, 1));
ALTER TABLE users ADD COLUMN last_login_at INTEGER;

-- SQLite cannot change a CHECK constraint in place (sessions.end_reason
-- gains values), so both session tables are rebuilt, the tokens' first:
-- dropping `sessions` while `refresh_tokens` still referenced it would
-- cascade-delete every token. Renaming `sessions_v2` rewrites the reference
-- in `refresh_tokens_v2`.
CREATE TABLE sessions_v2 (
    id             BLOB    PRIMARY KEY CHECK (length(id) = 16),
    user_id        BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    ended_at       INTEGER,
    end_reason     TEXT    CONSTRAINT sessions_end_reason_check CHECK (end_reason IN (
                               'logout', 'logout_all', 'reuse', 'logout_others', 'revoked',
                               'password_changed', 'password_reset')),
    last_active_at INTEGER,
    user_agent     TEXT    CONSTRAINT sessions_user_agent_length CHECK (length(user_agent) <= 256),
    ip             TEXT    CONSTRAINT sessions_ip_length CHECK (length(ip) <= 45)
) STRICT;
INSERT INTO sessions_v2 (id, user_id, created_at, expires_at, ended_at, end_reason)
    SELECT id, user_id, created_at, expires_at, ended_at, end_reason FROM sessions;

CREATE TABLE refresh_tokens_v2 (
    token_hash BLOB    PRIMARY KEY CONSTRAINT refresh_tokens_hash_length CHECK (length(token_hash) = 32),
    session_id BLOB    NOT NULL REFERENCES sessions_v2 (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
INSERT INTO refresh_tokens_v2 SELECT token_hash, session_id, created_at, expires_at, used_at
    FROM refresh_tokens;

DROP TABLE refresh_tokens;
DROP TABLE sessions;
ALTER TABLE sessions_v2 RENAME TO sessions;
ALTER TABLE refresh_tokens_v2 RENAME TO refresh_tokens;

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);
