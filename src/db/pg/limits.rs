//! The first step of a login on PostgreSQL: the per-email attempt counter
//! and the account lookup, in one statement.

use chrono::{DateTime, Utc};
use diesel::sql_types::{Bool, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::UserRow;
use super::users;
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{AttemptCounter, Attempts, Credentials, LoginLookup, StoreError};
use crate::domain::User;

/// Counts the attempt (one atomic upsert: concurrent attempts on any
/// instance each count once, and an expired window restarts at the first
/// attempt after it) and reads the account, if any, alongside.
struct CountAndFind;

impl Statement for CountAndFind {
    type Row = (
        Integer,
        Timestamptz,
        Nullable<SqlUuid>,
        Nullable<Text>,
        Nullable<Text>,
        Nullable<Timestamptz>,
        Nullable<Bool>,
        Nullable<Timestamptz>,
        Nullable<Bool>,
        Nullable<Text>,
    );
    const SQL: &'static str = "
WITH attempt AS (
    INSERT INTO login_attempts AS a (email_hash, attempts, window_ends_at) VALUES ($1, 1, $2)
    ON CONFLICT (email_hash) DO UPDATE SET
        attempts = CASE WHEN a.window_ends_at <= now() THEN 1 ELSE a.attempts + 1 END,
        window_ends_at = CASE WHEN a.window_ends_at <= now() THEN EXCLUDED.window_ends_at
                              ELSE a.window_ends_at END
    RETURNING attempts, window_ends_at
)
SELECT attempt.attempts, attempt.window_ends_at,
       users.id, users.email, users.role, users.created_at, users.email_verified,
       users.last_login_at, users.disabled, users.password_hash
FROM attempt LEFT JOIN users ON users.email = $3";
}

type Found = (
    i32,
    DateTime<Utc>,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<bool>,
    Option<DateTime<Utc>>,
    Option<bool>,
    Option<String>,
);

/// See [`crate::db::Store::begin_login`].
pub async fn begin_login(
    conn: &mut AsyncPgConnection,
    email: Option<&str>,
    counter: Option<AttemptCounter<'_>>,
) -> Result<LoginLookup, StoreError> {
    let Some(counter) = counter else {
        let credentials = match email {
            Some(email) => users::find_credentials(conn, email).await?,
            None => None,
        };
        return Ok(LoginLookup {
            credentials,
            attempts: None,
        });
    };
    let found: Found = Prepared::<CountAndFind>::new(vec![
        Bind::Bytes(counter.key.as_bytes()),
        Bind::Timestamp(counter.new_window_ends_at),
        // No account has the empty email: a malformed one finds nobody.
        Bind::Text(email.unwrap_or("")),
    ])
    .get_result(conn)
    .await?;
    let (
        count,
        window_ends_at,
        id,
        stored_email,
        role,
        created_at,
        verified,
        last_login,
        disabled,
        hash,
    ) = found;
    let credentials = match (id, stored_email, role, created_at, verified, hash) {
        (Some(id), Some(email), Some(role), Some(created_at), Some(verified), Some(hash)) => {
            let user = User::try_from(UserRow {
                id,
                email,
                role,
                created_at,
                email_verified: verified,
                last_login_at: last_login,
                disabled: disabled.unwrap_or(false),
            })?;
            Some(Credentials {
                user,
                password_hash: hash,
            })
        }
        _ => None,
    };
    Ok(LoginLookup {
        credentials,
        attempts: Some(Attempts {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            window_ends_at,
        }),
    })
}
