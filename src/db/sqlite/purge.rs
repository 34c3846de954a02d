//! The background purge of rows that can no longer matter, on SQLite.
//!
//! Each call deletes at most one batch from one table, in its own short
//! write, so live writes queue behind a batch at most.

use diesel::prelude::*;
use diesel::sql_types::Integer;

use super::rows;
use crate::db::prepared::{Bind, Prepared, Statement};

/// Defines a statement deleting up to `$2` rows of `$table` whose `$expiry`
/// is before `$1`.
macro_rules! purge_statement {
    ($(#[$doc:meta])* $name:ident: $table:literal by $key:literal where $expiry:literal) => {
        $(#[$doc])*
        pub struct $name;

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

purge_statement!(
    /// Refresh tokens past their expiry.
    PurgeTokens: "refresh_tokens" by "token_hash" where "expires_at"
);
purge_statement!(
    /// Sessions past their expiry, ended or not.
    PurgeSessions: "sessions" by "id" where "expires_at"
);
purge_statement!(
    /// Login-attempt counters whose window has ended.
    PurgeAttempts: "login_attempts" by "email_hash" where "window_ends_at"
);

purge_statement!(
    /// Tokens of emailed links past their expiry (spent or not).
    PurgeEmailTokens: "email_tokens" by "token_hash" where "expires_at"
);
purge_statement!(
    /// `RATE_LIMIT_EMAIL` counters whose window has ended.
    PurgeEmailRequests: "email_requests" by "email_hash" where "window_ends_at"
);
purge_statement!(
    /// Sent or abandoned emails (already without a body), a week after.
    PurgeOutbox: "outbox" by "id" where "COALESCE(sent_at, abandoned_at) + 604800000"
);

/// Deletes up to `batch` expired rows with the purge statement `S`;
/// returns how many.
pub fn batch<S: Statement>(conn: &mut SqliteConnection, batch: u32) -> QueryResult<u64> {
    let binds = vec![Bind::Int(rows::now()), Bind::Int(i64::from(batch))];
    let deleted = Prepared::<S>::new(binds).execute(conn)?;
    Ok(deleted as u64)
}
