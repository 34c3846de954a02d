//! How SQLite's values map to the storage interface's types: ids as 16-byte
//! blobs, times as milliseconds since the Unix epoch.

use chrono::{DateTime, Utc};
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Binary, Text};
use uuid::Uuid;

use crate::db::{Role, User};

/// The columns of a `users` row without its hash: id, email, role, created.
pub type UserColumns = (Binary, Text, Text, BigInt);

/// A `users` row as diesel reads [`UserColumns`].
pub type UserRow = (Vec<u8>, String, String, i64);

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

/// A `users` row as the interface's [`User`].
pub fn user((id, email, role, created_at): UserRow) -> Result<User, DieselError> {
    Ok(User {
        id: uuid(&id)?,
        email,
        role: Role::parse(&role).ok_or_else(|| corrupt("users.role holds an unknown role"))?,
        created_at: time(created_at)?,
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
        );
        let user = user(row).unwrap();
        assert_eq!((user.id, user.role, user.created_at), (id, Role::Admin, at));
    }

    #[test]
    fn corrupt_rows_are_errors() {
        assert!(uuid(&[1, 2, 3]).is_err());
        assert!(time(i64::MAX).is_err());
        assert!(user((vec![0; 16], "a@b.co".into(), "ROOT".into(), 0)).is_err());
    }
}
