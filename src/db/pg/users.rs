//! Accounts on PostgreSQL.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::sessions;
use crate::db::models::{NewUserRow, UserRow};
use crate::db::schema::users;
use crate::db::{CreateUserError, Credentials, NewSession, NewUser, StoreError, User};

/// The unique constraint on `users.email` (see the first migration).
const EMAIL_KEY: &str = "users_email_key";

/// Inserts the account and its first session in one transaction. A taken
/// email is recognised by the constraint that refused it, so two concurrent
/// registrations of one email cannot both succeed.
pub async fn create(
    conn: &mut AsyncPgConnection,
    user: NewUser,
    session: NewSession,
) -> Result<User, CreateUserError> {
    let result = conn
        .transaction(async |conn| {
            let row = diesel::insert_into(users::table)
                .values(NewUserRow {
                    id: user.id,
                    email: &user.email,
                    password_hash: &user.password_hash,
                })
                .returning(UserRow::as_returning())
                .get_result(conn)
                .await?;
            sessions::insert(conn, user.id, &session).await?;
            Ok::<_, DieselError>(row)
        })
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
pub async fn find_credentials(
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
