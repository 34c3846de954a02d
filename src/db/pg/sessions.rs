//! Sessions and refresh tokens on PostgreSQL.
//!
//! Rotation is one SQL statement: spend the presented token, slide the
//! session, store the successor and read the account, with no transaction
//! round trips, prepared once per connection (see [`super::prepared`]). Row
//! locks make it safe under concurrency (see [`ROTATE`]).

use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{UserColumns, UserRow};
use super::schema::{sessions, users};
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{
    AuditEvent, EmailKey, EndSession, NewRefreshToken, NewSession, Rotation, StoreError, TokenHash,
};
use crate::domain::{EndReason, Session, User};

/// Starts a session, stores its first refresh token and records the
/// sign-in, in one statement (the foreign key is checked at its end, when
/// the session row exists). After a successful login `$7` is the email's
/// attempt counter, cleared in the same statement; otherwise it is `NULL`,
/// which matches no row.
struct StartSession;

impl Statement for StartSession {
    type Row = SqlUuid;
    const SQL: &'static str = "
WITH cleared AS (
    DELETE FROM login_attempts WHERE email_hash = $7
), signed_in AS (
    UPDATE users SET last_login_at = now() WHERE id = $2
), session AS (
    INSERT INTO sessions (id, user_id, expires_at, user_agent, ip) VALUES ($1, $2, $3, $5, $6)
)
INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($4, $1, $3)
RETURNING session_id";
}

/// See [`crate::db::Store::create_session`].
pub async fn create(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    session: &NewSession,
    clear: Option<&EmailKey>,
) -> Result<(), StoreError> {
    Prepared::<StartSession>::new(vec![
        Bind::Uuid(session.id),
        Bind::Uuid(user_id),
        Bind::Timestamp(session.refresh_token.expires_at),
        Bind::Bytes(session.refresh_token.hash.as_bytes()),
        Bind::OptText(session.user_agent.as_deref()),
        Bind::OptText(session.ip.as_deref()),
        Bind::OptBytes(clear.map(EmailKey::as_bytes)),
    ])
    .get_result::<Uuid>(conn)
    .await?;
    Ok(())
}

/// Spends a live token and stores its successor, in one statement.
///
/// Concurrency: the first `UPDATE` takes the token's row lock. A concurrent
/// call with the same token waits for it, then re-checks `used_at IS NULL`
/// against the committed row (READ COMMITTED re-evaluation), finds it spent
/// and updates nothing. So of N concurrent calls exactly one rotates, however
/// many server instances share the database.
struct Rotate;

impl Statement for Rotate {
    type Row = UserColumns;
    const SQL: &'static str = "
WITH spent AS (
    UPDATE refresh_tokens SET used_at = now()
    WHERE token_hash = $1 AND session_id = $2 AND used_at IS NULL AND expires_at > now()
      -- A token of an ended or expired session is refused without being
      -- spent, so it is never mistaken for reuse afterwards.
      AND EXISTS (SELECT 1 FROM sessions WHERE id = $2 AND ended_at IS NULL AND expires_at > now())
    RETURNING session_id

), session AS (
    -- What the sessions list shows, written by the rotation itself: no
    -- extra round trip on the hot path.
    UPDATE sessions SET expires_at = $4, last_active_at = now(), ip = $5
    WHERE id = (SELECT session_id FROM spent) AND ended_at IS NULL AND expires_at > now()
    RETURNING id, user_id
), issued AS (
    INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
    SELECT $3, id, $4 FROM session
)
SELECT users.id, users.email, users.role, users.created_at, users.email_verified,
       users.last_login_at, users.disabled
FROM session JOIN users ON users.id = session.user_id";
}

/// Ends the session of a token that was already spent: reuse detection
/// (OAuth 2.0 Security BCP, refresh token rotation). Whoever presents a spent
/// token, the thief or the rightful client, the session can no longer be
/// trusted, so every token of it stops working.
struct EndReused;

impl Statement for EndReused {
    type Row = SqlUuid;
    const SQL: &'static str = "
UPDATE sessions SET ended_at = now(), end_reason = 'reuse'
WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL)
  AND ended_at IS NULL
RETURNING id";
}

/// See [`crate::db::Store::rotate_refresh_token`].
pub async fn rotate(
    conn: &mut AsyncPgConnection,
    presented: &TokenHash,
    session_id: Uuid,
    next: &NewRefreshToken,
    ip: Option<&str>,
    reuse: &AuditEvent,
) -> Result<Rotation, StoreError> {
    let rotated: Option<UserRow> = Prepared::<Rotate>::new(vec![
        Bind::Bytes(presented.as_bytes()),
        Bind::Uuid(session_id),
        Bind::Bytes(next.hash.as_bytes()),
        Bind::Timestamp(next.expires_at),
        Bind::OptText(ip),
    ])
    .get_result(conn)
    .await
    .optional()?;
    if let Some(user) = rotated {
        return Ok(Rotation::Rotated(User::try_from(user)?));
    }
    // Not rotated: run as its own statement so it sees the commit of whoever
    // spent the token, even when that happened while we waited on the lock.
    // The session's end and its audit event commit together.
    conn.transaction(async |conn| {
        let reused: Option<Uuid> =
            Prepared::<EndReused>::new(vec![Bind::Bytes(presented.as_bytes())])
                .get_result(conn)
                .await
                .optional()?;
        Ok(match reused {
            Some(session_id) => {
                super::audit::insert(conn, &[reuse], None).await?;
                Rotation::Reused { session_id }
            }
            None => Rotation::Rejected,
        })
    })
    .await
}

