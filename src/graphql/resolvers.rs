//! The v1 root fields: `me`, and signing in and out. Each one is a call
//! into [`AuthService`] and a translation.

use async_graphql::{Context, Object, Result};

use super::context::{Authenticated, auth_service as auth, principal, request_context};
use super::cookie::{clear_refresh_cookie, deliver_refresh_token, presented_refresh_token};
use super::types::{AuthPayload, LoginInput, RegisterInput};
use super::user::UserObject;
use crate::auth::{Origin, Password, SignedIn};
use crate::error::AppError;

/// Where the request came from, for rate limits, sessions and audit events.
pub(super) fn origin<'a>(ctx: &Context<'a>) -> Result<&'a Origin, AppError> {
    Ok(request_context(ctx)?.origin())
}

/// Hands the refresh token over as the configured mode says.
pub(super) fn payload(ctx: &Context<'_>, signed_in: SignedIn) -> AuthPayload {
    let in_body =
        deliver_refresh_token(ctx, &signed_in.refresh_token, signed_in.refresh_expires_in);
    AuthPayload::new(signed_in, in_body)
}

/// The signed-in account's own read-only fields.
#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The account the access token belongs to. Needs a valid access token.
    #[graphql(guard = "Authenticated")]
    async fn me(&self, ctx: &Context<'_>) -> Result<UserObject> {
        let principal = principal(ctx).await?;
        Ok(UserObject::seen_by_itself(
            principal.user.clone(),
            principal.session_id,
        ))
    }
}

/// The fields that sign in and out (API v1).
#[derive(Default)]
pub struct SignInMutation;

#[Object]
impl SignInMutation {
    /// Creates an account with role USER and signs it in.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> Result<AuthPayload> {
        let signed_in = auth(ctx)?
            .register(&input.email, Password::new(input.password), origin(ctx)?)
            .await?;
        Ok(payload(ctx, signed_in))
    }

    /// Signs in with email and password.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<AuthPayload> {
        let signed_in = auth(ctx)?
            .login(&input.email, Password::new(input.password), origin(ctx)?)
            .await?;
        Ok(payload(ctx, signed_in))
    }

    /// Trades a refresh token for a new pair. The old refresh token stops working. Without the argument, the refresh-token cookie is used.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: Option<String>,
    ) -> Result<AuthPayload> {
        let (token, from_cookie) = presented_refresh_token(ctx, refresh_token)?;
        match auth(ctx)?.refresh(&token, origin(ctx)?).await {
            Ok(signed_in) => Ok(payload(ctx, signed_in)),
            Err(error) => {
                // A dead cookie is of no further use to the browser.
                if from_cookie && error == AppError::InvalidRefreshToken {
                    clear_refresh_cookie(ctx);
                }
                Err(error.into())
            }
        }
    }

    /// Ends the session the refresh token belongs to. True when a session was ended. Without the argument, the refresh-token cookie is used.
    async fn logout(&self, ctx: &Context<'_>, refresh_token: Option<String>) -> Result<bool> {
        let (token, _) = presented_refresh_token(ctx, refresh_token)?;
        let result = auth(ctx)?.logout(&token, origin(ctx)?).await;

        // logout clears the cookie whatever the token's fate, unless the
        // server failed: then the session may still be live, and the cookie
        // is the only way left to end it.
        if !matches!(result, Err(AppError::Internal(_))) {
            clear_refresh_cookie(ctx);
        }
        Ok(result?)
    }

    /// Ends every session of the signed-in account; returns how many. Needs a valid access token.
    #[graphql(guard = "Authenticated")]
    async fn logout_all(&self, ctx: &Context<'_>) -> Result<i32> {
        let ended = auth(ctx)?
            .logout_all(principal(ctx).await?, origin(ctx)?)
            .await?;
        request_context(ctx)?.mark_signed_out();
        clear_refresh_cookie(ctx);

        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }
}
