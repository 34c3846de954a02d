//! The administration fields (API v2): listing and finding accounts, the
//! audit log, and the changes of role and status. Each needs role ADMIN,
//! checked against the role stored on the account on every request (see
//! [`RoleGuard`]), never the token's claim.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use uuid::Uuid;

use super::context::{RoleGuard, auth_service as auth, principal};
use super::resolvers::origin;
use super::types::{DateTime, Role};
use super::user::UserObject;
use crate::auth::admin::{Actor, Page};
use crate::domain::{self, Role as StoredRole};
use crate::error::AppError;

/// The kinds of security events (the schema's `AuditEventType`).
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AuditEventType", remote = "crate::domain::AuditKind")]
#[allow(missing_docs)]
pub enum AuditEventType {
    Registered,
    LoginSucceeded,
    LoginFailed,
    RateLimited,
    ReuseDetected,
    LoggedOut,
    LoggedOutAll,
    LoggedOutOthers,
    SessionRevoked,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    EmailVerificationRequested,
    EmailVerified,
    EmailChangeRequested,
    EmailChanged,
    AccountDeleted,
    RoleChanged,
    UserDisabled,
    UserEnabled,
    UserDeleted,
    UserSessionsRevoked,
    MfaEnabled,
    MfaDisabled,
    MfaFailed,
    RecoveryCodesRegenerated,
    RecoveryCodeUsed,
}

/// A security-relevant outcome, stored in the database in the same transaction as the change it records.
#[derive(SimpleObject)]
#[graphql(name = "AuditEvent")]
pub struct AuditEventObject {
    id: ID,
    #[graphql(name = "type")]
    kind: AuditEventType,
    at: DateTime,
    /// The account the event is about, when there is one (also after the account is deleted).
    user_id: Option<ID>,
    /// The account that acted, when it is not userId (an ADMIN).
    actor_id: Option<ID>,
    session_id: Option<ID>,
    ip: Option<String>,
    user_agent: Option<String>,
    /// A short machine-readable detail: for LOGIN_FAILED one of wrong_password, unknown_email, malformed_email, disabled, unverified; for RATE_LIMITED one of login, ip, email; null otherwise.
    reason: Option<String>,
}

fn id(uuid: Uuid) -> ID {
    ID(uuid.to_string())
}

impl From<domain::AuditEvent> for AuditEventObject {
    fn from(event: domain::AuditEvent) -> Self {
        Self {
            id: id(event.id),
            kind: event.kind.into(),
            at: DateTime(event.at),
            user_id: event.user_id.map(id),
            actor_id: event.actor_id.map(id),
            session_id: event.session_id.map(id),
            ip: event.ip,
            user_agent: event.user_agent,
            reason: event.reason.map(str::to_owned),
        }
    }
}

#[derive(SimpleObject)]
#[allow(missing_docs)]
pub struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(SimpleObject)]
#[allow(missing_docs)]
pub struct UserEdge {
    cursor: String,
    node: UserObject,
}

#[derive(SimpleObject)]
#[allow(missing_docs)]
pub struct UserConnection {
    edges: Vec<UserEdge>,
    page_info: PageInfo,
    total_count: i32,
}

#[derive(SimpleObject)]
#[allow(missing_docs)]
pub struct AuditEventEdge {
    cursor: String,
    node: AuditEventObject,
}

#[derive(SimpleObject)]
#[allow(missing_docs)]
pub struct AuditEventConnection {
    edges: Vec<AuditEventEdge>,
    page_info: PageInfo,
}

fn page_info<T>(page: &Page<T>) -> PageInfo {
    PageInfo {
        has_next_page: page.has_next,
        end_cursor: page.items.last().map(|(cursor, _)| cursor.clone()),
    }
}

/// The audit events as the schema pages them.
pub(super) fn audit_connection(page: Page<domain::AuditEvent>) -> AuditEventConnection {
    let page_info = page_info(&page);
    AuditEventConnection {
        edges: page
            .items
            .into_iter()
            .map(|(cursor, event)| AuditEventEdge {
                cursor,
                node: event.into(),
            })
            .collect(),
        page_info,
    }
}

