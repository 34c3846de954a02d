//! The SQL migrations under `migrations/`, one directory per backend,
//! embedded in the binary and applied when the database is opened
//! (`authql serve`, `authql migrate`).

use diesel::SqliteConnection;
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::StoreError;
use super::pg::connect_error;

/// The PostgreSQL migrations of this build.
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The SQLite migrations of this build: the same tables, in SQLite's types.
pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Session-level advisory lock key ("authql" in ASCII), held while migrating
/// so that instances starting together do not race on the same migration.
const LOCK_KEY: i64 = 0x61_75_74_68_71_6c;

/// Applies pending PostgreSQL migrations; returns the versions it applied.
///
/// Needs a multi-thread Tokio runtime: diesel's migration harness is
/// synchronous and diesel-async bridges it with `block_in_place`.
pub async fn postgres(database_url: &str) -> Result<Vec<String>, StoreError> {
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .map_err(|e| connect_error(database_url, &e))?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({LOCK_KEY})"))
        .execute(&mut conn)
        .await?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = harness
        .run_pending_migrations(POSTGRES)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        // The error may quote SQL; keep only that a migration failed.
        .map_err(|_| StoreError::new("a migration failed to apply"));
    let mut conn = harness.into_inner();
    diesel::sql_query(format!("SELECT pg_advisory_unlock({LOCK_KEY})"))
        .execute(&mut conn)
        .await?;
    applied
}

/// Applies pending SQLite migrations on `conn` (blocking: call it off the
/// async executor), all in one `BEGIN IMMEDIATE` transaction: SQLite's
/// write lock, taken before the harness reads which migrations are
/// applied, keeps two processes starting together from racing.
pub fn sqlite(conn: &mut SqliteConnection) -> Result<Vec<String>, StoreError> {
    conn.immediate_transaction(|conn| {
        conn.run_pending_migrations(SQLITE)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|_| StoreError::new("a migration failed to apply"))
    })
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::BigInt;
    use diesel::{Connection, QueryableByName, RunQueryDsl};

    use super::*;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn count(conn: &mut SqliteConnection, sql: &str) -> i64 {
        diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
    }

    /// The v2 migration rebuilds the SQLite session tables (to widen a
    /// CHECK): every session and refresh token of v1 must survive it, and
    /// going back down must keep them too.
    #[test]
    fn sqlite_sessions_survive_the_v2_rebuild_both_ways() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        conn.batch_execute("PRAGMA foreign_keys = ON").unwrap();
        for _ in 0..3 {
            conn.run_next_migration(SQLITE).unwrap();
        }
        conn.batch_execute(
            "INSERT INTO users (id, email, password_hash, created_at)
                 VALUES (X'00000000000000000000000000000001', 'a@b.co', '$2b$', 1);
             INSERT INTO sessions (id, user_id, created_at, expires_at, ended_at, end_reason)
                 VALUES (X'00000000000000000000000000000002', X'00000000000000000000000000000001', 1, 9, 5, 'reuse'),
                        (X'00000000000000000000000000000003', X'00000000000000000000000000000001', 1, 9, NULL, NULL);
             INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at, used_at)
                 VALUES (zeroblob(32), X'00000000000000000000000000000003', 1, 9, NULL);",
        )
        .unwrap();
        conn.run_next_migration(SQLITE).unwrap();
        let survived = |conn: &mut SqliteConnection| {
            (
                count(conn, "SELECT count(*) AS n FROM sessions"),
                count(conn, "SELECT count(*) AS n FROM refresh_tokens"),
                count(
                    conn,
                    "SELECT count(*) AS n FROM sessions WHERE end_reason = 'reuse'",
                ),
            )
        };
        assert_eq!(survived(&mut conn), (2, 1, 1));
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) AS n FROM users WHERE email_verified = 0 AND last_login_at IS NULL"
            ),
            1
        );
        // The tokens still reference their sessions (the rename rewrote
        // the foreign key), and the new end reasons are accepted.
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) AS n FROM pragma_foreign_key_check"
            ),
            0
        );
        conn.batch_execute("UPDATE sessions SET end_reason = 'revoked' WHERE ended_at IS NULL")
            .unwrap();
        conn.revert_last_migration(SQLITE).unwrap();
        assert_eq!(survived(&mut conn), (2, 1, 1));
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) AS n FROM sessions WHERE end_reason = 'logout'"
            ),
            1
        );
    }
}
