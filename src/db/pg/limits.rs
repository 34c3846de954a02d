//! Login-attempt counters on PostgreSQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::prepared::{Bind, Prepared, Statement};
use crate::db::schema::login_attempts;
use crate::db::{Attempts, EmailKey, StoreError};

/// One atomic upsert: concurrent attempts on any instance each count once,
/// and an expired window restarts at the first attempt after it.
struct CountAttempt;

impl Statement for CountAttempt {
    type Row = (Integer, Timestamptz);
    const SQL: &'static str = "
INSERT INTO login_attempts AS a (email_hash, attempts, window_ends_at) VALUES ($1, 1, $2)
ON CONFLICT (email_hash) DO UPDATE SET
    attempts = CASE WHEN a.window_ends_at <= now() THEN 1 ELSE a.attempts + 1 END,
    window_ends_at = CASE WHEN a.window_ends_at <= now() THEN EXCLUDED.window_ends_at
                          ELSE a.window_ends_at END
RETURNING attempts, window_ends_at";
}

/// See [`crate::db::Store::count_login_attempt`].
pub async fn count(
    conn: &mut AsyncPgConnection,
    email: &EmailKey,
    new_window_ends_at: DateTime<Utc>,
) -> Result<Attempts, StoreError> {
    let (count, window_ends_at): (i32, DateTime<Utc>) = Prepared::<CountAttempt>::new(vec![
        Bind::Bytes(email.as_bytes()),
        Bind::Timestamp(new_window_ends_at),
    ])
    .get_result(conn)
    .await?;
    Ok(Attempts {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        window_ends_at,
    })
}

/// See [`crate::db::Store::clear_login_attempts`].
pub async fn clear(conn: &mut AsyncPgConnection, email: &EmailKey) -> Result<(), StoreError> {
    diesel::delete(login_attempts::table.filter(login_attempts::email_hash.eq(email.as_bytes())))
        .execute(conn)
        .await?;
    Ok(())
}
