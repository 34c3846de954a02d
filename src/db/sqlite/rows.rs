//! How SQLite's values map to the storage interface's types: ids as 16-byte
//! blobs, times as milliseconds since the Unix epoch.

use chrono::{DateTime, Utc};
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Binary, Nullable, Text};
use uuid::Uuid;

use crate::domain::{Role, Session, User};

/// The SQL of [`UserColumns`], for statements to `concat!` in.
macro_rules! user_columns {
    () => {
        "users.id, users.email, users.role, users.created_at, users.email_verified, \
         users.last_login_at, users.disabled"
    };
}
pub(super) use user_columns;

/// The columns of a `users` row without its hash: id, email, role, created,
/// verified, last sign-in, disabled.
pub type UserColumns = (Binary, Text, Text, BigInt, BigInt, Nullable<BigInt>, BigInt);

/// A `users` row as diesel reads [`UserColumns`].
pub type UserRow = (Vec<u8>, String, String, i64, i64, Option<i64>, i64);

/// Now, as stored.
pub fn now() -> i64 {
    Utc::now().timestamp_millis()
}

/// A time, as stored.
pub fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// A value the migrations' checks should have kept out of the table.
fn corrupt(what: &'static str) -> DieselError {
    DieselError::DeserializationError(what.into())
}

/// A stored id.
pub fn uuid(bytes: &[u8]) -> Result<Uuid, DieselError> {
    Uuid::from_slice(bytes).map_err(|_| corrupt("an id is not 16 bytes"))
}

/// A stored time.
pub fn time(millis: i64) -> Result<DateTime<Utc>, DieselError> {
    DateTime::from_timestamp_millis(millis).ok_or_else(|| corrupt("a time is out of range"))
}

/// A `users` row as the domain's [`User`].
pub fn user(row: UserRow) -> Result<User, DieselError> {
    let (id, email, role, created_at, email_verified, last_login_at, disabled) = row;
    Ok(User {
        id: uuid(&id)?,
        email,
        role: Role::parse(&role).ok_or_else(|| corrupt("users.role holds an unknown role"))?,
        created_at: time(created_at)?,
        email_verified: email_verified != 0,
        last_login_at: last_login_at.map(time).transpose()?,
        disabled: disabled != 0,
    })
}

/// The SQL types of a `sessions` row as the list shows it.
pub type SessionColumns = (
    Binary,
    BigInt,
    BigInt,
    BigInt,
    Nullable<Text>,
    Nullable<Text>,
);

/// A `sessions` row as diesel reads [`SessionColumns`].
pub type SessionRow = (Vec<u8>, i64, i64, i64, Option<String>, Option<String>);

/// A `sessions` row as the domain's [`Session`].
pub fn session(row: SessionRow) -> Result<Session, DieselError> {
    let (id, created_at, last_active_at, expires_at, user_agent, ip) = row;
    Ok(Session {
        id: uuid(&id)?,
        created_at: time(created_at)?,
        last_active_at: time(last_active_at)?,
        expires_at: time(expires_at)?,
        user_agent,
        ip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let id = Uuid::new_v4();
        let at = DateTime::from_timestamp_millis(1_795_000_000_123).unwrap();
        let row = (
            id.as_bytes().to_vec(),
            "a@b.co".into(),
            "ADMIN".into(),
            millis(at),
            1,
            Some(millis(at)),
            0,
        );
        let user = user(row).unwrap();
        assert_eq!((user.id, user.role, user.created_at), (id, Role::Admin, at));
        assert_eq!((user.email_verified, user.last_login_at), (true, Some(at)));
    }

    #[test]
    fn corrupt_rows_are_errors() {
        assert!(uuid(&[1, 2, 3]).is_err());
        assert!(time(i64::MAX).is_err());
        let root = (vec![0; 16], "a@b.co".into(), "ROOT".into(), 0, 0, None, 0);
        assert!(user(root).is_err());
    }
}
