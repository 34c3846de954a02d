//! Storage failures, described without driver text.
//!
//! Driver and database messages can carry SQL, row values or connection
//! details. [`StoreError`] keeps only a classification (the error kind and
//! the names of our own constraints and tables), so it is safe to log.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// A storage failure, safe to log, never shown to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(String);

impl StoreError {
    /// A failure described by the caller (from safe parts only).
    pub fn new(description: impl Into<String>) -> Self {
        Self(description.into())
    }
}

// Deliberately no `Display`: async-graphql turns any `Display` type into a
// client-facing error with its text, so a stray `?` on a `StoreError` in a
// resolver must not compile. Callers use `describe` for logs.
impl StoreError {
    /// The safe description, for logs and `AppError::Internal`.
    pub fn describe(&self) -> &str {
        &self.0
    }
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::DatabaseError(kind, info) => {
                let kind = match kind {
                    DatabaseErrorKind::UniqueViolation => "unique violation",
                    DatabaseErrorKind::ForeignKeyViolation => "foreign key violation",
                    DatabaseErrorKind::NotNullViolation => "not null violation",
                    DatabaseErrorKind::CheckViolation => "check violation",
                    DatabaseErrorKind::SerializationFailure => "serialization failure",
                    DatabaseErrorKind::ReadOnlyTransaction => "read-only transaction",
                    DatabaseErrorKind::ClosedConnection => "connection closed",
                    _ => "database error",
                };
                // Table and constraint names are ours (from the migrations),
                // unlike the message, which may quote row values.
                let mut description = format!("database: {kind}");
                if let Some(table) = info.table_name() {
                    description.push_str(&format!(" on table {table}"));
                }
                if let Some(constraint) = info.constraint_name() {
                    description.push_str(&format!(" (constraint {constraint})"));
                }
                Self(description)
            }
            DieselError::NotFound => Self::new("database: row not found"),
            DieselError::DeserializationError(_) => Self::new("database: could not read a row"),
            DieselError::SerializationError(_) => Self::new("database: could not bind a value"),
            DieselError::BrokenTransactionManager => Self::new("database: broken transaction"),
            DieselError::AlreadyInTransaction | DieselError::NotInTransaction => {
                Self::new("database: transaction misuse")
            }
            _ => Self::new("database: query failed"),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StoreError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        use deadpool::managed::PoolError;
        Self::new(match error {
            PoolError::Timeout(_) => "database pool: timed out waiting for a connection",
            PoolError::Backend(_) => "database pool: could not connect",
            PoolError::Closed => "database pool: closed",
            PoolError::NoRuntimeSpecified => "database pool: no runtime",
            PoolError::PostCreateHook(_) => "database pool: connection setup failed",
        })
    }
}
