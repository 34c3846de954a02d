UPDATE sessions SET end_reason = 'logout'
WHERE end_reason NOT IN ('logout', 'logout_all', 'reuse');
ALTER TABLE sessions
    DROP CONSTRAINT sessions_end_reason_check,
    ADD CONSTRAINT sessions_end_reason_check CHECK (end_reason IN ('logout', 'logout_all', 'reuse')),
    DROP COLUMN ip,
    DROP COLUMN user_agent,
    DROP COLUMN last_active_at;
ALTER TABLE users DROP COLUMN last_login_at, DROP COLUMN email_verified;
