-- Administration and the audit log: accounts an ADMIN can disable, an
-- index that keeps the users search fast at a million accounts, and one
-- table of security events.

-- A disabled account cannot sign in; disabling also ends its sessions and
-- tokens (in the same transaction), so nothing it holds still works.
ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false;

-- The users list pages newest first by (created_at, id).
CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);

-- The search is a case-insensitive substring of the (lowercased) email:
-- `LIKE '%...%'` can use a trigram index. pg_trgm ships with PostgreSQL
-- and is a trusted extension (a database owner may create it); where it is
-- missing the search still works, scanning the table instead.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX users_email_trgm_idx ON users USING gin (email gin_trgm_ops);
    END IF;
END
$$;

-- Security events, written in the same transaction as the change each one
-- records. `user_id` and `actor_id` are not foreign keys: an account's
-- events outlive it (who deleted it, and when, is worth keeping). No
-- column holds a password, hash, token, code or the email of an account
-- that does not exist.
CREATE TABLE audit_events (
    id         uuid        PRIMARY KEY,
    type       text        NOT NULL,
    at         timestamptz NOT NULL,
    user_id    uuid,
    actor_id   uuid,
    session_id uuid,
    ip         text,
    user_agent text,
    reason     text,
    request_id text
);
-- Newest first, for everyone's events and for one account's.
CREATE INDEX audit_events_at_idx ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, at DESC, id DESC);
