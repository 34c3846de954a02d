//! Hand-written SQL that PostgreSQL still prepares once per connection.
//!
//! The statements that diesel's query builder cannot express (data-modifying
//! CTEs) would go through `diesel::sql_query`, which diesel never caches: each
//! call would pay an extra round trip to prepare and a fresh plan. A
//! [`Prepared`] statement has its own static query id instead, so diesel's
//! statement cache keeps it prepared, and a rotation costs one round trip.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bytea, SqlType, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

/// One statement: its SQL, with `$1`, `$2`... placeholders, and the SQL types
/// of the row it returns.
pub trait Statement: Send + Sync + 'static {
    /// The SQL text.
    const SQL: &'static str;
    /// The row it returns, as a tuple of SQL types.
    type Row: SqlType;
}

/// A value bound to a placeholder.
pub enum Bind<'a> {
    Bytes(&'a [u8]),
    Text(&'a str),
    Int(i64),
    Uuid(Uuid),
    Timestamp(DateTime<Utc>),
}

/// A [`Statement`] with its values, ready to run with diesel-async.
pub struct Prepared<'a, S> {
    binds: Vec<Bind<'a>>,
    statement: PhantomData<S>,
}

impl<'a, S: Statement> Prepared<'a, S> {
    /// Binds `binds[n - 1]` to each `$n`.
    pub fn new(binds: Vec<Bind<'a>>) -> Self {
        Self {
            binds,
            statement: PhantomData,
        }
    }
}

impl<S: Statement> QueryId for Prepared<'_, S> {
    // The statement type itself: one cache entry per statement.
    type QueryId = S;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<S: Statement> Query for Prepared<'_, S> {
    type SqlType = S::Row;
}

impl<S: Statement> QueryFragment<Pg> for Prepared<'_, S> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = S::SQL;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            let index: usize = rest[at + 1..at + 1 + digits].parse().map_err(|_| {
                diesel::result::Error::QueryBuilderError("`$` without a placeholder number".into())
            })?;
            let bind = self.binds.get(index.wrapping_sub(1)).ok_or_else(|| {
                diesel::result::Error::QueryBuilderError("placeholder without a value".into())
            })?;
            match bind {
                Bind::Bytes(value) => out.push_bind_param::<Bytea, _>(value)?,
                Bind::Text(value) => out.push_bind_param::<Text, _>(value)?,
                Bind::Int(value) => out.push_bind_param::<BigInt, _>(value)?,
                Bind::Uuid(value) => out.push_bind_param::<SqlUuid, _>(value)?,
                Bind::Timestamp(value) => out.push_bind_param::<Timestamptz, _>(value)?,
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}
