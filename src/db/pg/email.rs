//! Emailed-link tokens on PostgreSQL: asking for a password reset, checking
//! a token, and spending it.

use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use diesel::sql_types::{Bool, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{UserColumns, UserRow};
use super::{audit, outbox, sessions};
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{
    Attempts, AuditEvent, AuditKind, EmailChangeRequested, EmailCounter, EmailKey, LinkRequest,
    NewEmail, NewEmailToken, PasswordReset, StoreError, TokenHash, TokenPurpose, Verified,
};
use crate::domain::User;

/// The first CTE of a request for an email: counts it against the target
/// address's window (`$1` its key, `$2` a new window's end), one atomic
/// upsert as for login attempts; a window that has ended restarts.
macro_rules! count_request {
    () => {
        "WITH counted AS (
    INSERT INTO email_requests AS r (email_hash, requests, window_ends_at) VALUES ($1, 1, $2)
    ON CONFLICT (email_hash) DO UPDATE SET
        requests = CASE WHEN r.window_ends_at <= now() THEN 1 ELSE r.requests + 1 END,
        window_ends_at = CASE WHEN r.window_ends_at <= now() THEN EXCLUDED.window_ends_at
                              ELSE r.window_ends_at END
    RETURNING requests, window_ends_at
)"
    };
}

/// Counts a request for an email (one atomic upsert).
struct CountRequest;

impl Statement for CountRequest {
    type Row = (Integer, Timestamptz);
    const SQL: &'static str = concat!(
        count_request!(),
        " SELECT requests, window_ends_at FROM counted"
    );
}

/// See [`crate::db::Store::count_email_request`].
pub async fn count(
    conn: &mut AsyncPgConnection,
    counter: &EmailCounter,
) -> Result<Option<Attempts>, StoreError> {
    let (count, window_ends_at): (i32, DateTime<Utc>) = Prepared::<CountRequest>::new(vec![
        Bind::Bytes(counter.key.as_bytes()),
        Bind::Timestamp(counter.new_window_ends_at),
    ])
    .get_result(conn)
    .await?;
    Ok(limited(count, window_ends_at, counter.max))
}

/// For an address with a qualifying account (any account for a reset, an
/// unverified one for a verification): ends the account's earlier tokens of
/// the purpose (`$9`), stores the new one and queues its email, in one
/// statement.
struct RequestLink;

impl Statement for RequestLink {
    type Row = Nullable<SqlUuid>;
    const SQL: &'static str = "
WITH account AS (
    SELECT id FROM users WHERE email = $1
      AND CASE WHEN $9 = 'password_reset' THEN NOT disabled ELSE NOT email_verified END
), superseded AS (
    UPDATE email_tokens SET ended_at = now()
    WHERE user_id = (SELECT id FROM account) AND purpose = $9 AND ended_at IS NULL
), token AS (
    INSERT INTO email_tokens (token_hash, user_id, purpose, email, expires_at)
    SELECT $2, id, $9, $1, $3 FROM account
), queued AS (
    INSERT INTO outbox (id, kind, recipient, subject, text_body, html_body)
    SELECT $4, $5, $1, $6, $7, $8 FROM account
    RETURNING id
)
SELECT (SELECT id FROM account) WHERE EXISTS (SELECT 1 FROM queued)";
}

/// See [`crate::db::Store::request_password_reset`] and
/// [`crate::db::Store::request_email_verification`].
pub async fn request_link(
    conn: &mut AsyncPgConnection,
    request: &LinkRequest,
    purpose: TokenPurpose,
    event: &AuditEvent,
) -> Result<bool, StoreError> {
    let email = &request.email_out;
    conn.transaction(async |conn| {
        let account: Option<Option<Uuid>> = Prepared::<RequestLink>::new(vec![
            Bind::Text(&request.email),
            Bind::Bytes(request.token.hash.as_bytes()),
            Bind::Timestamp(request.token.expires_at),
            Bind::Uuid(email.id),
            Bind::Text(email.kind),
            Bind::Text(&email.subject),
            Bind::Text(&email.text),
            Bind::Text(&email.html),
            Bind::Text(purpose.as_str()),
        ])
        .get_result(conn)
        .await
        .optional()?;
        let Some(Some(user_id)) = account else {
            return Ok(false);
        };
        audit::insert(conn, &[event], Some(user_id)).await?;
        Ok(true)
    })
    .await
}

