//! Hand-written SQL that the database still prepares once per connection.
//!
//! The statements that diesel's query builder cannot express (data-modifying
//! CTEs, upserts with `RETURNING`) would go through `diesel::sql_query`,
//! which diesel never caches: each call would pay an extra round trip to
//! prepare and a fresh plan. A [`Prepared`] statement has its own static
//! query id instead, so diesel's statement cache keeps it prepared, and a
//! rotation on PostgreSQL costs one round trip. Both backends use it; each
//! writes its own SQL.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{
    BigInt, Binary, Bytea, Nullable, SqlType, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::sqlite::Sqlite;
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
    /// `bytea` / `BLOB`.
    Bytes(&'a [u8]),
    /// `text` / `TEXT`.
    Text(&'a str),
    /// `text` / `TEXT`, or `NULL`.
    OptText(Option<&'a str>),
    /// `bytea` / `BLOB`, or `NULL`.
    OptBytes(Option<&'a [u8]>),
    /// `bigint` / `INTEGER` (on SQLite, times too: milliseconds since the epoch).
    Int(i64),
    /// `uuid` on PostgreSQL; its 16 bytes as a `BLOB` on SQLite.
    Uuid(Uuid),
    /// `timestamptz` (PostgreSQL only).
    Timestamp(DateTime<Utc>),
    /// `boolean` on PostgreSQL; `0` or `1` on SQLite.
    Bool(bool),
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

/// Walks `sql`, handing each `$n` placeholder's value to `bind`, so that each
/// backend writes its own placeholder syntax (`$1` or `?`) in order.
fn walk<'b, DB: Backend>(
    sql: &'static str,
    binds: &'b [Bind<'_>],
    out: &mut AstPass<'_, 'b, DB>,
    mut bind: impl FnMut(&mut AstPass<'_, 'b, DB>, &'b Bind<'_>) -> QueryResult<()>,
) -> QueryResult<()> {
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_sql(&rest[..at]);
        let digits = rest[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let index: usize = rest[at + 1..at + 1 + digits].parse().map_err(|_| {
            diesel::result::Error::QueryBuilderError("`$` without a placeholder number".into())
        })?;
        let value = binds.get(index.wrapping_sub(1)).ok_or_else(|| {
            diesel::result::Error::QueryBuilderError("placeholder without a value".into())
        })?;
        bind(out, value)?;
        rest = &rest[at + 1 + digits..];
    }
    out.push_sql(rest);
    Ok(())
}

impl<S: Statement> QueryFragment<Pg> for Prepared<'_, S> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        walk(S::SQL, &self.binds, &mut out, |out, value| match value {
            Bind::Bytes(value) => out.push_bind_param::<Bytea, _>(value),
            Bind::Text(value) => out.push_bind_param::<Text, _>(value),
            Bind::OptText(value) => out.push_bind_param::<Nullable<Text>, _>(value),
            Bind::OptBytes(value) => out.push_bind_param::<Nullable<Bytea>, _>(value),
            Bind::Int(value) => out.push_bind_param::<BigInt, _>(value),
            Bind::Uuid(value) => out.push_bind_param::<SqlUuid, _>(value),
            Bind::Timestamp(value) => out.push_bind_param::<Timestamptz, _>(value),
            Bind::Bool(value) => out.push_bind_param::<diesel::sql_types::Bool, _>(value),
        })
    }
}

impl<S: Statement> QueryFragment<Sqlite> for Prepared<'_, S> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        walk(S::SQL, &self.binds, &mut out, |out, value| match value {
            Bind::Bytes(value) => out.push_bind_param::<Binary, _>(value),
            Bind::Text(value) => out.push_bind_param::<Text, _>(value),
            Bind::OptText(value) => out.push_bind_param::<Nullable<Text>, _>(value),
            Bind::OptBytes(value) => out.push_bind_param::<Nullable<Binary>, _>(value),
            Bind::Int(value) => out.push_bind_param::<BigInt, _>(value),
            Bind::Uuid(value) => out.push_bind_param::<Binary, _>(value.as_bytes().as_slice()),
            Bind::Bool(value) => {
                out.push_bind_param::<diesel::sql_types::Integer, _>(if *value { &1 } else { &0 })
            }
            Bind::Timestamp(_) => Err(diesel::result::Error::QueryBuilderError(
                "SQLite stores times as milliseconds: bind an Int".into(),
            )),
        })
    }
}

// diesel's synchronous `RunQueryDsl` (the SQLite backend's statements run on
// a blocking thread) is opt-in per query type; diesel-async's is blanket.
impl<S, Conn> diesel::RunQueryDsl<Conn> for Prepared<'_, S> {}
