//! Emailed-link tokens on SQLite: asking for a password reset, checking a
//! token, and spending it. Each runs as one write of the write queue, so
//! its reads see exactly what it then changes.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Integer, Text};
use uuid::Uuid;

use super::rows::{self, UserColumns, UserRow, user_columns};
use super::{audit, outbox, sessions};
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{
    Attempts, AuditEvent, AuditKind, EmailChangeRequested, EmailCounter, EmailKey, LinkRequest,
    NewEmail, NewEmailToken, PasswordReset, TokenHash, TokenPurpose, Verified,
};
use crate::domain::{EndReason, User};

struct CountRequest;

impl Statement for CountRequest {
    type Row = (Integer, BigInt);
    const SQL: &'static str = "
INSERT INTO email_requests (email_hash, requests, window_ends_at) VALUES ($1, 1, $2)
ON CONFLICT (email_hash) DO UPDATE SET
    requests = CASE WHEN window_ends_at <= $3 THEN 1 ELSE requests + 1 END,
    window_ends_at = CASE WHEN window_ends_at <= $3 THEN excluded.window_ends_at
                          ELSE window_ends_at END
RETURNING requests, window_ends_at";
}

struct AccountId;

impl Statement for AccountId {
    type Row = (Binary, BigInt, BigInt);
    const SQL: &'static str = "SELECT id, email_verified, disabled FROM users WHERE email = $1";
}

struct EndTokens;

impl Statement for EndTokens {
    type Row = Integer;
    const SQL: &'static str = "
UPDATE email_tokens SET ended_at = $3 WHERE user_id = $1 AND purpose = $2 AND ended_at IS NULL";
}

struct InsertToken;

impl Statement for InsertToken {
    type Row = Integer;
    const SQL: &'static str = "
INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)";
}

struct EndAllTokens;

impl Statement for EndAllTokens {
    type Row = Integer;
    const SQL: &'static str =
        "UPDATE email_tokens SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL";
}

/// Ends every live emailed token of the account (it was disabled).
pub fn end_all_tokens(conn: &mut SqliteConnection, user_id: Uuid) -> QueryResult<()> {
    Prepared::<EndAllTokens>::new(vec![Bind::Uuid(user_id), Bind::Int(rows::now())])
        .execute(conn)
        .map(drop)
}

/// Ends every token of `purpose` of the account.
pub fn end_tokens(
    conn: &mut SqliteConnection,
    user_id: Uuid,
    purpose: TokenPurpose,
) -> QueryResult<()> {
    Prepared::<EndTokens>::new(vec![
        Bind::Uuid(user_id),
        Bind::Text(purpose.as_str()),
        Bind::Int(rows::now()),
    ])
    .execute(conn)
    .map(drop)
}

/// See [`crate::db::Store::count_email_request`].
pub fn count(conn: &mut SqliteConnection, counter: &EmailCounter) -> QueryResult<Option<Attempts>> {
    let (count, window_ends_at): (i32, i64) = Prepared::<CountRequest>::new(vec![
        Bind::Bytes(counter.key.as_bytes()),
        Bind::Int(rows::millis(counter.new_window_ends_at)),
        Bind::Int(rows::now()),
    ])
    .get_result(conn)?;
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    if count <= counter.max {
        return Ok(None);
    }
    Ok(Some(Attempts {
        count,
        window_ends_at: rows::time(window_ends_at)?,
    }))
}

/// Stores a token (inside the caller's write).
pub fn insert_token(
    conn: &mut SqliteConnection,
    token: &NewEmailToken,
    user_id: Uuid,
    purpose: TokenPurpose,
    email: &str,
) -> QueryResult<()> {
    Prepared::<InsertToken>::new(vec![
        Bind::Bytes(token.hash.as_bytes()),
        Bind::Uuid(user_id),
        Bind::Text(purpose.as_str()),
        Bind::Text(email),
        Bind::Int(rows::now()),
        Bind::Int(rows::millis(token.expires_at)),
    ])
    .execute(conn)
    .map(drop)
}