/// Ends every live emailed token of the account (it was disabled).
pub async fn end_all_tokens(conn: &mut AsyncPgConnection, user_id: Uuid) -> Result<(), StoreError> {
    diesel::sql_query(
        "UPDATE email_tokens SET ended_at = now() WHERE user_id = $1 AND ended_at IS NULL",
    )
    .bind::<SqlUuid, _>(user_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The attempts, when `count` is past `max`.
fn limited(count: i32, window_ends_at: DateTime<Utc>, max: u32) -> Option<Attempts> {
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    (count > max).then_some(Attempts {
        count,
        window_ends_at,
    })
}

/// `requestEmailChange` in one statement: counts the request on the new
/// address; within the limit and unless an account has that address, ends
/// the account's earlier email-change tokens, stores the new one, and
/// queues the confirmation (to the new address) and the notice (to the
/// current one).
struct RequestChange;

impl Statement for RequestChange {
    type Row = (Integer, Timestamptz, Bool, Bool);
    const SQL: &'static str = concat!(
        "\n",
        count_request!(),
        ", taken AS (
    SELECT 1 FROM users WHERE email = $4
), account AS (
    SELECT id, email FROM users
    WHERE id = $12 AND (SELECT requests FROM counted) <= $3 AND NOT EXISTS (SELECT 1 FROM taken)
), superseded AS (
    UPDATE email_tokens SET ended_at = now()
    WHERE user_id = (SELECT id FROM account) AND purpose = 'email_change' AND ended_at IS NULL
), token AS (
    INSERT INTO email_tokens (token_hash, user_id, purpose, email, expires_at)
    SELECT $5, id, 'email_change', $4, $6 FROM account
), confirmation AS (
    INSERT INTO outbox (id, kind, recipient, subject, text_body, html_body)
    SELECT $7, $8, $4, $9, $10, $11 FROM account
), notice AS (
    INSERT INTO outbox (id, kind, recipient, subject, text_body, html_body)
    SELECT $13, $14, email, $15, $16, $17 FROM account
    RETURNING id
)
SELECT requests, window_ends_at, EXISTS (SELECT 1 FROM taken), EXISTS (SELECT 1 FROM notice)
FROM counted"
    );
}

/// See [`crate::db::Store::request_email_change`].
pub async fn request_change(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    counter: &EmailCounter,
    request: &LinkRequest,
    notice: &NewEmail,
    event: &AuditEvent,
) -> Result<EmailChangeRequested, StoreError> {
    let email = &request.email_out;
    conn.transaction(async |conn| {
        let (count, window_ends_at, taken, _queued): (i32, DateTime<Utc>, bool, bool) =
            Prepared::<RequestChange>::new(vec![
                Bind::Bytes(counter.key.as_bytes()),
                Bind::Timestamp(counter.new_window_ends_at),
                Bind::Int(i64::from(counter.max)),
                Bind::Text(&request.email),
                Bind::Bytes(request.token.hash.as_bytes()),
                Bind::Timestamp(request.token.expires_at),
                Bind::Uuid(email.id),
                Bind::Text(email.kind),
                Bind::Text(&email.subject),
                Bind::Text(&email.text),
                Bind::Text(&email.html),
                Bind::Uuid(user_id),
                Bind::Uuid(notice.id),
                Bind::Text(notice.kind),
                Bind::Text(&notice.subject),
                Bind::Text(&notice.text),
                Bind::Text(&notice.html),
            ])
            .get_result(conn)
            .await?;
        let outcome = match limited(count, window_ends_at, counter.max) {
            Some(attempts) => EmailChangeRequested::Limited(attempts),
            None if taken => EmailChangeRequested::Taken,
            None => EmailChangeRequested::Queued,
        };
        if outcome == EmailChangeRequested::Queued {
            audit::insert(conn, &[event], Some(user_id)).await?;
        }
        Ok(outcome)
    })
    .await
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
RETURNING id, email, role, created_at, email_verified, last_login_at, disabled";
}

/// See [`crate::db::Store::reset_password`].
pub async fn reset_password(
    conn: &mut AsyncPgConnection,
    reset: &PasswordReset,
    event: &AuditEvent,
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
        audit::insert(conn, &[event], Some(user_id)).await?;
        Ok(Some(user))
    })
    .await
}

