//! Sessions and refresh tokens on SQLite.
//!
//! Every change runs through the write queue (see [`super::writer`]), one
//! after another on one connection that holds SQLite's write lock, each
//! atomic in a savepoint of its own: its reads see exactly what it then
//! changes. That is what makes rotation single-use: of N concurrent calls
//! with one token, the first spends it, and the others, which run after it,
//! find it spent. (Several processes on one file are serialised by the same
//! lock, taken up front.)

use diesel::prelude::*;
use diesel::sql_types::{Binary, Integer};
use uuid::Uuid;

use super::rows::{self, SessionColumns, SessionRow, UserColumns, UserRow, user_columns};
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{
    AuditEvent, EmailKey, EndSession, NewRefreshToken, NewSession, Rotation, TokenHash,
};
use crate::domain::{EndReason, Session, User};

struct InsertSession;

impl Statement for InsertSession {
    type Row = Integer;
    const SQL: &'static str = "
INSERT INTO sessions (id, user_id, created_at, expires_at, user_agent, ip)
VALUES ($1, $2, $3, $4, $5, $6)";
}

struct InsertToken;

impl Statement for InsertToken {
    type Row = Integer;
    const SQL: &'static str = "
INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
}

/// Records a sign-in of an existing account.
struct SignedIn;

impl Statement for SignedIn {
    type Row = Integer;
    const SQL: &'static str = "UPDATE users SET last_login_at = $1 WHERE id = $2";
}

struct ClearAttempts;

impl Statement for ClearAttempts {
    type Row = Integer;
    const SQL: &'static str = "DELETE FROM login_attempts WHERE email_hash = $1";
}

/// Stores a session and its first token (inside the caller's transaction).
pub(super) fn start(
    conn: &mut SqliteConnection,
    user_id: Uuid,
    session: &NewSession,
    now: i64,
) -> QueryResult<()> {
    let expires_at = rows::millis(session.refresh_token.expires_at);
    Prepared::<InsertSession>::new(vec![
        Bind::Uuid(session.id),
        Bind::Uuid(user_id),
        Bind::Int(now),
        Bind::Int(expires_at),
        Bind::OptText(session.user_agent.as_deref()),
        Bind::OptText(session.ip.as_deref()),
    ])
    .execute(conn)?;
    insert_token(conn, &session.refresh_token, session.id, now)
}

fn insert_token(
    conn: &mut SqliteConnection,
    token: &NewRefreshToken,
    session_id: Uuid,
    now: i64,
) -> QueryResult<()> {
    Prepared::<InsertToken>::new(vec![
        Bind::Bytes(token.hash.as_bytes()),
        Bind::Uuid(session_id),
        Bind::Int(now),
        Bind::Int(rows::millis(token.expires_at)),
    ])
    .execute(conn)
    .map(drop)
}

/// See [`crate::db::Store::create_session`].
pub fn create(
    conn: &mut SqliteConnection,
    user_id: Uuid,
    session: &NewSession,
    clear: Option<&EmailKey>,
) -> QueryResult<()> {
    if let Some(email) = clear {
        Prepared::<ClearAttempts>::new(vec![Bind::Bytes(email.as_bytes())]).execute(conn)?;
    }
    let now = rows::now();
    Prepared::<SignedIn>::new(vec![Bind::Int(now), Bind::Uuid(user_id)]).execute(conn)?;
    start(conn, user_id, session, now)
}

/// Spends a live token of a live session. A token of an ended or expired
/// session is refused without being spent, so it is never mistaken for
/// reuse afterwards.
struct SpendToken;

impl Statement for SpendToken {
    type Row = Binary;
    const SQL: &'static str = "
UPDATE refresh_tokens SET used_at = $1
WHERE token_hash = $2 AND session_id = $3 AND used_at IS NULL AND expires_at > $1
  AND EXISTS (SELECT 1 FROM sessions WHERE id = $3 AND ended_at IS NULL AND expires_at > $1)
RETURNING session_id";
}

/// Slides the session to its newest token's expiry, and records what the
/// sessions list shows, in the rotation's own statement.
struct SlideSession;

