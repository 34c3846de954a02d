//! Accounts on SQLite: registration and the first step of a login.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Binary, Integer, Text};

use super::rows::{self, UserColumns, UserRow};
use super::sessions;
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{Attempts, Credentials, EmailKey, LoginLookup, NewSession, NewUser, User};

/// Whether an account has this email.
struct EmailTaken;

impl Statement for EmailTaken {
    type Row = Integer;
    const SQL: &'static str = "SELECT 1 FROM users WHERE email = $1";
}

struct InsertUser;

impl Statement for InsertUser {
    type Row = UserColumns;
    const SQL: &'static str = "
INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)
RETURNING id, email, role, created_at";
}

/// See [`crate::db::Store::create_user`]: the account, its first session and
/// token, atomically (the write queue gives each write a savepoint of its
/// own); `None` when the email is taken.
///
/// The check and the insert cannot race: the write queue's transaction holds
/// SQLite's write lock from its start (`BEGIN IMMEDIATE`), so no other
/// registration runs between them. The unique constraint stays as the last
/// word, and is reported alike.
pub fn create(
    conn: &mut SqliteConnection,
    user: &NewUser,
    session: &NewSession,
) -> QueryResult<Option<User>> {
    let taken = Prepared::<EmailTaken>::new(vec![Bind::Text(&user.email)])
        .get_result::<i32>(conn)
        .optional()?;
    if taken.is_some() {
        return Ok(None);
    }
    let now = rows::now();
    let inserted: QueryResult<UserRow> = Prepared::<InsertUser>::new(vec![
        Bind::Uuid(user.id),
        Bind::Text(&user.email),
        Bind::Text(&user.password_hash),
        Bind::Int(now),
    ])
    .get_result(conn);
    let row = match inserted {
        // Only this insert's violation means the email: a failing statement
        // changes nothing, so there is nothing to roll back.
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => return Ok(None),
        other => other?,
    };
    sessions::start(conn, user.id, session, now)?;
    rows::user(row).map(Some)
}

/// Counts a login attempt in one atomic upsert: a window that has ended
/// restarts at this attempt.
struct CountAttempt;

impl Statement for CountAttempt {
    type Row = (Integer, BigInt);
    const SQL: &'static str = "
INSERT INTO login_attempts (email_hash, attempts, window_ends_at) VALUES ($1, 1, $2)
ON CONFLICT (email_hash) DO UPDATE SET
    attempts = CASE WHEN window_ends_at <= $3 THEN 1 ELSE attempts + 1 END,
    window_ends_at = CASE WHEN window_ends_at <= $3 THEN excluded.window_ends_at
                          ELSE window_ends_at END
RETURNING attempts, window_ends_at";
}

struct FindCredentials;

impl Statement for FindCredentials {
    type Row = (Binary, Text, Text, BigInt, Text);
    const SQL: &'static str =
        "SELECT id, email, role, created_at, password_hash FROM users WHERE email = $1";
}

/// The account with this normalized email, with its hash.
pub fn find_credentials(
    conn: &mut SqliteConnection,
    email: &str,
) -> QueryResult<Option<Credentials>> {
    let row: Option<(Vec<u8>, String, String, i64, String)> =
        Prepared::<FindCredentials>::new(vec![Bind::Text(email)])
            .get_result(conn)
            .optional()?;
    row.map(|(id, email, role, created_at, password_hash)| {
        Ok(Credentials {
            user: rows::user((id, email, role, created_at))?,
            password_hash,
        })
    })
    .transpose()
}

/// See [`crate::db::Store::begin_login`] with a counter: the attempt is
/// counted (committed whatever the login's outcome), and the account read,
/// in one trip through the write queue.
pub fn count_and_find(
    conn: &mut SqliteConnection,
    key: &EmailKey,
    new_window_ends_at: DateTime<Utc>,
    email: Option<&str>,
) -> QueryResult<LoginLookup> {
    let (count, window_ends_at): (i32, i64) = Prepared::<CountAttempt>::new(vec![
        Bind::Bytes(key.as_bytes()),
        Bind::Int(rows::millis(new_window_ends_at)),
        Bind::Int(rows::now()),
    ])
    .get_result(conn)?;
    let credentials = match email {
        Some(email) => find_credentials(conn, email)?,
        None => None,
    };
    Ok(LoginLookup {
        credentials,
        attempts: Some(Attempts {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            window_ends_at: rows::time(window_ends_at)?,
        }),
    })
}