/// Ends the session of a token, telling apart a token never stored from one
/// whose session had already ended, in one statement.
struct EndByToken;

impl Statement for EndByToken {
    type Row = (Bool, Bool, Bool);
    const SQL: &'static str = "
WITH token AS (
    SELECT session_id FROM refresh_tokens WHERE token_hash = $1
), ended AS (
    UPDATE sessions SET ended_at = now(), end_reason = 'logout'
    WHERE id = (SELECT session_id FROM token) AND ended_at IS NULL AND expires_at > now()
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM token), EXISTS (SELECT 1 FROM ended),
       EXISTS (SELECT 1 FROM users WHERE id = $2)";
}

/// See [`crate::db::Store::end_session_by_token`].
pub async fn end_by_token(
    conn: &mut AsyncPgConnection,
    presented: &TokenHash,
    user_id: Uuid,
) -> Result<EndSession, StoreError> {
    let (known, ended, account_exists): (bool, bool, bool) =
        Prepared::<EndByToken>::new(vec![Bind::Bytes(presented.as_bytes()), Bind::Uuid(user_id)])
            .get_result(conn)
            .await?;
    Ok(match (known, ended, account_exists) {
        (_, true, _) => EndSession::Ended,
        (true, false, _) => EndSession::AlreadyEnded,
        // Deleting an account deletes its tokens: its sessions ended with it.
        (false, false, false) => EndSession::AlreadyEnded,
        (false, false, true) => EndSession::Unknown,
    })
}

/// A condition on `sessions` rows.
type Filter = Box<dyn BoxableExpression<sessions::table, Pg, SqlType = Bool>>;

/// The account's live sessions.
fn live(user_id: Uuid) -> Filter {
    Box::new(
        sessions::user_id
            .eq(user_id)
            .and(sessions::ended_at.is_null())
            .and(sessions::expires_at.gt(now)),
    )
}

/// Ends the sessions `which` selects, for `reason`; returns how many.
async fn end(
    conn: &mut AsyncPgConnection,
    which: Filter,
    reason: EndReason,
) -> Result<u64, StoreError> {
    let ended = diesel::update(sessions::table.filter(which))
        .set((
            sessions::ended_at.eq(now),
            sessions::end_reason.eq(reason.as_str()),
        ))
        .execute(conn)
        .await?;
    Ok(ended as u64)
}

/// See [`crate::db::Store::end_session`].
pub async fn end_one(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    session_id: Uuid,
    reason: EndReason,
) -> Result<bool, StoreError> {
    let one = Box::new(live(user_id).and(sessions::id.eq(session_id)));
    Ok(end(conn, one, reason).await? > 0)
}

/// Ends every live session of the account, for `reason`; returns how many.
pub async fn end_all(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    reason: EndReason,
) -> Result<u64, StoreError> {
    end(conn, live(user_id), reason).await
}

/// See [`crate::db::Store::end_other_sessions`].
pub async fn end_others(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    keep: Uuid,
) -> Result<u64, StoreError> {
    let others = Box::new(live(user_id).and(sessions::id.ne(keep)));
    end(conn, others, EndReason::LogoutOthers).await
}

/// The live sessions of an account, the most recently active first.
struct ListLive;

impl Statement for ListLive {
    type Row = (
        SqlUuid,
        Timestamptz,
        Timestamptz,
        Timestamptz,
        Nullable<Text>,
        Nullable<Text>,
    );
    const SQL: &'static str = "
SELECT id, created_at, COALESCE(last_active_at, created_at) AS active, expires_at, user_agent, ip
FROM sessions
WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now()
ORDER BY active DESC, id";
}

type SessionRow = (
    Uuid,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
);

/// See [`crate::db::Store::list_sessions`].
pub async fn list(conn: &mut AsyncPgConnection, user_id: Uuid) -> Result<Vec<Session>, StoreError> {
    let rows: Vec<SessionRow> = Prepared::<ListLive>::new(vec![Bind::Uuid(user_id)])
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, created_at, last_active_at, expires_at, user_agent, ip)| Session {
                id,
                created_at,
                last_active_at,
                expires_at,
                user_agent,
                ip,
            },
        )
        .collect())
}

/// See [`crate::db::Store::find_session_user`]. One indexed lookup per
/// guarded request: this is what makes access tokens die with their session.
pub async fn find_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<Option<User>, StoreError> {
    let row: Option<UserRow> = sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(session_id))
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::ended_at.is_null())
        .filter(sessions::expires_at.gt(now))
        // Disabling ends every session; this keeps a disabled account out
        // even so, at no cost (the row is read anyway).
        .filter(users::disabled.eq(false))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?;
    row.map(User::try_from).transpose()
}