/// See [`crate::db::Store::request_password_reset`] and
/// [`crate::db::Store::request_email_verification`]: a verification goes
/// only to an account whose address is not verified yet.
pub fn request_link(
    conn: &mut SqliteConnection,
    request: &LinkRequest,
    purpose: TokenPurpose,
    event: &AuditEvent,
) -> QueryResult<bool> {
    let account = Prepared::<AccountId>::new(vec![Bind::Text(&request.email)])
        .get_result::<(Vec<u8>, i64, i64)>(conn)
        .optional()?;
    // A reset goes to any enabled account; a verification to any account
    // whose address is not verified yet.
    let qualifies = |verified: i64, disabled: i64| match purpose {
        TokenPurpose::PasswordReset => disabled == 0,
        _ => verified == 0,
    };
    let user_id = match account {
        Some((id, verified, disabled)) if qualifies(verified, disabled) => rows::uuid(&id)?,
        _ => return Ok(false),
    };
    end_tokens(conn, user_id, purpose)?;
    insert_token(conn, &request.token, user_id, purpose, &request.email)?;
    let mut email = request.email_out.clone();
    email.recipient.clone_from(&request.email);
    outbox::queue(conn, &email)?;
    audit::insert(conn, event, Some(user_id))?;
    Ok(true)
}

struct AddressOf;

impl Statement for AddressOf {
    type Row = Text;
    const SQL: &'static str = "SELECT email FROM users WHERE id = $1";
}

/// See [`crate::db::Store::request_email_change`].
pub fn request_change(
    conn: &mut SqliteConnection,
    user_id: Uuid,
    counter: &EmailCounter,
    request: &LinkRequest,
    notice: &NewEmail,
    event: &AuditEvent,
) -> QueryResult<EmailChangeRequested> {
    if let Some(attempts) = count(conn, counter)? {
        return Ok(EmailChangeRequested::Limited(attempts));
    }
    let taken = Prepared::<AccountId>::new(vec![Bind::Text(&request.email)])
        .get_result::<(Vec<u8>, i64, i64)>(conn)
        .optional()?;
    if taken.is_some() {
        return Ok(EmailChangeRequested::Taken);
    }
    let current = Prepared::<AddressOf>::new(vec![Bind::Uuid(user_id)])
        .get_result::<String>(conn)
        .optional()?;
    let Some(current) = current else {
        return Ok(EmailChangeRequested::Queued);
    };
    end_tokens(conn, user_id, TokenPurpose::EmailChange)?;
    insert_token(
        conn,
        &request.token,
        user_id,
        TokenPurpose::EmailChange,
        &request.email,
    )?;
    let mut confirmation = request.email_out.clone();
    confirmation.recipient.clone_from(&request.email);
    outbox::queue(conn, &confirmation)?;
    let mut notice = notice.clone();
    notice.recipient = current;
    outbox::queue(conn, &notice)?;
    audit::insert(conn, event, Some(user_id))?;
    Ok(EmailChangeRequested::Queued)
}

/// A live verification or email-change token.
struct LiveLink;

impl Statement for LiveLink {
    type Row = (Binary, Text, Text);
    const SQL: &'static str = "
SELECT t.user_id, t.purpose, t.email FROM email_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = $1 AND t.purpose IN ('email_verify', 'email_change')
  AND t.ended_at IS NULL AND t.expires_at > $2
  AND (t.purpose = 'email_change' OR t.email = u.email)";
}

struct MarkVerified;

impl Statement for MarkVerified {
    type Row = UserColumns;
    const SQL: &'static str = concat!(
        "UPDATE users SET email_verified = 1 WHERE id = $1 RETURNING ",
        user_columns!()
    );
}

struct ChangeAddress;

impl Statement for ChangeAddress {
    type Row = UserColumns;
    const SQL: &'static str = concat!(
        "UPDATE users SET email = $2, email_verified = 1 WHERE id = $1 RETURNING ",
        user_columns!()
    );
}

