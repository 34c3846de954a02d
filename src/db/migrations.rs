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
