//! The signed-in account's own fields (API v2): its sessions, its password
//! and its deletion. Each needs a valid access token.

use async_graphql::{Context, ID, Object, Result};
use uuid::Uuid;

use super::context::{Authenticated, auth_service as auth, principal, request_context};
use super::cookie::clear_refresh_cookie;
use super::resolvers::origin;
use super::types::{ChangePasswordInput, EmailChangeInput};
use crate::auth::Password;

/// The caller's session just ended: later fields of the request are refused
/// too, and a refresh cookie of it is of no further use.
fn signed_out(ctx: &Context<'_>) -> Result<()> {
    request_context(ctx)?.mark_signed_out();
    clear_refresh_cookie(ctx);
    Ok(())
}

/// Mutations of the signed-in account.
#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Ends one of the account's sessions. True when a live session was ended; false when it had already ended or is not the account's.
    #[graphql(guard = "Authenticated")]
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = principal(ctx).await?;
        // An id that is not a UUID names no session: false, like any id
        // that is not the account's.
        let Ok(session_id) = Uuid::parse_str(id.as_str()) else {
            return Ok(false);
        };
        let ended = auth(ctx)?
            .revoke_session(principal, session_id, origin(ctx)?)
            .await?;
        if ended && session_id == principal.session_id {
            signed_out(ctx)?;
        }
        Ok(ended)
    }

    /// Ends every session of the account but the caller's; returns how many.
    #[graphql(guard = "Authenticated")]
    async fn logout_others(&self, ctx: &Context<'_>) -> Result<i32> {
        let ended = auth(ctx)?
            .logout_others(principal(ctx).await?, origin(ctx)?)
            .await?;
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }

    /// Changes the password after checking the current one; ends every other session (the caller's lives on).
    #[graphql(guard = "Authenticated")]
    async fn change_password(&self, ctx: &Context<'_>, input: ChangePasswordInput) -> Result<bool> {
        auth(ctx)?
            .change_password(
                principal(ctx).await?,
                Password::new(input.current_password),
                Password::new(input.new_password),
                origin(ctx)?,
            )
            .await?;
        Ok(true)
    }

    /// Starts changing the address: emails a confirmation link to the new address and a notice to the old one; the address changes when the link is used.
    #[graphql(guard = "Authenticated")]
    async fn request_email_change(
        &self,
        ctx: &Context<'_>,
        input: EmailChangeInput,
    ) -> Result<bool> {
        auth(ctx)?
            .request_email_change(
                principal(ctx).await?,
                &input.new_email,
                Password::new(input.password),
                origin(ctx)?,
            )
            .await?;
        Ok(true)
    }

    /// Deletes the account, its sessions and its MFA after checking the password.
    #[graphql(guard = "Authenticated")]
    async fn delete_account(&self, ctx: &Context<'_>, password: String) -> Result<bool> {
        auth(ctx)?
            .delete_account(principal(ctx).await?, Password::new(password), origin(ctx)?)
            .await?;
        signed_out(ctx)?;
        Ok(true)
    }
}
