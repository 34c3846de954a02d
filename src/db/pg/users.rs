//! Accounts on PostgreSQL.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{UserColumns, UserRow};
use super::schema::users;
use super::{outbox, sessions};
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{
    CreateUserError, Credentials, DeleteAccount, NewEmail, NewSession, NewUser, StoreError,
    TokenPurpose,
};
use crate::domain::{Role, User};

/// The unique constraint on `users.email` (see the first migration).
const EMAIL_KEY: &str = "users_email_key";

/// Creates the account, its first session and that session's refresh token
/// in one statement: one round trip and one commit, all or nothing.
struct Register;

impl Statement for Register {
    type Row = UserColumns;
    const SQL: &'static str = "
WITH account AS (
    INSERT INTO users (id, email, password_hash, last_login_at) VALUES ($1, $2, $3, now())
    RETURNING id, email, role, created_at, email_verified, last_login_at
), session AS (
    INSERT INTO sessions (id, user_id, expires_at, user_agent, ip)
    SELECT $4, id, $5, $7, $8 FROM account
), token AS (
    INSERT INTO refresh_tokens (token_hash, session_id, expires_at) SELECT $6, $4, $5 FROM account
)
SELECT id, email, role, created_at, email_verified, last_login_at FROM account";
}

/// See [`crate::db::Store::create_user`]. A taken email is recognised by the
/// constraint that refused it, so two concurrent registrations of one email
/// cannot both succeed.
pub async fn create(
    conn: &mut AsyncPgConnection,
    user: NewUser,
    session: Option<NewSession>,
) -> Result<User, CreateUserError> {
    if session.is_none() || user.verification.is_some() {
        return create_with_verification(conn, &user, session.as_ref())
            .await?
            .map(User::try_from)
            .transpose()?
            .ok_or(CreateUserError::EmailTaken);
    }
    let Some(session) = session else {
        return Err(CreateUserError::EmailTaken);
    };
    // The common case, in one statement and one round trip.
    let result = Prepared::<Register>::new(vec![
        Bind::Uuid(user.id),
        Bind::Text(&user.email),
        Bind::Text(&user.password_hash),
        Bind::Uuid(session.id),
        Bind::Timestamp(session.refresh_token.expires_at),
        Bind::Bytes(session.refresh_token.hash.as_bytes()),
        Bind::OptText(session.user_agent.as_deref()),
        Bind::OptText(session.ip.as_deref()),
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

/// Inserts the account unless its address is taken (`ON CONFLICT`: no
/// error, so the transaction it runs in goes on).
struct InsertUser;

impl Statement for InsertUser {
    type Row = UserColumns;
    const SQL: &'static str = "
INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)
ON CONFLICT (email) DO NOTHING
RETURNING id, email, role, created_at, email_verified, last_login_at";
}

/// The account, its session if any, and its verification link and email,
/// in one transaction; `None` when the address is taken.
async fn create_with_verification(
    conn: &mut AsyncPgConnection,
    user: &NewUser,
    session: Option<&NewSession>,
) -> Result<Option<UserRow>, StoreError> {
    conn.transaction(async |conn| {
        let inserted: Option<UserRow> = Prepared::<InsertUser>::new(vec![
            Bind::Uuid(user.id),
            Bind::Text(&user.email),
            Bind::Text(&user.password_hash),
        ])
        .get_result(conn)
        .await
        .optional()?;
        let Some(mut row) = inserted else {
            return Ok(None);
        };
        if let Some(session) = session {
            sessions::create(conn, user.id, session, None).await?;
            row.last_login_at = Some(chrono::Utc::now());
        }
        if let Some(verification) = &user.verification {
            super::email::insert_token(
                conn,
                &verification.token,
                user.id,
                TokenPurpose::VerifyEmail,
                &user.email,
            )
            .await?;
            outbox::queue(conn, &verification.email).await?;
        }
        Ok(Some(row))
    })
    .await
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

/// Sets the hash, ends the account's other live sessions and its reset
/// tokens, in one statement; counts the account (0 when it is gone) and the
/// sessions ended, and returns its address (for the notice).
struct ChangePassword;

impl Statement for ChangePassword {
    type Row = (BigInt, BigInt, Nullable<Text>);
    const SQL: &'static str = "
WITH account AS (
    UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING id, email
), ended AS (
    UPDATE sessions SET ended_at = now(), end_reason = 'password_changed'
    WHERE user_id = (SELECT id FROM account) AND id <> $3
      AND ended_at IS NULL AND expires_at > now()
    RETURNING id
), tokens AS (
    UPDATE email_tokens SET ended_at = now()
    WHERE user_id = (SELECT id FROM account) AND purpose = 'password_reset' AND ended_at IS NULL
)
SELECT (SELECT count(*) FROM account), (SELECT count(*) FROM ended), (SELECT email FROM account)";
}

/// See [`crate::db::Store::change_password`]: the change and its notice
/// commit together.
pub async fn change_password(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    password_hash: &str,
    keep: Uuid,
    notice: Option<&NewEmail>,
) -> Result<Option<u64>, StoreError> {
    conn.transaction(async |conn| {
        let (accounts, ended, email): (i64, i64, Option<String>) =
            Prepared::<ChangePassword>::new(vec![
                Bind::Uuid(user_id),
                Bind::Text(password_hash),
                Bind::Uuid(keep),
            ])
            .get_result(conn)
            .await?;
        if accounts == 0 {
            return Ok(None);
        }
        if let (Some(notice), Some(email)) = (notice, email) {
            let mut notice = notice.clone();
            notice.recipient = email;
            outbox::queue(conn, &notice).await?;
        }
        Ok(Some(ended as u64))
    })
    .await
}

/// See [`crate::db::Store::delete_account`].
pub async fn delete(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> Result<DeleteAccount, StoreError> {
    conn.transaction(async |conn| {
        // Every ADMIN row, locked: of two last admins deleting themselves at
        // once, the second waits here, then finds the first one gone.
        let admins: Vec<Uuid> = users::table
            .filter(users::role.eq(Role::Admin.as_str()))
            .order(users::id)
            .select(users::id)
            .for_update()
            .load(conn)
            .await?;
        let role: Option<String> = users::table
            .find(user_id)
            .select(users::role)
            .first(conn)
            .await
            .optional()?;
        let Some(role) = role else {
            return Ok(DeleteAccount::Missing);
        };
        if role == Role::Admin.as_str() && admins.iter().all(|id| *id == user_id) {
            return Ok(DeleteAccount::LastAdmin);
        }
        // Sessions and refresh tokens go with it (ON DELETE CASCADE), and
        // so does mail not yet sent to it: its links died with the tokens.
        let email: String = diesel::delete(users::table.find(user_id))
            .returning(users::email)
            .get_result(conn)
            .await?;
        outbox::drop_pending(conn, &email).await?;
        Ok(DeleteAccount::Deleted)
    })
    .await
}
