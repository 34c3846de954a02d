//! The audit log on PostgreSQL: events written inside the transaction of
//! the change they record, read newest first by `(at, id)`, and purged in
//! batches once older than `AUDIT_RETENTION`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::audit_events;
use crate::db::{AuditEvent, AuditKind, AuditQuery, StoreError};
use crate::domain::AUDIT_REASONS;

/// Writes `events` on `conn` (inside the caller's transaction, when it has
/// one). `user_id` fills the events that do not name their account yet:
/// the store learned it with the change (a token's account, say).
pub async fn insert(
    conn: &mut AsyncPgConnection,
    events: &[&AuditEvent],
    user_id: Option<Uuid>,
) -> diesel::QueryResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = events
        .iter()
        .map(|event| {
            (
                audit_events::id.eq(event.id),
                audit_events::kind.eq(event.kind.as_str()),
                audit_events::at.eq(event.at),
                audit_events::user_id.eq(event.user_id.or(user_id)),
                audit_events::actor_id.eq(event.actor_id),
                audit_events::session_id.eq(event.session_id),
                audit_events::ip.eq(event.ip.as_deref()),
                audit_events::user_agent.eq(event.user_agent.as_deref()),
                audit_events::reason.eq(event.reason),
                audit_events::request_id.eq(event.request_id.as_deref()),
            )
        })
        .collect();
    diesel::insert_into(audit_events::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// An `audit_events` row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg))]
struct EventRow {
    id: Uuid,
    kind: String,
    at: DateTime<Utc>,
    user_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    session_id: Option<Uuid>,
    ip: Option<String>,
    user_agent: Option<String>,
    reason: Option<String>,
    request_id: Option<String>,
}

impl TryFrom<EventRow> for AuditEvent {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(AuditEvent {
            id: row.id,
            kind: AuditKind::parse(&row.kind)
                .ok_or_else(|| StoreError::new("database: audit_events.type is unknown"))?,
            at: row.at,
            user_id: row.user_id,
            actor_id: row.actor_id,
            session_id: row.session_id,
            ip: row.ip,
            user_agent: row.user_agent,
            reason: known_reason(row.reason.as_deref()),
            request_id: row.request_id,
        })
    }
}

/// A stored reason as one of the fixed set (anything else is dropped: only
/// authql writes the column, so that would be corruption, not a reason).
pub fn known_reason(stored: Option<&str>) -> Option<&'static str> {
    stored.and_then(|text| AUDIT_REASONS.iter().copied().find(|known| *known == text))
}

/// See [`crate::db::Store::list_audit`]: keyset pagination, so a page is
/// stable however many events arrive meanwhile.
pub async fn list(
    conn: &mut AsyncPgConnection,
    query: &AuditQuery,
) -> Result<Vec<AuditEvent>, StoreError> {
    let mut select = audit_events::table
        .select(EventRow::as_select())
        .order((audit_events::at.desc(), audit_events::id.desc()))
        .limit(i64::from(query.limit))
        .into_boxed();
    if let Some(user_id) = query.user_id {
        select = select.filter(audit_events::user_id.eq(user_id));
    }
    if !query.kinds.is_empty() {
        let kinds: Vec<&str> = query.kinds.iter().map(|kind| kind.as_str()).collect();
        select = select.filter(audit_events::kind.eq_any(kinds));
    }
    if let Some((at, id)) = query.after {
        select = select.filter(
            audit_events::at
                .lt(at)
                .or(audit_events::at.eq(at).and(audit_events::id.lt(id))),
        );
    }
    let rows: Vec<EventRow> = select.load(conn).await?;
    rows.into_iter().map(AuditEvent::try_from).collect()
}

/// Deletes up to `batch` events older than `before`.
pub async fn purge(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    let deleted = diesel::sql_query(
        "DELETE FROM audit_events WHERE id IN \
         (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(before)
    .bind::<diesel::sql_types::BigInt, _>(batch)
    .execute(conn)
    .await?;
    Ok(deleted as u64)
}