impl Statement for SlideSession {
    type Row = Binary;
    const SQL: &'static str = "
UPDATE sessions SET expires_at = $1, last_active_at = $3, ip = $4 WHERE id = $2
RETURNING user_id";
}

struct UserById;

impl Statement for UserById {
    type Row = UserColumns;
    const SQL: &'static str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
}

/// Ends the session of a token that was already spent: reuse detection (see
/// the PostgreSQL backend for why the whole session goes).
struct EndReused;

impl Statement for EndReused {
    type Row = Binary;
    const SQL: &'static str = "
UPDATE sessions SET ended_at = $1, end_reason = 'reuse'
WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $2 AND used_at IS NOT NULL)
  AND ended_at IS NULL
RETURNING id";
}

/// See [`crate::db::Store::rotate_refresh_token`].
pub fn rotate(
    conn: &mut SqliteConnection,
    presented: &TokenHash,
    session_id: Uuid,
    next: &NewRefreshToken,
    ip: Option<&str>,
    reuse: &AuditEvent,
) -> QueryResult<Rotation> {
    let now = rows::now();
    let spent = Prepared::<SpendToken>::new(vec![
        Bind::Int(now),
        Bind::Bytes(presented.as_bytes()),
        Bind::Uuid(session_id),
    ])
    .get_result::<Vec<u8>>(conn)
    .optional()?;
    if spent.is_some() {
        let user_id: Vec<u8> = Prepared::<SlideSession>::new(vec![
            Bind::Int(rows::millis(next.expires_at)),
            Bind::Uuid(session_id),
            Bind::Int(now),
            Bind::OptText(ip),
        ])
        .get_result(conn)?;
        insert_token(conn, next, session_id, now)?;
        let user: UserRow =
            Prepared::<UserById>::new(vec![Bind::Uuid(rows::uuid(&user_id)?)]).get_result(conn)?;
        return Ok(Rotation::Rotated(rows::user(user)?));
    }
    let reused =
        Prepared::<EndReused>::new(vec![Bind::Int(now), Bind::Bytes(presented.as_bytes())])
            .get_result::<Vec<u8>>(conn)
            .optional()?;
    Ok(match reused {
        Some(id) => {
            // The session's end and its audit event commit together.
            super::audit::insert(conn, reuse, None)?;
            Rotation::Reused {
                session_id: rows::uuid(&id)?,
            }
        }
        None => Rotation::Rejected,
    })
}

struct TokenSession;

impl Statement for TokenSession {
    type Row = Binary;
    const SQL: &'static str = "SELECT session_id FROM refresh_tokens WHERE token_hash = $1";
}

/// Ends the live session `$2`, for `logout`.
struct EndLive;

impl Statement for EndLive {
    type Row = Integer;
    const SQL: &'static str = "
UPDATE sessions SET ended_at = $1, end_reason = 'logout'
WHERE id = $2 AND ended_at IS NULL AND expires_at > $1";
}

struct AccountExists;

impl Statement for AccountExists {
    type Row = Integer;
    const SQL: &'static str = "SELECT 1 FROM users WHERE id = $1";
}

/// See [`crate::db::Store::end_session_by_token`].
pub fn end_by_token(
    conn: &mut SqliteConnection,
    presented: &TokenHash,
    user_id: Uuid,
) -> QueryResult<EndSession> {
    let session = Prepared::<TokenSession>::new(vec![Bind::Bytes(presented.as_bytes())])
        .get_result::<Vec<u8>>(conn)
        .optional()?;
    let Some(session) = session else {
        // Deleting an account deletes its tokens: its sessions ended with it.
        let account = Prepared::<AccountExists>::new(vec![Bind::Uuid(user_id)])
            .get_result::<i32>(conn)
            .optional()?;
        return Ok(match account {
            Some(_) => EndSession::Unknown,
            None => EndSession::AlreadyEnded,
        });
    };
    let ended = Prepared::<EndLive>::new(vec![
        Bind::Int(rows::now()),
        Bind::Uuid(rows::uuid(&session)?),
    ])
    .execute(conn)?;
    Ok(if ended > 0 {
        EndSession::Ended
    } else {
        EndSession::AlreadyEnded
    })
}

