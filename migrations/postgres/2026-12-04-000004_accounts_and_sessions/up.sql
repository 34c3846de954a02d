-- v2 accounts: whether the address is proven, and the last sign-in.
ALTER TABLE users
    ADD COLUMN email_verified boolean NOT NULL DEFAULT false,
    ADD COLUMN last_login_at  timestamptz;

-- v2 sessions: what a person sees of each device. `last_active_at` is null
-- until the first rotation (the API shows `created_at` then), so adding it
-- rewrites no row. `ip` is the client IP of the request that last used the
-- session (the sign-in, then each rotation, in the rotation's statement).
ALTER TABLE sessions
    ADD COLUMN last_active_at timestamptz,
    ADD COLUMN user_agent     text CONSTRAINT sessions_user_agent_length CHECK (char_length(user_agent) <= 256),
    ADD COLUMN ip             text CONSTRAINT sessions_ip_length CHECK (char_length(ip) <= 45),
    DROP CONSTRAINT sessions_end_reason_check,
    ADD CONSTRAINT sessions_end_reason_check CHECK (end_reason IN (
        'logout', 'logout_all', 'reuse', 'logout_others', 'revoked',
        'password_changed', 'password_reset'));