/// An id argument as an account id; one that is not a UUID names none.
fn account_id(id: &ID) -> Result<Uuid, AppError> {
    Uuid::parse_str(id.as_str()).map_err(|_| AppError::NotFound)
}

/// The ADMIN who asks, as the flows record it.
async fn actor<'a>(ctx: &Context<'a>) -> Result<Actor<'a>, AppError> {
    Ok(Actor {
        id: Some(principal(ctx).await?.user.id),
        origin: origin(ctx)?,
    })
}

/// The administration queries.
#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Accounts, the newest first; search matches part of the email, any case. Needs role ADMIN.
    #[graphql(guard = "RoleGuard(StoredRole::Admin)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> Result<UserConnection> {
        let page = auth(ctx)?
            .list_users(first.unwrap_or(20), after.as_deref(), search.as_deref())
            .await?;
        let page_info = page_info(&page);
        let total = page.total.unwrap_or(0);
        Ok(UserConnection {
            edges: page
                .items
                .into_iter()
                .map(|(cursor, user)| UserEdge {
                    cursor,
                    node: UserObject::new(user),
                })
                .collect(),
            page_info,
            total_count: i32::try_from(total).unwrap_or(i32::MAX),
        })
    }

    /// One account, or null. Needs role ADMIN.
    #[graphql(guard = "RoleGuard(StoredRole::Admin)")]
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<UserObject>> {
        let Ok(user_id) = account_id(&id) else {
            return Ok(None);
        };
        Ok(auth(ctx)?.find_user(user_id).await?.map(UserObject::new))
    }

    /// Security events of every account, the newest first, optionally of one account and of some types. Needs role ADMIN.
    #[graphql(guard = "RoleGuard(StoredRole::Admin)")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        user_id: Option<ID>,
        types: Option<Vec<AuditEventType>>,
    ) -> Result<AuditEventConnection> {
        // An id that is not a UUID names no account, so it has no events:
        // the nil UUID is never an account's.
        let user_id = user_id.map(|id| account_id(&id).unwrap_or(Uuid::nil()));
        let kinds = types
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect();
        let page = auth(ctx)?
            .audit_events(first.unwrap_or(50), after.as_deref(), user_id, kinds)
            .await?;
        Ok(audit_connection(page))
    }
}

/// The administration mutations.
#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Changes an account's role and ends its sessions, so no token carries the old role.
    #[graphql(guard = "RoleGuard(StoredRole::Admin)")]
    async fn set_user_role(&self, ctx: &Context<'_>, id: ID, role: Role) -> Result<UserObject> {
        let user = auth(ctx)?
            .set_user_role(actor(ctx).await?, account_id(&id)?, role.into())
            .await?;
        Ok(UserObject::new(user))
    }

    /// Disables an account and ends every session of it.
    #[graphql(guard = "RoleGuard(StoredRole::Admin)")]
    async fn disable_user(&self, ctx: &Context<'_>, id: ID) -> Result<UserObject> {
        let user = auth(ctx)?
            .set_user_disabled(actor(ctx).await?, account_id(&id)?, true)
            .await?;
        Ok(UserObject::new(user))
    }

    #[graphql(guard = "RoleGuard(StoredRole::Admin)")]
    async fn enable_user(&self, ctx: &Context<'_>, id: ID) -> Result<UserObject> {
        let user = auth(ctx)?
            .set_user_disabled(actor(ctx).await?, account_id(&id)?, false)
            .await?;
        Ok(UserObject::new(user))
    }

    /// Deletes an account and everything it owns.
    #[graphql(guard = "RoleGuard(StoredRole::Admin)")]
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        auth(ctx)?
            .delete_user(actor(ctx).await?, account_id(&id)?)
            .await?;
        Ok(true)
    }

    /// Ends every session of an account; returns how many.
    #[graphql(guard = "RoleGuard(StoredRole::Admin)")]
    async fn revoke_user_sessions(&self, ctx: &Context<'_>, id: ID) -> Result<i32> {
        let ended = auth(ctx)?
            .revoke_user_sessions(actor(ctx).await?, account_id(&id)?)
            .await?;
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }
}
