//! Accounts on PostgreSQL.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{UserColumns, UserRow};
use super::schema::users;
use super::{admin, audit, outbox, sessions};
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{
    AuditEvent, CreateUserError, Credentials, DeleteAccount, NewEmail, NewSession, NewUser,
    StoreError, TokenPurpose,
};
use crate::domain::User;

/// See [`crate::db::Store::create_user`]. A taken email is recognised by
/// `ON CONFLICT` on its unique constraint, so two concurrent registrations
/// of one email cannot both succeed.
pub async fn create(
    conn: &mut AsyncPgConnection,
    user: NewUser,
    session: Option<NewSession>,
    event: &AuditEvent,
) -> Result<User, CreateUserError> {
    create_in_transaction(conn, &user, session.as_ref(), event)
        .await?
        .map(User::try_from)
        .transpose()?
        .ok_or(CreateUserError::EmailTaken)
}

/// Inserts the account unless its address is taken (`ON CONFLICT`: no
/// error, so the transaction it runs in goes on).
struct InsertUser;

impl Statement for InsertUser {
    type Row = UserColumns;
    const SQL: &'static str = "
INSERT INTO users (id, email, password_hash, role, email_verified) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (email) DO NOTHING
RETURNING id, email, role, created_at, email_verified, last_login_at, disabled";
}

/// The account, its session if any, its verification link and email, and
/// its audit event, in one transaction; `None` when the address is taken.
async fn create_in_transaction(
    conn: &mut AsyncPgConnection,
    user: &NewUser,
    session: Option<&NewSession>,
    event: &AuditEvent,
) -> Result<Option<UserRow>, StoreError> {
    conn.transaction(async |conn| {
        let inserted: Option<UserRow> = Prepared::<InsertUser>::new(vec![
            Bind::Uuid(user.id),
            Bind::Text(&user.email),
            Bind::Text(&user.password_hash),
            Bind::Text(user.role.as_str()),
            Bind::Bool(user.email_verified),
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
        audit::insert(conn, &[event], Some(user.id)).await?;
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
    event: &AuditEvent,
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
        audit::insert(conn, &[event], Some(user_id)).await?;
        Ok(Some(ended as u64))
    })
    .await
}

/// See [`crate::db::Store::delete_account`].
pub async fn delete(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    event: &AuditEvent,
) -> Result<DeleteAccount, StoreError> {
    conn.transaction(async |conn| {
        let admins = admin::lock_enabled_admins(conn).await?;
        let Some(user) = admin::find(conn, user_id).await? else {
            return Ok(DeleteAccount::Missing);
        };
        if admin::is_last_admin(&user, &admins) {
            return Ok(DeleteAccount::LastAdmin);
        }
        // Sessions and refresh tokens go with it (ON DELETE CASCADE), and
        // so does mail not yet sent to it: its links died with the tokens.
        diesel::delete(users::table.find(user_id))
            .execute(conn)
            .await?;
        outbox::drop_pending(conn, &user.email).await?;
        audit::insert(conn, &[event], Some(user_id)).await?;
        Ok(DeleteAccount::Deleted)
    })
    .await
}
