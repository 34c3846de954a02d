//! The public fields behind emailed links (API v2): asking for a link, and
//! using one. None needs an access token.

use async_graphql::{Context, Object, Result};

use super::context::auth_service as auth;
use super::resolvers::{origin, payload};
use super::types::{AuthPayload, ResetPasswordInput};
use super::user::UserObject;
use crate::auth::Password;

/// Mutations of emailed links.
#[derive(Default)]
pub struct EmailLinkMutation;

#[Object]
impl EmailLinkMutation {
    /// Emails a single-use password-reset link if the address has an enabled account. Always true: the answer never tells whether it has.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        auth(ctx)?
            .request_password_reset(&email, origin(ctx)?)
            .await?;
        Ok(true)
    }

    /// Sets a new password with the token of a reset email, ends every session of the account, marks its email verified and signs in.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> Result<AuthPayload> {
        let signed_in = auth(ctx)?
            .reset_password(
                &input.token,
                Password::new(input.new_password),
                origin(ctx)?,
            )
            .await?;
        Ok(payload(ctx, signed_in))
    }

    /// Emails a verification link if the address has an unverified account. Always true: the answer never tells whether it has.
    async fn request_email_verification(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        auth(ctx)?
            .request_email_verification(&email, origin(ctx)?)
            .await?;
        Ok(true)
    }

    /// Confirms an address with the token of a verification or email-change email; does not sign in.
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> Result<UserObject> {
        let user = auth(ctx)?.verify_email(&token, origin(ctx)?).await?;
        Ok(UserObject::new(user))
    }
}
