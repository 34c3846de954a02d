//! Accounts on SQLite: registration, the first step of a login, password
//! changes and deletion.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Binary, Integer, Nullable, Text};
use uuid::Uuid;

use super::rows::{self, UserColumns, UserRow, user_columns};
use super::sessions;
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{
    Attempts, AuditEvent, Credentials, DeleteAccount, EmailKey, EndReason, LoginLookup, NewEmail,
    NewSession, NewUser, TokenPurpose,
};
use crate::domain::User;

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
INSERT INTO users (id, email, password_hash, created_at, last_login_at, role, email_verified)
VALUES ($1, $2, $3, $4, CASE WHEN $5 = 1 THEN $4 END, $6, $7)
RETURNING id, email, role, created_at, email_verified, last_login_at, disabled";
}

/// See [`crate::db::Store::create_user`]: the account, its first session and
/// token, its verification link and email, atomically (the write queue gives each write a savepoint of its
/// own); `None` when the email is taken.
///
/// The check and the insert cannot race: the write queue's transaction holds
/// SQLite's write lock from its start (`BEGIN IMMEDIATE`), so no other
/// registration runs between them. The unique constraint stays as the last
/// word, and is reported alike.
pub fn create(
    conn: &mut SqliteConnection,
    user: &NewUser,
    session: Option<&NewSession>,
    event: &AuditEvent,
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
        Bind::Int(i64::from(session.is_some())),
        Bind::Text(user.role.as_str()),
        Bind::Bool(user.email_verified),
    ])
    .get_result(conn);
    let row = match inserted {
        // Only this insert's violation means the email: a failing statement
        // changes nothing, so there is nothing to roll back.
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => return Ok(None),
        other => other?,
    };
    if let Some(session) = session {
        sessions::start(conn, user.id, session, now)?;
    }
    if let Some(verification) = &user.verification {
        super::email::insert_token(
            conn,
            &verification.token,
            user.id,
            TokenPurpose::VerifyEmail,
            &user.email,
        )?;
        super::outbox::queue(conn, &verification.email)?;
    }
    super::audit::insert(conn, event, Some(user.id))?;
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
    type Row = (
        Text,
        Binary,
        Text,
        Text,
        BigInt,
        BigInt,
        Nullable<BigInt>,
        BigInt,
    );
    const SQL: &'static str = concat!(
        "SELECT users.password_hash, ",
        user_columns!(),
        " FROM users WHERE email = $1"
    );
}

/// A [`FindCredentials`] row: the hash, then a [`UserRow`].
type CredentialsRow = (String, Vec<u8>, String, String, i64, i64, Option<i64>, i64);

/// The account with this normalized email, with its hash.
pub fn find_credentials(
    conn: &mut SqliteConnection,
    email: &str,
) -> QueryResult<Option<Credentials>> {
    let row: Option<CredentialsRow> = Prepared::<FindCredentials>::new(vec![Bind::Text(email)])
        .get_result(conn)
        .optional()?;
    row.map(
        |(password_hash, id, email, role, created, verified, last_login, disabled)| {
            Ok(Credentials {
                user: rows::user((id, email, role, created, verified, last_login, disabled))?,
                password_hash,
            })
        },
    )
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

/// Sets the account's hash.
struct SetPassword;

impl Statement for SetPassword {
    type Row = Text;
    const SQL: &'static str = "UPDATE users SET password_hash = $1 WHERE id = $2 RETURNING email";
}

/// See [`crate::db::Store::change_password`]: the hash and the other
/// sessions' end, in one write transaction.
pub fn change_password(
    conn: &mut SqliteConnection,
    user_id: Uuid,
    password_hash: &str,
    keep: Uuid,
    notice: Option<&NewEmail>,
    event: &AuditEvent,
) -> QueryResult<Option<u64>> {
    let email = Prepared::<SetPassword>::new(vec![Bind::Text(password_hash), Bind::Uuid(user_id)])
        .get_result::<String>(conn)
        .optional()?;
    let Some(email) = email else {
        return Ok(None);
    };
    let ended = sessions::end_others(conn, user_id, keep, EndReason::PasswordChanged)?;
    super::email::end_tokens(conn, user_id, TokenPurpose::PasswordReset)?;
    if let Some(notice) = notice {
        let mut notice = notice.clone();
        notice.recipient = email;
        super::outbox::queue(conn, &notice)?;
    }
    super::audit::insert(conn, event, Some(user_id))?;
    Ok(Some(ended))
}

struct DeleteUser;

impl Statement for DeleteUser {
    type Row = Text;
    const SQL: &'static str = "DELETE FROM users WHERE id = $1 RETURNING email";
}

/// See [`crate::db::Store::delete_account`]. The write queue runs one write
/// at a time, so the last-admin check and the delete cannot interleave with
/// another account's deletion.
pub fn delete(
    conn: &mut SqliteConnection,
    user_id: Uuid,
    event: &AuditEvent,
) -> QueryResult<DeleteAccount> {
    let Some(user) = super::admin::find(conn, user_id)? else {
        return Ok(DeleteAccount::Missing);
    };
    if super::admin::is_last_admin(conn, &user)? {
        return Ok(DeleteAccount::LastAdmin);
    }
    // Sessions and refresh tokens go with it (ON DELETE CASCADE), and so
    // does mail not yet sent to it: its links died with the tokens.
    let email: String = Prepared::<DeleteUser>::new(vec![Bind::Uuid(user_id)]).get_result(conn)?;
    super::outbox::drop_pending(conn, &email)?;
    super::audit::insert(conn, event, Some(user_id))?;
    Ok(DeleteAccount::Deleted)
}
