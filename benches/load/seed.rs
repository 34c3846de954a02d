//! Bulk seeding for `admin_users_search`: a million accounts straight into
//! the database (not through the API: bcrypt alone would take hours), one
//! in 1,000 of them with `needle` in its email. The domain shares no
//! trigram with `needle` (`seed.example` would: `eed`), so the search is
//! the selective one the scenario means to measure.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

/// Accounts seeded.
pub const ACCOUNTS: u32 = 1_000_000;
/// The search that matches one in 1,000 of them.
pub const NEEDLE: &str = "needle";
/// A well-formed bcrypt hash nobody's password matches (the seeded
/// accounts never sign in).
const HASH: &str = "$2b$10$abcdefghijklmnopqrstuuJ8M8QMf9G9QmQqQ6YwB1v3aMqgUV6K";

/// Seeds [`ACCOUNTS`] accounts and makes `admin` an ADMIN; returns the time
/// the seeding took.
pub async fn million(url: &str, admin: &str) -> Duration {
    let started = Instant::now();
    let promote = format!("UPDATE users SET role = 'ADMIN' WHERE email = '{admin}';");
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let sql = format!(
            "PRAGMA busy_timeout = 10000;
             BEGIN IMMEDIATE;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ACCOUNTS})
             INSERT INTO users (id, email, password_hash, created_at)
             SELECT randomblob(16),
                    CASE WHEN i % 1000 = 0 THEN '{NEEDLE}-' ELSE 'user-' END || i || '@bench.example',
                    '{HASH}', CAST(unixepoch('subsec') * 1000 AS INTEGER) - i * 10
             FROM n;
             {promote}
             COMMIT;"
        );
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut conn = SqliteConnection::establish(&path).expect("the bench database");
            conn.batch_execute(&sql).expect("seeding SQLite");
        })
        .await
        .unwrap();
        return started.elapsed();
    }
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .expect("the bench database");
    // Indexes built once after the rows, not a million times during.
    let trigram =
        "CREATE INDEX IF NOT EXISTS users_email_trgm_idx ON users USING gin (email gin_trgm_ops);";
    let sql = format!(
        "DROP INDEX IF EXISTS users_email_trgm_idx;
         DROP INDEX IF EXISTS users_created_idx;
         INSERT INTO users (id, email, password_hash, created_at)
         SELECT gen_random_uuid(),
                CASE WHEN i % 1000 = 0 THEN '{NEEDLE}-' ELSE 'user-' END || i || '@bench.example',
                '{HASH}', now() - i * interval '10 ms'
         FROM generate_series(1, {ACCOUNTS}) AS i;
         CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);
         {trigram}
         {promote}
         ANALYZE users;"
    );
    conn.batch_execute(&sql).await.expect("seeding PostgreSQL");
    started.elapsed()
}