/// Locks a live verification or email-change token (one issued for an
/// address the account no longer has is dead, unless it is a change's).
struct LiveLink;

impl Statement for LiveLink {
    type Row = (SqlUuid, Text, Text);
    const SQL: &'static str = "
SELECT t.user_id, t.purpose, t.email FROM email_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = $1 AND t.purpose IN ('email_verify', 'email_change')
  AND t.ended_at IS NULL AND t.expires_at > now()
  AND (t.purpose = 'email_change' OR t.email = u.email)
FOR UPDATE OF t";
}

struct EndToken;

impl Statement for EndToken {
    type Row = SqlUuid;
    const SQL: &'static str =
        "UPDATE email_tokens SET ended_at = now() WHERE token_hash = $1 RETURNING user_id";
}

struct MarkVerified;

impl Statement for MarkVerified {
    type Row = UserColumns;
    const SQL: &'static str = "
UPDATE users SET email_verified = true WHERE id = $1
RETURNING id, email, role, created_at, email_verified, last_login_at, disabled";
}

/// Moves the account to its new address (the unique constraint refuses one
/// another account took meanwhile) and ends its other email-change tokens.
struct ChangeAddress;

impl Statement for ChangeAddress {
    type Row = UserColumns;
    const SQL: &'static str = "
WITH others AS (
    UPDATE email_tokens SET ended_at = now()
    WHERE user_id = $1 AND purpose = 'email_change' AND ended_at IS NULL
)
UPDATE users SET email = $2, email_verified = true WHERE id = $1
RETURNING id, email, role, created_at, email_verified, last_login_at, disabled";
}

/// See [`crate::db::Store::verify_email`].
pub async fn verify(
    conn: &mut AsyncPgConnection,
    token: &TokenHash,
    event: &AuditEvent,
) -> Result<Verified, StoreError> {
    let outcome = conn
        .transaction(async |conn| {
            let live: Option<(Uuid, String, String)> =
                Prepared::<LiveLink>::new(vec![Bind::Bytes(token.as_bytes())])
                    .get_result(conn)
                    .await
                    .optional()?;
            let Some((user_id, purpose, address)) = live else {
                return Ok(Verified::Invalid);
            };
            Prepared::<EndToken>::new(vec![Bind::Bytes(token.as_bytes())])
                .get_result::<Uuid>(conn)
                .await?;
            let change = purpose == TokenPurpose::EmailChange.as_str();
            let mut event = event.clone();
            if change {
                event.kind = AuditKind::EmailChanged;
            }
            audit::insert(conn, &[&event], Some(user_id)).await?;
            let row: UserRow = if change {
                Prepared::<ChangeAddress>::new(vec![Bind::Uuid(user_id), Bind::Text(&address)])
                    .get_result(conn)
                    .await?
            } else {
                Prepared::<MarkVerified>::new(vec![Bind::Uuid(user_id)])
                    .get_result(conn)
                    .await?
            };
            Ok::<_, diesel::result::Error>(Verified::Account(
                User::try_from(row)
                    .map_err(|_| diesel::result::Error::DeserializationError("users row".into()))?,
            ))
        })
        .await;
    match outcome {
        Ok(verified) => Ok(verified),
        // Another account took the address since the link was sent; the
        // transaction rolled back, the token included.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(Verified::Taken),
        Err(error) => Err(error.into()),
    }
}

struct InsertToken;

impl Statement for InsertToken {
    type Row = SqlUuid;
    const SQL: &'static str = "
INSERT INTO email_tokens (token_hash, user_id, purpose, email, expires_at)
VALUES ($1, $2, $3, $4, $5) RETURNING user_id";
}

/// Stores a token (inside the caller's transaction).
pub async fn insert_token(
    conn: &mut AsyncPgConnection,
    token: &NewEmailToken,
    user_id: Uuid,
    purpose: TokenPurpose,
    email: &str,
) -> Result<(), StoreError> {
    Prepared::<InsertToken>::new(vec![
        Bind::Bytes(token.hash.as_bytes()),
        Bind::Uuid(user_id),
        Bind::Text(purpose.as_str()),
        Bind::Text(email),
        Bind::Timestamp(token.expires_at),
    ])
    .get_result::<Uuid>(conn)
    .await?;
    Ok(())
}
