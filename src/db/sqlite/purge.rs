//! The background purge of rows that can no longer matter, on SQLite.
//!
//! Each call deletes at most one batch from one table, in its own short
//! write, so live writes queue behind a batch at most.

use diesel::prelude::*;
use diesel::sql_types::Integer;

use super::rows;
use crate::db::prepared::{Bind, Prepared, Statement};

/// The tables the purge visits, in order.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    /// Refresh tokens past their expiry.
    RefreshTokens,
    /// Sessions past their expiry, ended or not.
    Sessions,
    /// Login-attempt counters whose window has ended.
    LoginAttempts,
}

impl Table {
    /// Every table, tokens first (as on PostgreSQL).
    pub const ALL: [Table; 3] = [Table::RefreshTokens, Table::Sessions, Table::LoginAttempts];
}

/// Defines a statement deleting up to `$2` rows of `$table` whose `$expiry`
/// is before `$1`.
macro_rules! purge_statement {
    ($name:ident: $table:literal by $key:literal where $expiry:literal) => {
        struct $name;

        impl Statement for $name {
            type Row = Integer;
            const SQL: &'static str = concat!(
                "DELETE FROM ",
                $table,
                " WHERE ",
                $key,
                " IN (SELECT ",
                $key,
                " FROM ",
                $table,
                " WHERE ",
                $expiry,
                " < $1 LIMIT $2)"
            );
        }
    };
}

purge_statement!(PurgeTokens: "refresh_tokens" by "token_hash" where "expires_at");
purge_statement!(PurgeSessions: "sessions" by "id" where "expires_at");
purge_statement!(PurgeAttempts: "login_attempts" by "email_hash" where "window_ends_at");

/// Deletes up to `batch` expired rows of `table`; returns how many.
pub fn batch(conn: &mut SqliteConnection, table: Table, batch: u32) -> QueryResult<u64> {
    let binds = vec![Bind::Int(rows::now()), Bind::Int(i64::from(batch))];
    let deleted = match table {
        Table::RefreshTokens => Prepared::<PurgeTokens>::new(binds).execute(conn)?,
        Table::Sessions => Prepared::<PurgeSessions>::new(binds).execute(conn)?,
        Table::LoginAttempts => Prepared::<PurgeAttempts>::new(binds).execute(conn)?,
    };
    Ok(deleted as u64)
}