/// See [`crate::db::Store::verify_email`]. The write queue runs it alone,
/// so the address check and the change cannot interleave with a
/// registration of that address.
pub fn verify(
    conn: &mut SqliteConnection,
    token: &TokenHash,
    event: &AuditEvent,
) -> QueryResult<Verified> {
    let now = rows::now();
    let live = Prepared::<LiveLink>::new(vec![Bind::Bytes(token.as_bytes()), Bind::Int(now)])
        .get_result::<(Vec<u8>, String, String)>(conn)
        .optional()?;
    let Some((user_id, purpose, address)) = live else {
        return Ok(Verified::Invalid);
    };
    let user_id = rows::uuid(&user_id)?;
    let row: UserRow = if purpose == TokenPurpose::EmailChange.as_str() {
        let taken = Prepared::<AccountId>::new(vec![Bind::Text(&address)])
            .get_result::<(Vec<u8>, i64, i64)>(conn)
            .optional()?;
        if taken.is_some() {
            return Ok(Verified::Taken);
        }
        end_tokens(conn, user_id, TokenPurpose::EmailChange)?;
        let mut changed = event.clone();
        changed.kind = AuditKind::EmailChanged;
        audit::insert(conn, &changed, Some(user_id))?;
        Prepared::<ChangeAddress>::new(vec![Bind::Uuid(user_id), Bind::Text(&address)])
            .get_result(conn)?
    } else {
        Prepared::<SpendToken>::new(vec![Bind::Bytes(token.as_bytes()), Bind::Int(now)])
            .execute(conn)?;
        audit::insert(conn, event, Some(user_id))?;
        Prepared::<MarkVerified>::new(vec![Bind::Uuid(user_id)]).get_result(conn)?
    };
    rows::user(row).map(Verified::Account)
}

/// The account of a live token of a purpose; one issued for an address the
/// account no longer has is dead (an email change's names the new one).
struct LiveToken;

impl Statement for LiveToken {
    type Row = (Binary, Text);
    const SQL: &'static str = "
SELECT t.user_id, u.email FROM email_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = $1 AND t.purpose = $2 AND t.ended_at IS NULL AND t.expires_at > $3
  AND (t.purpose = 'email_change' OR t.email = u.email)";
}

/// See [`crate::db::Store::email_token_account`].
pub fn token_account(
    conn: &mut SqliteConnection,
    token: &TokenHash,
    purpose: TokenPurpose,
) -> QueryResult<Option<(Uuid, String)>> {
    let found = Prepared::<LiveToken>::new(vec![
        Bind::Bytes(token.as_bytes()),
        Bind::Text(purpose.as_str()),
        Bind::Int(rows::now()),
    ])
    .get_result::<(Vec<u8>, String)>(conn)
    .optional()?;
    found
        .map(|(id, email)| Ok((rows::uuid(&id)?, email)))
        .transpose()
}

struct SpendToken;

impl Statement for SpendToken {
    type Row = Integer;
    const SQL: &'static str = "UPDATE email_tokens SET ended_at = $2 WHERE token_hash = $1";
}

struct ApplyReset;

impl Statement for ApplyReset {
    type Row = UserColumns;
    const SQL: &'static str = concat!(
        "UPDATE users SET password_hash = $2, email_verified = 1 WHERE id = $1 RETURNING ",
        user_columns!()
    );
}

/// See [`crate::db::Store::reset_password`].
pub fn reset_password(
    conn: &mut SqliteConnection,
    reset: &PasswordReset,
    event: &AuditEvent,
) -> QueryResult<Option<User>> {
    let Some((user_id, _)) = token_account(conn, &reset.token, TokenPurpose::PasswordReset)? else {
        return Ok(None);
    };
    let now = rows::now();
    Prepared::<SpendToken>::new(vec![Bind::Bytes(reset.token.as_bytes()), Bind::Int(now)])
        .execute(conn)?;
    let row: UserRow =
        Prepared::<ApplyReset>::new(vec![Bind::Uuid(user_id), Bind::Text(&reset.password_hash)])
            .get_result(conn)?;
    sessions::end_all_for(conn, user_id, EndReason::PasswordReset)?;
    end_tokens(conn, user_id, TokenPurpose::PasswordReset)?;
    let mut user = rows::user(row)?;
    // The person proved they read this mailbox: whatever a guesser did to
    // the login limit of the address is forgiven.
    let key = EmailKey::of(&user.email);
    sessions::create(conn, user_id, &reset.session, Some(&key))?;
    user.last_login_at = Some(rows::time(now)?);
    if let Some(notice) = &reset.notice {
        let mut notice = notice.clone();
        notice.recipient.clone_from(&user.email);
        outbox::queue(conn, &notice)?;
    }
    audit::insert(conn, event, Some(user_id))?;
    Ok(Some(user))
}
