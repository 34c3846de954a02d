-- A session is one sign-in (register or login) of one account, on one device.
-- Access tokens name their session (the `sid` claim) and are refused as soon
-- as it has ended, so ending a session here is what logs a device out.
CREATE TABLE sessions (
    id         uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Slides forward on every rotation: the expiry of the newest refresh token.
    expires_at timestamptz NOT NULL,
    -- Set once, when the session ends; a session never comes back to life.
    ended_at   timestamptz,
    end_reason text        CONSTRAINT sessions_end_reason_check
                           CHECK (end_reason IN ('logout', 'logout_all', 'reuse'))
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Every refresh token ever issued, by the SHA-256 of the token: a database
-- leak yields no usable token. A token is single use: rotation sets `used_at`
-- and inserts its successor in the same session, in one statement.
CREATE TABLE refresh_tokens (
    token_hash bytea       PRIMARY KEY CONSTRAINT refresh_tokens_hash_length CHECK (length(token_hash) = 32),
    session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    -- Set when the token is traded for a new one; presenting it again is reuse.
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
