//! Accounts on PostgreSQL.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::models::UserRow;
use super::schema::users;
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{CreateUserError, Credentials, NewSession, NewUser, StoreError, User};

/// The unique constraint on `users.email` (see the first migration).
const EMAIL_KEY: &str = "users_email_key";

/// Creates the account, its first session and that session's refresh token
/// in one statement: one round trip and one commit, all or nothing.
struct Register;

impl Statement for Register {
    type Row = (SqlUuid, Text, Text, Timestamptz);
    const SQL: &'static str = "
WITH account AS (
    INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)
    RETURNING id, email, role, created_at
), session AS (
    INSERT INTO sessions (id, user_id, expires_at) SELECT $4, id, $5 FROM account
), token AS (
    INSERT INTO refresh_tokens (token_hash, session_id, expires_at) SELECT $6, $4, $5 FROM account
)
SELECT id, email, role, created_at FROM account";
}

/// See [`crate::db::Store::create_user`]. A taken email is recognised by the
/// constraint that refused it, so two concurrent registrations of one email
/// cannot both succeed.
pub async fn create(
    conn: &mut AsyncPgConnection,
    user: NewUser,
    session: NewSession,
) -> Result<User, CreateUserError> {
    let result = Prepared::<Register>::new(vec![
        Bind::Uuid(user.id),
        Bind::Text(&user.email),
        Bind::Text(&user.password_hash),
        Bind::Uuid(session.id),
        Bind::Timestamp(session.refresh_token.expires_at),
        Bind::Bytes(session.refresh_token.hash.as_bytes()),
    ])
    .get_result::<UserRow>(conn)
    .await;
    match result {
        Ok(row) => Ok(User::try_from(row)?),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info))
            if info.constraint_name() == Some(EMAIL_KEY) =>
        {
            Err(CreateUserError::EmailTaken)
        }
        Err(error) => Err(StoreError::from(error).into()),
    }
}

/// The account with this normalized email, with its hash.
pub(super) async fn find_credentials(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> Result<Option<Credentials>, StoreError> {
    let row: Option<(UserRow, String)> = users::table
        .filter(users::email.eq(email))
        .select((UserRow::as_select(), users::password_hash))
        .first(conn)
        .await
        .optional()?;
    row.map(|(user, password_hash)| {
        Ok(Credentials {
            user: User::try_from(user)?,
            password_hash,
        })
    })
    .transpose()
}
