//! The background purge of rows that can no longer matter, on PostgreSQL.
//!
//! Each statement deletes at most one batch, and skips rows another
//! transaction holds (`SKIP LOCKED`): live traffic never waits on it.

use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::prepared::{Bind, Prepared, Statement};
use crate::db::{Purged, StoreError};

/// Refresh tokens past their expiry: their JWT is expired too, so no flow
/// can use them (logout of such a token answers `false` by its signature).
struct PurgeTokens;

impl Statement for PurgeTokens {
    type Row = BigInt;
    const SQL: &'static str = "
WITH gone AS (
    DELETE FROM refresh_tokens WHERE token_hash IN (
        SELECT token_hash FROM refresh_tokens WHERE expires_at < now()
        LIMIT $1 FOR UPDATE SKIP LOCKED)
    RETURNING 1
)
SELECT count(*) FROM gone";
}

/// Sessions past their expiry (the expiry of their newest token), ended or
/// not: every token they had has expired.
struct PurgeSessions;

impl Statement for PurgeSessions {
    type Row = BigInt;
    const SQL: &'static str = "
WITH gone AS (
    DELETE FROM sessions WHERE id IN (
        SELECT id FROM sessions WHERE expires_at < now()
        LIMIT $1 FOR UPDATE SKIP LOCKED)
    RETURNING 1
)
SELECT count(*) FROM gone";
}

/// Login-attempt counters whose window has ended.
struct PurgeAttempts;

impl Statement for PurgeAttempts {
    type Row = BigInt;
    const SQL: &'static str = "
WITH gone AS (
    DELETE FROM login_attempts WHERE email_hash IN (
        SELECT email_hash FROM login_attempts WHERE window_ends_at < now()
        LIMIT $1 FOR UPDATE SKIP LOCKED)
    RETURNING 1
)
SELECT count(*) FROM gone";
}

async fn one<S: Statement<Row = BigInt>>(
    conn: &mut AsyncPgConnection,
    batch: i64,
) -> Result<u64, StoreError> {
    let deleted: i64 = Prepared::<S>::new(vec![Bind::Int(batch)])
        .get_result(conn)
        .await?;
    Ok(u64::try_from(deleted).unwrap_or(0))
}

/// See [`crate::db::Store::purge_expired`].
pub async fn batch(conn: &mut AsyncPgConnection, batch: u32) -> Result<Purged, StoreError> {
    let batch = i64::from(batch);
    Ok(Purged {
        refresh_tokens: one::<PurgeTokens>(conn, batch).await?,
        sessions: one::<PurgeSessions>(conn, batch).await?,
        login_attempts: one::<PurgeAttempts>(conn, batch).await?,
    })
}
