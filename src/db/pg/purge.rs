//! The background purge of rows that can no longer matter, on PostgreSQL.
//!
//! Each statement deletes at most one batch, and skips rows another
//! transaction holds (`SKIP LOCKED`): live traffic never waits on it.

use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{Purged, StoreError};

/// Defines a statement deleting up to `$1` rows of `$table` whose `$expiry`
/// has passed, skipping rows another transaction holds; it returns how many
/// it deleted.
macro_rules! purge_statement {
    ($(#[$doc:meta])* $name:ident: $table:literal by $key:literal where $expiry:literal) => {
        $(#[$doc])*
        struct $name;

        impl Statement for $name {
            type Row = BigInt;
            const SQL: &'static str = concat!(
                "WITH gone AS (DELETE FROM ", $table, " WHERE ", $key, " IN (",
                "SELECT ", $key, " FROM ", $table, " WHERE ", $expiry, " < now() ",
                "LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING 1) ",
                "SELECT count(*) FROM gone"
            );
        }
    };
}

purge_statement!(
    /// Refresh tokens past their expiry: their JWT is expired too, so no flow
    /// can use them (`logout` of such a token goes by its signed session id).
    PurgeTokens: "refresh_tokens" by "token_hash" where "expires_at"
);

purge_statement!(
    /// Sessions past their expiry (the expiry of their newest token), ended or
    /// not: every token they had has expired.
    PurgeSessions: "sessions" by "id" where "expires_at"
);

purge_statement!(
    /// Login-attempt counters whose window has ended.
    PurgeAttempts: "login_attempts" by "email_hash" where "window_ends_at"
);

purge_statement!(
    /// Tokens of emailed links past their expiry (spent or not).
    PurgeEmailTokens: "email_tokens" by "token_hash" where "expires_at"
);

purge_statement!(
    /// `RATE_LIMIT_EMAIL` counters whose window has ended.
    PurgeEmailRequests: "email_requests" by "email_hash" where "window_ends_at"
);

purge_statement!(
    /// Sent or abandoned emails (already without a body), a week after.
    PurgeOutbox: "outbox" by "id" where "COALESCE(sent_at, abandoned_at) + interval '7 days'"
);

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
pub async fn batch(
    conn: &mut AsyncPgConnection,
    batch: u32,
    audit_before: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Purged, StoreError> {
    let batch = i64::from(batch);
    Ok(Purged {
        refresh_tokens: one::<PurgeTokens>(conn, batch).await?,
        sessions: one::<PurgeSessions>(conn, batch).await?,
        login_attempts: one::<PurgeAttempts>(conn, batch).await?,
        email_tokens: one::<PurgeEmailTokens>(conn, batch).await?,
        email_requests: one::<PurgeEmailRequests>(conn, batch).await?,
        outbox: one::<PurgeOutbox>(conn, batch).await?,
        audit_events: match audit_before {
            Some(before) => super::audit::purge(conn, before, batch).await?,
            None => 0,
        },
    })
}
