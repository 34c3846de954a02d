//! The `User` and `Session` objects: an account as the schema shows it, and
//! the sessions only the account itself and ADMINs may read.

use async_graphql::{ComplexObject, Context, ID, Result, SimpleObject};
use uuid::Uuid;

use super::admin::{AuditEventConnection, audit_connection};
use super::context::{auth_service, principal};
use super::types::{DateTime, Role};
use crate::domain::{self, Role as StoredRole};
use crate::error::AppError;

/// An account.
#[derive(SimpleObject)]
#[graphql(name = "User", complex)]
pub struct UserObject {
    /// UUID
    pub id: ID,
    /// Trimmed and lowercased.
    pub email: String,
    /// What the account may do.
    pub role: Role,
    /// When the account was created.
    pub created_at: DateTime,
    /// True once the account proved it reads mail at its address (verifyEmail, or a password reset).
    pub email_verified: bool,
    /// True while an ADMIN has disabled the account: it cannot sign in and has no sessions.
    pub disabled: bool,
    /// The last successful sign-in; null before the first.
    pub last_login_at: Option<DateTime>,
    #[graphql(skip)]
    user_id: Uuid,
    /// The session of the account itself that looks at this object, when it
    /// is known without a bearer token (a sign-in's payload, `me`).
    #[graphql(skip)]
    own_session: Option<Uuid>,
}

impl UserObject {
    /// The account as someone else (an ADMIN) sees it: reading its sessions
    /// goes through the guard.
    pub fn new(user: domain::User) -> Self {
        Self {
            id: ID(user.id.to_string()),
            email: user.email,
            role: user.role.into(),
            created_at: DateTime(user.created_at),
            email_verified: user.email_verified,
            disabled: user.disabled,
            last_login_at: user.last_login_at.map(DateTime),
            user_id: user.id,
            own_session: None,
        }
    }

    /// The account as it sees itself from `session_id`.
    pub fn seen_by_itself(user: domain::User, session_id: Uuid) -> Self {
        Self {
            own_session: Some(session_id),
            ..Self::new(user)
        }
    }

    /// Who asks, for `sessions`: the asking session when it is the account's
    /// own (`Some`), `None` for an ADMIN looking at another account, and
    /// `FORBIDDEN` for anyone else.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Option<Uuid>, AppError> {
        if let Some(session) = self.own_session {
            return Ok(Some(session));
        }
        let principal = principal(ctx).await?;
        if principal.user.id == self.user_id {
            Ok(Some(principal.session_id))
        } else if principal.user.role == StoredRole::Admin {
            Ok(None)
        } else {
            Err(AppError::Forbidden)
        }
    }
}

#[ComplexObject]
impl UserObject {
    /// The account's live sessions, the most recently active first. Readable by the account itself and by ADMINs.
    async fn sessions(&self, ctx: &Context<'_>) -> Result<Vec<SessionObject>> {
        let current = self.viewer(ctx).await?;
        let sessions = auth_service(ctx)?.sessions(self.user_id).await?;
        Ok(sessions
            .into_iter()
            .map(|session| SessionObject::new(session, current))
            .collect())
    }

    /// The account's security events, the newest first. Readable by the account itself and by ADMINs.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<AuditEventConnection> {
        self.viewer(ctx).await?;
        let page = auth_service(ctx)?
            .audit_events(
                first.unwrap_or(20),
                after.as_deref(),
                Some(self.user_id),
                Vec::new(),
            )
            .await?;
        Ok(audit_connection(page))
    }
}

/// One signed-in device or browser: a sign-in and the refresh tokens rotated from it.
#[derive(SimpleObject)]
#[graphql(name = "Session")]
pub struct SessionObject {
    /// The session id: the same value as the access token's session-id claim.
    pub id: ID,
    /// When the sign-in happened.
    pub created_at: DateTime,
    /// The last time one of the session's refresh tokens was used; createdAt until then.
    pub last_active_at: DateTime,
    /// When the session's newest refresh token expires.
    pub expires_at: DateTime,
    /// The User-Agent header of the request that started the session, at most 256 characters.
    pub user_agent: Option<String>,
    /// The client IP (by the same rule as the rate limits) of the request that last used the session.
    pub ip: Option<String>,
    /// True for the session of the access token that asks.
    pub current: bool,
}

impl SessionObject {
    fn new(session: domain::Session, current: Option<Uuid>) -> Self {
        Self {
            id: ID(session.id.to_string()),
            created_at: DateTime(session.created_at),
            last_active_at: DateTime(session.last_active_at),
            expires_at: DateTime(session.expires_at),
            user_agent: session.user_agent,
            ip: session.ip,
            current: current == Some(session.id),
        }
    }
}
