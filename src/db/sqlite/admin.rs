//! Administration on SQLite: finding and listing accounts, and the changes
//! of role and status an ADMIN makes, each with its audit event in one
//! write. The write queue runs one write at a time, so the last-admin check
//! and the change cannot interleave with another.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use uuid::Uuid;

use super::rows::{self, UserColumns, UserRow, user_columns};
use super::{audit, email, sessions};
use crate::db::prepared::{Bind, Prepared, Statement};
use crate::db::{AccountChange, AdminChange, AuditEvent, User, UserPage, UserQuery};
use crate::domain::{EndReason, Role};

struct ById;

impl Statement for ById {
    type Row = UserColumns;
    const SQL: &'static str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
}

struct ByEmail;

impl Statement for ByEmail {
    type Row = UserColumns;
    const SQL: &'static str = concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1");
}

/// The account with this id.
pub fn find(conn: &mut SqliteConnection, id: Uuid) -> QueryResult<Option<User>> {
    let row: Option<UserRow> = Prepared::<ById>::new(vec![Bind::Uuid(id)])
        .get_result(conn)
        .optional()?;
    row.map(rows::user).transpose()
}

/// The account with this normalized email.
pub fn find_by_email(conn: &mut SqliteConnection, email: &str) -> QueryResult<Option<User>> {
    let row: Option<UserRow> = Prepared::<ByEmail>::new(vec![Bind::Text(email)])
        .get_result(conn)
        .optional()?;
    row.map(rows::user).transpose()
}

/// A page newest first: `$1` the search text (`NULL`: all; `instr` takes
/// it literally, so no character of it is a wildcard), `$2`/`$3` the
/// cursor, `$4` the limit. SQLite has no trigram index: a search scans the
/// `(created_at, id)` index in order until the page is full.
struct Page;

impl Statement for Page {
    type Row = UserColumns;
    const SQL: &'static str = concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE ($1 IS NULL OR instr(email, $1) > 0)
  AND (created_at < $2 OR (created_at = $2 AND id < $3))
ORDER BY created_at DESC, id DESC LIMIT $4"
    );
}

struct Count;

impl Statement for Count {
    type Row = BigInt;
    const SQL: &'static str =
        "SELECT count(*) FROM users WHERE ($1 IS NULL OR instr(email, $1) > 0)";
}

/// See [`crate::db::Store::list_users`].
pub fn list(conn: &mut SqliteConnection, query: &UserQuery) -> QueryResult<UserPage> {
    // No cursor: after everything (17 x 0xff sorts above any 16-byte id).
    let (at, id) = match query.after {
        Some((at, id)) => (rows::millis(at), id.as_bytes().to_vec()),
        None => (i64::MAX, vec![0xff; 17]),
    };
    let search = query.search.as_deref();
    let page: Vec<UserRow> = Prepared::<Page>::new(vec![
        Bind::OptText(search),
        Bind::Int(at),
        Bind::Bytes(&id),
        Bind::Int(i64::from(query.limit)),
    ])
    .load(conn)?;
    let total: i64 = Prepared::<Count>::new(vec![Bind::OptText(search)]).get_result(conn)?;
    Ok(UserPage {
        users: page.into_iter().map(rows::user).collect::<Result<_, _>>()?,
        total: u64::try_from(total).unwrap_or(0),
    })
}

struct OtherEnabledAdmin;

impl Statement for OtherEnabledAdmin {
    type Row = Integer;
    const SQL: &'static str =
        "SELECT 1 FROM users WHERE role = 'ADMIN' AND disabled = 0 AND id <> $1 LIMIT 1";
}

/// True when `user` is the only enabled ADMIN left.
pub fn is_last_admin(conn: &mut SqliteConnection, user: &User) -> QueryResult<bool> {
    if user.role != Role::Admin || user.disabled {
        return Ok(false);
    }
    let other = Prepared::<OtherEnabledAdmin>::new(vec![Bind::Uuid(user.id)])
        .get_result::<i32>(conn)
        .optional()?;
    Ok(other.is_none())
}

struct SetRole;

impl Statement for SetRole {
    type Row = Integer;
    const SQL: &'static str = "UPDATE users SET role = $2 WHERE id = $1";
}

struct SetDisabled;

impl Statement for SetDisabled {
    type Row = Integer;
    const SQL: &'static str = "UPDATE users SET disabled = $2 WHERE id = $1";
}

/// See [`crate::db::Store::set_user`].
pub fn set(
    conn: &mut SqliteConnection,
    user_id: Uuid,
    change: AccountChange,
    event: &AuditEvent,
) -> QueryResult<AdminChange> {
    let Some(user) = find(conn, user_id)? else {
        return Ok(AdminChange::Missing);
    };
    let (unchanged, removes_admin) = match change {
        AccountChange::Role(role) => (user.role == role, role != Role::Admin),
        AccountChange::Disabled(disabled) => (user.disabled == disabled, disabled),
    };
    if unchanged {
        return Ok(AdminChange::Unchanged(user));
    }
    if removes_admin && is_last_admin(conn, &user)? {
        return Ok(AdminChange::LastAdmin);
    }
    match change {
        AccountChange::Role(role) => {
            Prepared::<SetRole>::new(vec![Bind::Uuid(user_id), Bind::Text(role.as_str())])
                .execute(conn)?;
            // No token may carry the old role.
            sessions::end_all_for(conn, user_id, EndReason::Revoked)?;
        }
        AccountChange::Disabled(disabled) => {
            Prepared::<SetDisabled>::new(vec![Bind::Uuid(user_id), Bind::Bool(disabled)])
                .execute(conn)?;
            if disabled {
                email::end_all_tokens(conn, user_id)?;
                sessions::end_all_for(conn, user_id, EndReason::Revoked)?;
            }
        }
    }
    audit::insert(conn, event, Some(user_id))?;
    let user = find(conn, user_id)?.ok_or(diesel::result::Error::NotFound)?;
    Ok(AdminChange::Changed(user))
}