struct EndOne;

impl Statement for EndOne {
    type Row = Integer;
    const SQL: &'static str = "
UPDATE sessions SET ended_at = $1, end_reason = $4
WHERE id = $2 AND user_id = $3 AND ended_at IS NULL AND expires_at > $1";
}

/// See [`crate::db::Store::end_session`]. One statement: atomic on its own.
pub fn end_one(
    conn: &mut SqliteConnection,
    user_id: Uuid,
    session_id: Uuid,
    reason: EndReason,
) -> QueryResult<bool> {
    let ended = Prepared::<EndOne>::new(vec![
        Bind::Int(rows::now()),
        Bind::Uuid(session_id),
        Bind::Uuid(user_id),
        Bind::Text(reason.as_str()),
    ])
    .execute(conn)?;
    Ok(ended > 0)
}

struct EndAll;

impl Statement for EndAll {
    type Row = Integer;
    const SQL: &'static str = "
UPDATE sessions SET ended_at = $1, end_reason = $3
WHERE user_id = $2 AND ended_at IS NULL AND expires_at > $1";
}

/// Ends every live session of the account, for `reason`.
pub fn end_all_for(
    conn: &mut SqliteConnection,
    user_id: Uuid,
    reason: EndReason,
) -> QueryResult<u64> {
    let ended = Prepared::<EndAll>::new(vec![
        Bind::Int(rows::now()),
        Bind::Uuid(user_id),
        Bind::Text(reason.as_str()),
    ])
    .execute(conn)?;
    Ok(ended as u64)
}

struct EndOthers;

impl Statement for EndOthers {
    type Row = Integer;
    const SQL: &'static str = "
UPDATE sessions SET ended_at = $1, end_reason = $4
WHERE user_id = $2 AND id <> $3 AND ended_at IS NULL AND expires_at > $1";
}

/// Ends every live session of the account but `keep`, for `reason`.
pub fn end_others(
    conn: &mut SqliteConnection,
    user_id: Uuid,
    keep: Uuid,
    reason: EndReason,
) -> QueryResult<u64> {
    let ended = Prepared::<EndOthers>::new(vec![
        Bind::Int(rows::now()),
        Bind::Uuid(user_id),
        Bind::Uuid(keep),
        Bind::Text(reason.as_str()),
    ])
    .execute(conn)?;
    Ok(ended as u64)
}

struct ListLive;

impl Statement for ListLive {
    type Row = SessionColumns;
    const SQL: &'static str = "
SELECT id, created_at, COALESCE(last_active_at, created_at) AS active, expires_at, user_agent, ip
FROM sessions
WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2
ORDER BY active DESC, id";
}

/// See [`crate::db::Store::list_sessions`].
pub fn list(conn: &mut SqliteConnection, user_id: Uuid) -> QueryResult<Vec<Session>> {
    let rows: Vec<SessionRow> =
        Prepared::<ListLive>::new(vec![Bind::Uuid(user_id), Bind::Int(rows::now())]).load(conn)?;
    rows.into_iter().map(rows::session).collect()
}

struct FindUser;

impl Statement for FindUser {
    type Row = UserColumns;
    const SQL: &'static str = concat!(
        "SELECT ",
        user_columns!(),
        " FROM sessions JOIN users ON users.id = sessions.user_id
WHERE sessions.id = $1 AND sessions.user_id = $2
  AND sessions.ended_at IS NULL AND sessions.expires_at > $3 AND users.disabled = 0"
    );
}

/// See [`crate::db::Store::find_session_user`]: one indexed lookup per
/// guarded request, which is what makes access tokens die with their session.
pub fn find_user(
    conn: &mut SqliteConnection,
    user_id: Uuid,
    session_id: Uuid,
) -> QueryResult<Option<User>> {
    let row: Option<UserRow> = Prepared::<FindUser>::new(vec![
        Bind::Uuid(session_id),
        Bind::Uuid(user_id),
        Bind::Int(rows::now()),
    ])
    .get_result(conn)
    .optional()?;
    row.map(rows::user).transpose()
}
