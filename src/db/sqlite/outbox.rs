//! The outbox on SQLite. The one writing connection claims emails, so two
//! workers (of one process, or of two processes on one file) never claim
//! the same email: each claim is a write, serialised by SQLite's lock.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Integer, Text};
use uuid::Uuid;

use super::rows;
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{NewEmail, QueuedEmail};

struct Queue;

impl Statement for Queue {
    type Row = Integer;
    const SQL: &'static str = "
INSERT INTO outbox (id, kind, recipient, subject, text_body, html_body, created_at, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";
}

/// Queues `email` (inside the caller's write).
pub fn queue(conn: &mut SqliteConnection, email: &NewEmail) -> QueryResult<()> {
    Prepared::<Queue>::new(vec![
        Bind::Uuid(email.id),
        Bind::Text(email.kind),
        Bind::Text(&email.recipient),
        Bind::Text(&email.subject),
        Bind::Text(&email.text),
        Bind::Text(&email.html),
        Bind::Int(rows::now()),
    ])
    .execute(conn)
    .map(drop)
}

struct DropPending;

impl Statement for DropPending {
    type Row = Integer;
    const SQL: &'static str =
        "DELETE FROM outbox WHERE recipient = $1 AND sent_at IS NULL AND abandoned_at IS NULL";
}

/// Deletes the unsent emails to `recipient` (inside the caller's write):
/// an account that is gone gets no more mail.
pub fn drop_pending(conn: &mut SqliteConnection, recipient: &str) -> QueryResult<()> {
    Prepared::<DropPending>::new(vec![Bind::Text(recipient)])
        .execute(conn)
        .map(drop)
}

struct AnyDue;

impl Statement for AnyDue {
    type Row = Integer;
    const SQL: &'static str = "
SELECT 1 FROM outbox WHERE sent_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= $1
LIMIT 1";
}

/// True when an email is due (a read: no write lock).
pub fn any_due(conn: &mut SqliteConnection) -> QueryResult<bool> {
    Prepared::<AnyDue>::new(vec![Bind::Int(rows::now())])
        .get_result::<i32>(conn)
        .optional()
        .map(|found| found.is_some())
}

struct Claim;

impl Statement for Claim {
    type Row = (Binary, Text, Text, Text, Text, Text, Integer, BigInt);
    const SQL: &'static str = "
UPDATE outbox SET next_attempt_at = $2, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM outbox
    WHERE sent_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= $3
    ORDER BY next_attempt_at
    LIMIT $1
)
RETURNING id, kind, recipient, subject, text_body, html_body, attempts, created_at";
}

type ClaimedRow = (Vec<u8>, String, String, String, String, String, i32, i64);

/// See [`crate::db::Store::claim_emails`].
pub fn claim(
    conn: &mut SqliteConnection,
    limit: u32,
    lease_until: DateTime<Utc>,
) -> QueryResult<Vec<QueuedEmail>> {
    let rows: Vec<ClaimedRow> = Prepared::<Claim>::new(vec![
        Bind::Int(i64::from(limit)),
        Bind::Int(rows::millis(lease_until)),
        Bind::Int(rows::now()),
    ])
    .load(conn)?;
    rows.into_iter()
        .map(
            |(id, kind, recipient, subject, text, html, attempts, created_at)| {
                Ok(QueuedEmail {
                    id: rows::uuid(&id)?,
                    kind,
                    recipient,
                    subject,
                    text,
                    html,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                    created_at: rows::time(created_at)?,
                })
            },
        )
        .collect()
}

struct Sent;

impl Statement for Sent {
    type Row = Integer;
    const SQL: &'static str = "
UPDATE outbox SET sent_at = $2, subject = NULL, text_body = NULL, html_body = NULL WHERE id = $1";
}

/// See [`crate::db::Store::email_sent`].
pub fn sent(conn: &mut SqliteConnection, id: Uuid) -> QueryResult<()> {
    Prepared::<Sent>::new(vec![Bind::Uuid(id), Bind::Int(rows::now())])
        .execute(conn)
        .map(drop)
}

struct Retry;

impl Statement for Retry {
    type Row = Integer;
    const SQL: &'static str = "UPDATE outbox SET next_attempt_at = $2 WHERE id = $1";
}

struct Abandon;

impl Statement for Abandon {
    type Row = Integer;
    const SQL: &'static str = "
UPDATE outbox SET abandoned_at = $2, subject = NULL, text_body = NULL, html_body = NULL
WHERE id = $1";
}

/// See [`crate::db::Store::email_failed`].
pub fn failed(
    conn: &mut SqliteConnection,
    id: Uuid,
    retry_at: Option<DateTime<Utc>>,
) -> QueryResult<()> {
    match retry_at {
        Some(at) => {
            Prepared::<Retry>::new(vec![Bind::Uuid(id), Bind::Int(rows::millis(at))]).execute(conn)
        }
        None => {
            Prepared::<Abandon>::new(vec![Bind::Uuid(id), Bind::Int(rows::now())]).execute(conn)
        }
    }
    .map(drop)
}
