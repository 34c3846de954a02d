//! The outbox on PostgreSQL: emails queued with the change they report,
//! claimed by one worker at a time across instances (`SKIP LOCKED`).

use chrono::{DateTime, Utc};
use diesel::sql_types::{Integer, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{NewEmail, QueuedEmail, StoreError};

struct Queue;

impl Statement for Queue {
    type Row = SqlUuid;
    const SQL: &'static str = "
INSERT INTO outbox (id, kind, recipient, subject, text_body, html_body) VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id";
}

/// Queues `email` (inside the caller's transaction or statement sequence).
pub async fn queue(conn: &mut AsyncPgConnection, email: &NewEmail) -> Result<(), StoreError> {
    Prepared::<Queue>::new(vec![
        Bind::Uuid(email.id),
        Bind::Text(email.kind),
        Bind::Text(&email.recipient),
        Bind::Text(&email.subject),
        Bind::Text(&email.text),
        Bind::Text(&email.html),
    ])
    .get_result::<Uuid>(conn)
    .await?;
    Ok(())
}

struct DropPending;

impl Statement for DropPending {
    type Row = SqlUuid;
    const SQL: &'static str = "
DELETE FROM outbox WHERE recipient = $1 AND sent_at IS NULL AND abandoned_at IS NULL
RETURNING id";
}

/// Deletes the unsent emails to `recipient` (inside the caller's
/// transaction): an account that is gone gets no more mail.
pub async fn drop_pending(conn: &mut AsyncPgConnection, recipient: &str) -> Result<(), StoreError> {
    Prepared::<DropPending>::new(vec![Bind::Text(recipient)])
        .load::<Uuid>(conn)
        .await?;
    Ok(())
}

/// Takes the due emails no other worker holds (`SKIP LOCKED`: two
/// instances claiming at once get different emails) and leases them.
struct Claim;

impl Statement for Claim {
    type Row = (SqlUuid, Text, Text, Text, Text, Text, Integer, Timestamptz);
    const SQL: &'static str = "
UPDATE outbox SET next_attempt_at = $2, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM outbox
    WHERE sent_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= now()
    ORDER BY next_attempt_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING id, kind, recipient, subject, text_body, html_body, attempts, created_at";
}

type ClaimedRow = (
    Uuid,
    String,
    String,
    String,
    String,
    String,
    i32,
    DateTime<Utc>,
);

/// See [`crate::db::Store::claim_emails`].
pub async fn claim(
    conn: &mut AsyncPgConnection,
    limit: u32,
    lease_until: DateTime<Utc>,
) -> Result<Vec<QueuedEmail>, StoreError> {
    let rows: Vec<ClaimedRow> = Prepared::<Claim>::new(vec![
        Bind::Int(i64::from(limit)),
        Bind::Timestamp(lease_until),
    ])
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, kind, recipient, subject, text, html, attempts, created_at)| QueuedEmail {
                id,
                kind,
                recipient,
                subject,
                text,
                html,
                attempts: u32::try_from(attempts).unwrap_or(0),
                created_at,
            },
        )
        .collect())
}

struct Sent;

impl Statement for Sent {
    type Row = SqlUuid;
    const SQL: &'static str = "
UPDATE outbox SET sent_at = now(), subject = NULL, text_body = NULL, html_body = NULL
WHERE id = $1 RETURNING id";
}

/// See [`crate::db::Store::email_sent`]: the body goes, so a sent link
/// lives only in the recipient's mailbox.
pub async fn sent(conn: &mut AsyncPgConnection, id: Uuid) -> Result<(), StoreError> {
    Prepared::<Sent>::new(vec![Bind::Uuid(id)])
        .load::<Uuid>(conn)
        .await?;
    Ok(())
}

struct Retry;

impl Statement for Retry {
    type Row = SqlUuid;
    const SQL: &'static str = "UPDATE outbox SET next_attempt_at = $2 WHERE id = $1 RETURNING id";
}

struct Abandon;

impl Statement for Abandon {
    type Row = SqlUuid;
    const SQL: &'static str = "
UPDATE outbox SET abandoned_at = now(), subject = NULL, text_body = NULL, html_body = NULL
WHERE id = $1 RETURNING id";
}

/// See [`crate::db::Store::email_failed`].
pub async fn failed(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    match retry_at {
        Some(at) => {
            Prepared::<Retry>::new(vec![Bind::Uuid(id), Bind::Timestamp(at)])
                .load::<Uuid>(conn)
                .await?
        }
        None => {
            Prepared::<Abandon>::new(vec![Bind::Uuid(id)])
                .load::<Uuid>(conn)
                .await?
        }
    };
    Ok(())
}
