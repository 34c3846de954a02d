//! The audit log on SQLite: events written inside the write of the change
//! they record, read newest first by `(at, id)`, purged in batches.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Integer, Nullable, Text};
use uuid::Uuid;

use super::rows;
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{AuditEvent, AuditKind, AuditQuery};
use crate::domain::AUDIT_REASONS;

struct InsertEvent;

impl Statement for InsertEvent {
    type Row = Integer;
    const SQL: &'static str = "
INSERT INTO audit_events
    (id, type, at, user_id, actor_id, session_id, ip, user_agent, reason, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
}

/// Writes `event` inside the caller's write; `user_id` fills it when the
/// event does not name its account yet (the store learned it with the
/// change).
pub fn insert(
    conn: &mut SqliteConnection,
    event: &AuditEvent,
    user_id: Option<Uuid>,
) -> QueryResult<()> {
    let user_id = event.user_id.or(user_id);
    let (actor_id, session_id) = (event.actor_id, event.session_id);
    Prepared::<InsertEvent>::new(vec![
        Bind::Uuid(event.id),
        Bind::Text(event.kind.as_str()),
        Bind::Int(rows::millis(event.at)),
        Bind::OptBytes(user_id.as_ref().map(|id| id.as_bytes().as_slice())),
        Bind::OptBytes(actor_id.as_ref().map(|id| id.as_bytes().as_slice())),
        Bind::OptBytes(session_id.as_ref().map(|id| id.as_bytes().as_slice())),
        Bind::OptText(event.ip.as_deref()),
        Bind::OptText(event.user_agent.as_deref()),
        Bind::OptText(event.reason),
        Bind::OptText(event.request_id.as_deref()),
    ])
    .execute(conn)
    .map(drop)
}

type EventColumns = (
    Binary,
    Text,
    BigInt,
    Nullable<Binary>,
    Nullable<Binary>,
    Nullable<Binary>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
);

type EventRow = (
    Vec<u8>,
    String,
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The columns both lists read, and the filters they share: `$1` the
/// comma-wrapped kinds (`NULL`: all), `$2`/`$3` the cursor, `$4` the limit.
macro_rules! list_sql {
    ($filter:literal) => {
        concat!(
            "SELECT id, type, at, user_id, actor_id, session_id, ip, user_agent, reason, \
             request_id FROM audit_events WHERE ",
            $filter,
            " AND ($1 IS NULL OR instr($1, ',' || type || ',') > 0)
  AND (at < $2 OR (at = $2 AND id < $3))
ORDER BY at DESC, id DESC LIMIT $4"
        )
    };
}

struct ListAll;

impl Statement for ListAll {
    type Row = EventColumns;
    const SQL: &'static str = list_sql!("1");
}

/// One account's events: a statement of its own, so that SQLite uses the
/// `(user_id, at, id)` index (an `OR` on the account would not).
struct ListOfUser;

impl Statement for ListOfUser {
    type Row = EventColumns;
    const SQL: &'static str = list_sql!("user_id = $5");
}

fn event(row: EventRow) -> QueryResult<AuditEvent> {
    let (id, kind, at, user_id, actor_id, session_id, ip, user_agent, reason, request_id) = row;
    let id_of = |bytes: Option<Vec<u8>>| bytes.map(|b| rows::uuid(&b)).transpose();
    Ok(AuditEvent {
        id: rows::uuid(&id)?,
        kind: AuditKind::parse(&kind).ok_or_else(|| {
            diesel::result::Error::DeserializationError("audit_events.type is unknown".into())
        })?,
        at: rows::time(at)?,
        user_id: id_of(user_id)?,
        actor_id: id_of(actor_id)?,
        session_id: id_of(session_id)?,
        ip,
        user_agent,
        reason: reason.and_then(|text| AUDIT_REASONS.iter().copied().find(|r| *r == text)),
        request_id,
    })
}

/// See [`crate::db::Store::list_audit`].
pub fn list(conn: &mut SqliteConnection, query: &AuditQuery) -> QueryResult<Vec<AuditEvent>> {
    let kinds = (!query.kinds.is_empty()).then(|| {
        let names: Vec<&str> = query.kinds.iter().map(|kind| kind.as_str()).collect();
        format!(",{},", names.join(","))
    });
    // No cursor: after everything (ids are 16 bytes, so 17 x 0xff sorts
    // above each of them).
    let (at, id) = match query.after {
        Some((at, id)) => (rows::millis(at), id.as_bytes().to_vec()),
        None => (i64::MAX, vec![0xff; 17]),
    };
    let mut binds = vec![
        Bind::OptText(kinds.as_deref()),
        Bind::Int(at),
        Bind::Bytes(&id),
        Bind::Int(i64::from(query.limit)),
    ];
    let rows: Vec<EventRow> = match query.user_id {
        Some(user_id) => {
            binds.push(Bind::Uuid(user_id));
            Prepared::<ListOfUser>::new(binds).load(conn)?
        }
        None => Prepared::<ListAll>::new(binds).load(conn)?,
    };
    rows.into_iter().map(event).collect()
}

/// Deletes up to `$2` events older than `$1`.
struct PurgeEvents;

impl Statement for PurgeEvents {
    type Row = Integer;
    const SQL: &'static str = "
DELETE FROM audit_events WHERE rowid IN (SELECT rowid FROM audit_events WHERE at < $1 LIMIT $2)";
}

/// Deletes up to `batch` events older than `before`.
pub fn purge(
    conn: &mut SqliteConnection,
    before: chrono::DateTime<chrono::Utc>,
    batch: u32,
) -> QueryResult<u64> {
    let binds = vec![Bind::Int(rows::millis(before)), Bind::Int(i64::from(batch))];
    Ok(Prepared::<PurgeEvents>::new(binds).execute(conn)? as u64)
}
