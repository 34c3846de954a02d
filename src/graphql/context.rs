//! Per-request data and the guards that read it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::{Context, Guard};
use tokio::sync::OnceCell;

use crate::auth::{AuthService, Origin, Principal};
use crate::domain::Role;
use crate::error::AppError;

/// What the HTTP layer learned about one request.
#[derive(Default)]
pub struct RequestContext {
    bearer: Option<String>,
    refresh_cookie: Option<String>,
    origin: Origin,
    /// The bearer token checked at most once per request, and only when a
    /// guarded field asks: public fields never look at it, so a stale header
    /// cannot fail `login` or `refreshToken`.
    principal: OnceCell<Result<Principal, AppError>>,
    /// Set by `logoutAll`: later fields of the same request are refused too.
    signed_out: AtomicBool,
    executed: AtomicBool,
}

impl RequestContext {
    /// Context for a request with these credentials, from `origin`.
    pub fn new(bearer: Option<String>, refresh_cookie: Option<String>, origin: Origin) -> Self {
        Self {
            bearer,
            refresh_cookie,
            origin,
            ..Self::default()
        }
    }

    /// Where the request came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The `authql_refresh` cookie, if the request carried one.
    pub fn refresh_cookie(&self) -> Option<&str> {
        self.refresh_cookie.as_deref()
    }

    /// True once execution started: the request passed parsing and validation.
    pub fn executed(&self) -> bool {
        self.executed.load(Ordering::Relaxed)
    }

    pub(super) fn mark_executed(&self) {
        self.executed.store(true, Ordering::Relaxed);
    }

    /// The session of this request's token just ended.
    pub(super) fn mark_signed_out(&self) {
        self.signed_out.store(true, Ordering::Relaxed);
    }
}

/// The authentication flows, as the schema carries them.
pub(super) fn auth_service<'a>(ctx: &Context<'a>) -> Result<&'a AuthService, AppError> {
    ctx.data::<Arc<AuthService>>()
        .map(AsRef::as_ref)
        .map_err(|_| AppError::internal("auth service missing"))
}

/// The request's context, as inserted by the HTTP layer.
pub(super) fn request_context<'a>(ctx: &Context<'a>) -> Result<&'a RequestContext, AppError> {
    ctx.data::<Arc<RequestContext>>()
        .map(AsRef::as_ref)
        .map_err(|_| AppError::internal("request context missing"))
}

/// The authenticated principal of this request, checked once and cached.
pub(super) async fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal, AppError> {
    let request = request_context(ctx)?;
    if request.signed_out.load(Ordering::Relaxed) {
        return Err(AppError::Unauthenticated);
    }
    let auth = auth_service(ctx)?;
    let result = request
        .principal
        .get_or_init(|| async {
            match &request.bearer {
                Some(token) => auth.authenticate(token).await,
                None => Err(AppError::Unauthenticated),
            }
        })
        .await;
    result.as_ref().map_err(Clone::clone)
}

/// Lets a field through only with a valid access token of a live session.
pub struct Authenticated;

impl Guard for Authenticated {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        principal(ctx).await?;
        Ok(())
    }
}

/// Lets a field through only for accounts of the given role (admins pass
/// every role check). No v1 field needs it; it is here so the first admin
/// field answers `FORBIDDEN` the way the contract says.
pub struct RoleGuard(pub Role);

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let principal = principal(ctx).await?;
        if principal.user.role == self.0 || principal.user.role == Role::Admin {
            Ok(())
        } else {
            Err(AppError::Forbidden.into())
        }
    }
}
