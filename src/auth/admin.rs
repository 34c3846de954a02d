//! Administration: the flows behind the ADMIN fields and the operator's
//! command line (one implementation, two front ends), and reading the audit
//! log.
//!
//! Who may call them is the caller's check (the GraphQL guard reads the
//! role stored on the account, never the token's claim; the command line
//! is the operator). Each change is one store call that records its event
//! in the same transaction, and refuses to leave no enabled ADMIN.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit::{self, Origin};
use super::flows::store_failure;
use super::{AuthService, Password, email};
use crate::db::{
    AccountChange, AdminChange, AuditQuery, CreateUserError, DeleteAccount, NewUser, UserQuery,
};
use crate::domain::{AuditEvent, AuditKind, EndReason, Role, User};
use crate::error::AppError;

/// The most items one page may hold (`first` of `users` and `auditEvents`).
pub const MAX_PAGE: i32 = 100;

/// One page of a list, newest first.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items, each with its cursor.
    pub items: Vec<(String, T)>,
    /// True when a later page has items.
    pub has_next: bool,
    /// Every match, on any page (`users` only).
    pub total: Option<u64>,
}

/// Who administers: an ADMIN's account (GraphQL) or the operator at the
/// command line (`None`: events record no actor and no IP).
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The ADMIN's account id, when it is one.
    pub id: Option<Uuid>,
    /// Where the request came from.
    pub origin: &'a Origin,
}

/// A cursor: the position `(time, id)` of an item in a newest-first list,
/// as 48 hex digits. Opaque to clients; a malformed one is refused, and a
/// well-formed one can only name a position, so tampering gains nothing.
pub mod cursor {
    use super::*;

    /// The cursor of an item at `(at, id)`.
    pub fn encode(at: DateTime<Utc>, id: Uuid) -> String {
        let micros = at.timestamp_micros().to_be_bytes();
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&micros);
        bytes[8..].copy_from_slice(id.as_bytes());
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The position a cursor names; `None` when it is not one of ours.
    pub fn decode(text: &str) -> Option<Position> {
        if text.len() != 48 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let bytes: Vec<u8> = (0..24)
            .map(|i| u8::from_str_radix(&text[i * 2..i * 2 + 2], 16))
            .collect::<Result<_, _>>()
            .ok()?;
        let micros = i64::from_be_bytes(bytes[..8].try_into().ok()?);
        let at = DateTime::from_timestamp_micros(micros)?;
        Some((at, Uuid::from_slice(&bytes[8..]).ok()?))
    }
}

/// A position in a newest-first list: `(time, id)`.
type Position = (DateTime<Utc>, Uuid);

/// `first` within 1 to [`MAX_PAGE`], and `after` decoded; each refusal
/// names its argument.
fn page_args(first: i32, after: Option<&str>) -> Result<(u32, Option<Position>), AppError> {
    let limit = u32::try_from(first)
        .ok()
        .filter(|n| (1..=MAX_PAGE as u32).contains(n))
        .ok_or(AppError::BadUserInput {
            field: "first",
            message: "must be between 1 and 100",
        })?;
    let after = after
        .map(|text| {
            cursor::decode(text).ok_or(AppError::BadUserInput {
                field: "after",
                message: "not a cursor of this list",
            })
        })
        .transpose()?;
    Ok((limit, after))
}

/// The page of the first `limit` of `items` (the store was asked for one
/// more, to know whether a next page exists).
fn paged<T>(mut items: Vec<T>, limit: u32, position: impl Fn(&T) -> String) -> Page<T> {
    let has_next = items.len() > limit as usize;
    items.truncate(limit as usize);
    Page {
        items: items
            .into_iter()
            .map(|item| (position(&item), item))
            .collect(),
        has_next,
        total: None,
    }
}

impl AuthService {
    /// Accounts, newest first; `search` matches part of the email, any case,
    /// literally (no character of it is a wildcard).
    pub async fn list_users(
        &self,
        first: i32,
        after: Option<&str>,
        search: Option<&str>,
    ) -> Result<Page<User>, AppError> {
        let (limit, after) = page_args(first, after)?;
        // No stored email holds a NUL byte (PostgreSQL text cannot), so it
        // matches nothing: answered here, without a query that would fail.
        if search.is_some_and(|text| text.contains('\0')) {
            return Ok(Page {
                items: Vec::new(),
                has_next: false,
                total: Some(0),
            });
        }
        let query = UserQuery {
            search: search.map(str::to_lowercase).filter(|s| !s.is_empty()),
            after,
            limit: limit + 1,
        };
        let found = self.store.list_users(&query).await.map_err(store_failure)?;
        let mut page = paged(found.users, limit, |u| cursor::encode(u.created_at, u.id));
        page.total = Some(found.total);
        Ok(page)
    }

    /// The account with this id.
    pub async fn find_user(&self, user_id: Uuid) -> Result<Option<User>, AppError> {
        self.store.find_user(user_id).await.map_err(store_failure)
    }

    /// The account with this (normalized) email, for the command line.
    pub async fn find_user_by_email(&self, raw_email: &str) -> Result<Option<User>, AppError> {
        let Ok(email) = email::normalize(raw_email) else {
            return Ok(None);
        };
        self.store
            .find_user_by_email(&email)
            .await
            .map_err(store_failure)
    }

