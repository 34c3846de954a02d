-- The SQLite twin of the PostgreSQL migration of the same name (see it for
-- what each table and column means). SQLite has no trigram index: the
-- users search scans the table (see the README for its cost).
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));

CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);

CREATE TABLE audit_events (
    id         BLOB    PRIMARY KEY CHECK (length(id) = 16),
    type       TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    user_id    BLOB,
    actor_id   BLOB,
    session_id BLOB,
    ip         TEXT,
    user_agent TEXT,
    reason     TEXT,
    request_id TEXT
) STRICT;
CREATE INDEX audit_events_at_idx ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, at DESC, id DESC);
