//! Emailed-link tokens on PostgreSQL: asking for a password reset, checking
//! a token, and spending it.

use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use diesel::sql_types::{Bool, Integer, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{UserColumns, UserRow};
use super::{outbox, sessions};
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{
    Attempts, EmailKey, EmailRequested, PasswordReset, ResetRequest, StoreError, TokenHash,
    TokenPurpose,
};
use crate::domain::User;

/// Counts the request (an upsert, as for login attempts) and, within the
/// limit and for an address with an account, ends the account's earlier
/// reset tokens, stores the new one and queues its email: one statement.
/// An unknown address costs the same round trip and writes only the
/// counter.
struct RequestReset;

impl Statement for RequestReset {
    type Row = (Integer, Timestamptz, Bool);
    const SQL: &'static str = "
WITH counted AS (
    INSERT INTO email_requests AS r (email_hash, requests, window_ends_at) VALUES ($1, 1, $2)
    ON CONFLICT (email_hash) DO UPDATE SET
        requests = CASE WHEN r.window_ends_at <= now() THEN 1 ELSE r.requests + 1 END,
        window_ends_at = CASE WHEN r.window_ends_at <= now() THEN EXCLUDED.window_ends_at
                              ELSE r.window_ends_at END
    RETURNING requests, window_ends_at
), account AS (
    SELECT id FROM users WHERE email = $4 AND (SELECT requests FROM counted) <= $3
), superseded AS (
    UPDATE email_tokens SET ended_at = now()
    WHERE user_id = (SELECT id FROM account) AND purpose = 'password_reset' AND ended_at IS NULL
), token AS (
    INSERT INTO email_tokens (token_hash, user_id, purpose, email, expires_at)
    SELECT $5, id, 'password_reset', $4, $6 FROM account
), queued AS (
    INSERT INTO outbox (id, kind, recipient, subject, text_body, html_body)
    SELECT $7, $8, $4, $9, $10, $11 FROM account
    RETURNING id
)
SELECT requests, window_ends_at, EXISTS (SELECT 1 FROM queued) FROM counted";
}

/// See [`crate::db::Store::request_password_reset`].
pub async fn request_reset(
    conn: &mut AsyncPgConnection,
    request: &ResetRequest,
) -> Result<EmailRequested, StoreError> {
    let email = &request.email_out;
    let (count, window_ends_at, queued): (i32, DateTime<Utc>, bool) =
        Prepared::<RequestReset>::new(vec![
            Bind::Bytes(request.counter.key.as_bytes()),
            Bind::Timestamp(request.counter.new_window_ends_at),
            Bind::Int(i64::from(request.counter.max)),
            Bind::Text(&request.email),
            Bind::Bytes(request.token.hash.as_bytes()),
            Bind::Timestamp(request.token.expires_at),
            Bind::Uuid(email.id),
            Bind::Text(email.kind),
            Bind::Text(&email.subject),
            Bind::Text(&email.text),
            Bind::Text(&email.html),
        ])
        .get_result(conn)
        .await?;
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    Ok(if count > request.counter.max {
        EmailRequested::Limited(Attempts {
            count,
            window_ends_at,
        })
    } else if queued {
        EmailRequested::Queued
    } else {
        EmailRequested::NotQueued
    })
}

/// A live token of a purpose; one issued for an address the account no
/// longer has is dead (an email change's token names the new address, so
/// it is exempt).
struct TokenIsLive;

impl Statement for TokenIsLive {
    type Row = (SqlUuid, Text);
    const SQL: &'static str = "
SELECT u.id, u.email FROM email_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = $1 AND t.purpose = $2 AND t.ended_at IS NULL AND t.expires_at > now()
  AND (t.purpose = 'email_change' OR t.email = u.email)";
}

/// See [`crate::db::Store::email_token_account`].
pub async fn token_account(
    conn: &mut AsyncPgConnection,
    token: &TokenHash,
    purpose: TokenPurpose,
) -> Result<Option<(Uuid, String)>, StoreError> {
    Ok(Prepared::<TokenIsLive>::new(vec![
        Bind::Bytes(token.as_bytes()),
        Bind::Text(purpose.as_str()),
    ])
    .get_result(conn)
    .await
    .optional()?)
}

/// Spends a live reset token: the row lock makes a second, concurrent use
/// find it spent.
struct SpendResetToken;

impl Statement for SpendResetToken {
    type Row = SqlUuid;
    const SQL: &'static str = "
UPDATE email_tokens t SET ended_at = now()
FROM users u
WHERE t.token_hash = $1 AND t.purpose = 'password_reset' AND t.ended_at IS NULL
  AND t.expires_at > now() AND u.id = t.user_id AND u.email = t.email
RETURNING t.user_id";
}

/// Sets the new password and what a reset proves (the address works), and
/// ends every session and reset token of the account.
struct ApplyReset;

impl Statement for ApplyReset {
    type Row = UserColumns;
    const SQL: &'static str = "
WITH ended AS (
    UPDATE sessions SET ended_at = now(), end_reason = 'password_reset'
    WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now()
), tokens AS (
    UPDATE email_tokens SET ended_at = now()
    WHERE user_id = $1 AND purpose = 'password_reset' AND ended_at IS NULL
)
UPDATE users SET password_hash = $2, email_verified = true
WHERE id = $1
RETURNING id, email, role, created_at, email_verified, last_login_at";
}

/// See [`crate::db::Store::reset_password`].
pub async fn reset_password(
    conn: &mut AsyncPgConnection,
    reset: &PasswordReset,
) -> Result<Option<User>, StoreError> {
    conn.transaction(async |conn| {
        let spent: Option<Uuid> =
            Prepared::<SpendResetToken>::new(vec![Bind::Bytes(reset.token.as_bytes())])
                .get_result(conn)
                .await
                .optional()?;
        let Some(user_id) = spent else {
            return Ok(None);
        };
        let row: UserRow = Prepared::<ApplyReset>::new(vec![
            Bind::Uuid(user_id),
            Bind::Text(&reset.password_hash),
        ])
        .get_result(conn)
        .await?;
        let mut user = User::try_from(row)?;
        // The person proved they read this mailbox: whatever a guesser did
        // to the login limit of the address is forgiven.
        let key = EmailKey::of(&user.email);
        sessions::create(conn, user_id, &reset.session, Some(&key)).await?;
        user.last_login_at = Some(Utc::now());
        if let Some(notice) = &reset.notice {
            let mut notice = notice.clone();
            notice.recipient.clone_from(&user.email);
            outbox::queue(conn, &notice).await?;
        }
        Ok(Some(user))
    })
    .await
}
