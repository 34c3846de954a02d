-- Back to the v1 tables (the new columns are dropped; v2-only end reasons
-- become 'logout').
CREATE TABLE sessions_v1 (
    id         BLOB    PRIMARY KEY CHECK (length(id) = 16),
    user_id    BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at   INTEGER,
    end_reason TEXT    CONSTRAINT sessions_end_reason_check
                       CHECK (end_reason IN ('logout', 'logout_all', 'reuse'))
) STRICT;
INSERT INTO sessions_v1 SELECT id, user_id, created_at, expires_at, ended_at,
    CASE WHEN end_reason IN ('logout', 'logout_all', 'reuse') OR end_reason IS NULL
         THEN end_reason ELSE 'logout' END
    FROM sessions;
CREATE TABLE refresh_tokens_v1 (
    token_hash BLOB    PRIMARY KEY CONSTRAINT refresh_tokens_hash_length CHECK (length(token_hash) = 32),
    session_id BLOB    NOT NULL REFERENCES sessions_v1 (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
INSERT INTO refresh_tokens_v1 SELECT * FROM refresh_tokens;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
ALTER TABLE sessions_v1 RENAME TO sessions;
ALTER TABLE refresh_tokens_v1 RENAME TO refresh_tokens;
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);
ALTER TABLE users DROP COLUMN last_login_at;
ALTER TABLE users DROP COLUMN email_verified;
