-- Accounts: the SQLite twin of the PostgreSQL migration of the same name.
-- SQLite has no uuid or timestamptz type: ids are their 16 bytes, and times
-- are milliseconds since the Unix epoch (UTC). STRICT tables refuse a value
-- of the wrong type instead of storing it anyway.
CREATE TABLE users (
    id            BLOB    PRIMARY KEY CHECK (length(id) = 16),
    -- Stored trimmed and lowercased by the application; the unique constraint
    -- backs the in-transaction check that reports "email already taken".
    email         TEXT    NOT NULL CONSTRAINT users_email_key UNIQUE,
    -- A bcrypt hash ($2b$...), never the password.
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT 'USER'
                          CONSTRAINT users_role_check CHECK (role IN ('USER', 'ADMIN')),
    created_at    INTEGER NOT NULL
) STRICT;