    /// Audit events, newest first, of one account or all, of some kinds or
    /// all.
    pub async fn audit_events(
        &self,
        first: i32,
        after: Option<&str>,
        user_id: Option<Uuid>,
        kinds: Vec<AuditKind>,
    ) -> Result<Page<AuditEvent>, AppError> {
        let (limit, after) = page_args(first, after)?;
        let query = AuditQuery {
            user_id,
            kinds,
            after,
            limit: limit + 1,
        };
        let events = self.store.list_audit(&query).await.map_err(store_failure)?;
        Ok(paged(events, limit, |e| cursor::encode(e.at, e.id)))
    }

    /// Creates an account from the command line: verified, with `role`.
    pub async fn create_account(
        &self,
        raw_email: &str,
        password: Password,
        role: Role,
    ) -> Result<User, AppError> {
        let (email, password_hash) = self.new_credentials(raw_email, password).await?;
        let user_id = Uuid::new_v4();
        let new_user = NewUser {
            id: user_id,
            email,
            password_hash,
            role,
            email_verified: true,
            verification: None,
        };
        let event = audit::event(
            &Origin::default(),
            AuditKind::Registered,
            Some(user_id),
            None,
        );
        match self.store.create_user(new_user, None, &event).await {
            Ok(user) => Ok(user),
            Err(CreateUserError::EmailTaken) => Err(AppError::EmailTaken),
            Err(CreateUserError::Store(error)) => Err(store_failure(error)),
        }
    }

    /// Changes an account's role; a different role ends its sessions, so no
    /// token carries the old one.
    pub async fn set_user_role(
        &self,
        actor: Actor<'_>,
        user_id: Uuid,
        role: Role,
    ) -> Result<User, AppError> {
        self.administer(
            actor,
            user_id,
            AccountChange::Role(role),
            AuditKind::RoleChanged,
        )
        .await
    }

    /// Disables (`true`) or enables an account. Disabling ends every session
    /// and emailed token of it.
    pub async fn set_user_disabled(
        &self,
        actor: Actor<'_>,
        user_id: Uuid,
        disabled: bool,
    ) -> Result<User, AppError> {
        let kind = if disabled {
            AuditKind::UserDisabled
        } else {
            AuditKind::UserEnabled
        };
        self.administer(actor, user_id, AccountChange::Disabled(disabled), kind)
            .await
    }

    async fn administer(
        &self,
        actor: Actor<'_>,
        user_id: Uuid,
        change: AccountChange,
        kind: AuditKind,
    ) -> Result<User, AppError> {
        let event = audit::admin(actor.origin, kind, actor.id, user_id);
        match self
            .store
            .set_user(user_id, change, &event)
            .await
            .map_err(store_failure)?
        {
            AdminChange::Changed(user) => {
                audit::administered(kind, actor.id, user_id, actor.origin);
                Ok(user)
            }
            AdminChange::Unchanged(user) => Ok(user),
            AdminChange::LastAdmin => Err(AppError::Forbidden),
            AdminChange::Missing => Err(AppError::NotFound),
        }
    }

    /// Deletes an account and everything it owns (not the last enabled
    /// ADMIN).
    pub async fn delete_user(&self, actor: Actor<'_>, user_id: Uuid) -> Result<(), AppError> {
        let event = audit::admin(actor.origin, AuditKind::UserDeleted, actor.id, user_id);
        match self
            .store
            .delete_account(user_id, &event)
            .await
            .map_err(store_failure)?
        {
            DeleteAccount::Deleted => {
                audit::administered(AuditKind::UserDeleted, actor.id, user_id, actor.origin);
                Ok(())
            }
            DeleteAccount::LastAdmin => Err(AppError::Forbidden),
            DeleteAccount::Missing => Err(AppError::NotFound),
        }
    }

    /// Ends every session of an account; returns how many.
    pub async fn revoke_user_sessions(
        &self,
        actor: Actor<'_>,
        user_id: Uuid,
    ) -> Result<u64, AppError> {
        if self.find_user(user_id).await?.is_none() {
            return Err(AppError::NotFound);
        }
        let kind = AuditKind::UserSessionsRevoked;
        let event = audit::admin(actor.origin, kind, actor.id, user_id);
        let ended = self
            .store
            .end_all_sessions(user_id, EndReason::Revoked, &event)
            .await
            .map_err(store_failure)?;
        audit::administered(kind, actor.id, user_id, actor.origin);
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let at = DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap();
        let id = Uuid::new_v4();
        let text = cursor::encode(at, id);
        assert_eq!(text.len(), 48);
        assert_eq!(cursor::decode(&text), Some((at, id)));
        for bad in [
            "",
            "zz",
            &text[..47],
            &format!("{text}0"),
            &"g".repeat(48),
            "é",
        ] {
            assert_eq!(cursor::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn page_bounds_name_their_argument() {
        for first in [0, -1, 101, i32::MIN, i32::MAX] {
            let error = page_args(first, None).unwrap_err();
            assert!(matches!(
                error,
                AppError::BadUserInput { field: "first", .. }
            ));
        }
        assert!(page_args(1, None).is_ok() && page_args(100, None).is_ok());
        let error = page_args(10, Some("%' OR 1=1 --")).unwrap_err();
        assert!(matches!(
            error,
            AppError::BadUserInput { field: "after", .. }
        ));
    }
}
