//! Administration on PostgreSQL: finding and listing accounts, and the
//! changes of role and status an ADMIN makes, each with its audit event in
//! one transaction.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::UserRow;
use super::schema::users;
use super::{audit, email, sessions};
use crate::db::{AccountChange, AdminChange, AuditEvent, StoreError, User, UserPage, UserQuery};
use crate::domain::{EndReason, Role};

/// A `LIKE` pattern matching `text` as a literal substring: `\\`, `%` and
/// `_` in it are escaped, so a search for `a_b%` finds only that text.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The account with this id.
pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<User>, StoreError> {
    let row: Option<UserRow> = users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?;
    row.map(User::try_from).transpose()
}

/// The account with this normalized email.
pub async fn find_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> Result<Option<User>, StoreError> {
    let row: Option<UserRow> = users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?;
    row.map(User::try_from).transpose()
}

/// See [`crate::db::Store::list_users`]. The search is a `LIKE` with every
/// wildcard of the search text escaped (a literal substring), which the
/// trigram index serves; the page is keyset-paginated on the
/// `(created_at, id)` index.
pub async fn list(conn: &mut AsyncPgConnection, query: &UserQuery) -> Result<UserPage, StoreError> {
    let pattern = query.search.as_deref().map(like_pattern);
    let mut page = users::table
        .select(UserRow::as_select())
        .order((users::created_at.desc(), users::id.desc()))
        .limit(i64::from(query.limit))
        .into_boxed();
    let mut count = users::table.count().into_boxed();
    if let Some(pattern) = &pattern {
        page = page.filter(users::email.like(pattern.clone()).escape('\\'));
        count = count.filter(users::email.like(pattern.clone()).escape('\\'));
    }
    if let Some((at, id)) = query.after {
        page = page.filter(
            users::created_at
                .lt(at)
                .or(users::created_at.eq(at).and(users::id.lt(id))),
        );
    }
    let rows: Vec<UserRow> = page.load(conn).await?;
    let total: i64 = count.get_result(conn).await?;
    Ok(UserPage {
        users: rows
            .into_iter()
            .map(User::try_from)
            .collect::<Result<_, _>>()?,
        total: u64::try_from(total).unwrap_or(0),
    })
}

/// Locks every ADMIN row and returns the enabled ones: of two changes that
/// would each remove one of the last two admins, the second waits here and
/// then sees the first one's result.
pub(super) async fn lock_enabled_admins(
    conn: &mut AsyncPgConnection,
) -> Result<Vec<Uuid>, StoreError> {
    let admins: Vec<(Uuid, bool)> = users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .order(users::id)
        .select((users::id, users::disabled))
        .for_update()
        .load(conn)
        .await?;
    Ok(admins
        .into_iter()
        .filter(|(_, disabled)| !disabled)
        .map(|(id, _)| id)
        .collect())
}

/// True when `user` is the only enabled ADMIN left.
pub(super) fn is_last_admin(user: &User, enabled_admins: &[Uuid]) -> bool {
    user.role == Role::Admin && !user.disabled && enabled_admins.iter().all(|id| *id == user.id)
}

/// See [`crate::db::Store::set_user`].
pub async fn set(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    change: AccountChange,
    event: &AuditEvent,
) -> Result<AdminChange, StoreError> {
    conn.transaction(async |conn| {
        let admins = lock_enabled_admins(conn).await?;
        let Some(user) = find(conn, user_id).await? else {
            return Ok(AdminChange::Missing);
        };
        let removes_admin = match change {
            AccountChange::Role(role) => role != Role::Admin,
            AccountChange::Disabled(disabled) => disabled,
        };
        let unchanged = match change {
            AccountChange::Role(role) => user.role == role,
            AccountChange::Disabled(disabled) => user.disabled == disabled,
        };
        if unchanged {
            return Ok(AdminChange::Unchanged(user));
        }
        if removes_admin && is_last_admin(&user, &admins) {
            return Ok(AdminChange::LastAdmin);
        }
        let target = users::table.find(user_id);
        match change {
            AccountChange::Role(role) => {
                diesel::update(target)
                    .set(users::role.eq(role.as_str()))
                    .execute(conn)
                    .await?;
                // No token may carry the old role.
                sessions::end_all(conn, user_id, EndReason::Revoked).await?;
            }
            AccountChange::Disabled(disabled) => {
                diesel::update(target)
                    .set(users::disabled.eq(disabled))
                    .execute(conn)
                    .await?;
                if disabled {
                    email::end_all_tokens(conn, user_id).await?;
                    sessions::end_all(conn, user_id, EndReason::Revoked).await?;
                }
            }
        }
        audit::insert(conn, &[event], Some(user_id)).await?;
        let user = find(conn, user_id)
            .await?
            .ok_or_else(|| StoreError::new("database: account vanished mid-transaction"))?;
        Ok(AdminChange::Changed(user))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn wildcards_are_literal() {
        assert_eq!(like_pattern("a_b%c\\d"), "%a\\_b\\%c\\\\d%");
        assert_eq!(like_pattern(""), "%%");
    }
}
