//! Rows as diesel reads and writes them, and their conversion to the
//! storage interface's types.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use super::schema::users;
use crate::db::StoreError;
use crate::domain::{Role, User};

/// A `users` row without its hash.
#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub email_verified: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub disabled: bool,
}

/// The SQL types of a `users` row without its hash, in [`UserRow`]'s order,
/// for hand-written statements that return one.
pub type UserColumns = (
    SqlUuid,
    Text,
    Text,
    Timestamptz,
    Bool,
    Nullable<Timestamptz>,
    Bool,
);

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
            email_verified: row.email_verified,
            last_login_at: row.last_login_at,
            disabled: row.disabled,
        })
    }
}
