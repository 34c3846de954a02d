//! The public fields behind emailed links (API v2): asking for a link, and
//! using one. None needs an access token.

use async_graphql::{Context, Object, Result};

use super::context::auth_service as auth;
use super::resolvers::{origin, payload};
use super::types::{AuthPayload, ResetPasswordInput};
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
}
