//! Rows as diesel reads and writes them, and their conversion to the
//! storage interface's types.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::{refresh_tokens, sessions, users};
use super::{Role, StoreError, User};

/// A `users` row without its hash.
#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        let role = Role::parse(&row.role)
            .ok_or_else(|| StoreError::new("database: users.role holds an unknown role"))?;
        Ok(User {
            id: row.id,
            email: row.email,
            role,
            created_at: row.created_at,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub password_hash: &'a str,
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshTokenRow<'a> {
    pub token_hash: &'a [u8],
    pub session_id: Uuid,
    pub expires_at: DateTime<Utc>,
}
