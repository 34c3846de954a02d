//! Forgotten passwords: `requestPasswordReset` emails a single-use link,
//! `resetPassword` spends it.
//!
//! The request answers the same for every well-formed address, known or
//! not, with the same work: one token is made and one email written either
//! way, and one store call counts the request and, only for an account,
//! stores the token and queues the email. No mail server is in the path, so
//! neither its speed nor its outages show in the answer.

use chrono::Utc;
use uuid::Uuid;

use super::audit::{self, Origin};
use super::flows::{new_session, store_failure};
use super::limits::limited_until;
use super::{AuthService, Password, SignedIn, email, link_token};
use crate::db::{
    EmailCounter, EmailKey, EmailRequested, NewEmailToken, PasswordReset, ResetRequest,
    TokenPurpose,
};
use crate::error::AppError;
use crate::mail::{Kind, Mail};

impl AuthService {
    /// Queues a reset link for `raw_email` if it has an account. Always
    /// `Ok` for a well-formed address (unless rate limited, alike for every
    /// address).
    pub async fn request_password_reset(
        &self,
        raw_email: &str,
        origin: &Origin,
    ) -> Result<(), AppError> {
        let (mail, email) = self.mail_request(raw_email, origin)?;
        let (token, hash) = link_token::generate()?;
        let ttl = self.email_links.reset_ttl;
        let link = mail.reset_link(&token);
        let email_out = mail.compose(Kind::PasswordReset, &email, &email, "", Some((&link, ttl)));
        let request = ResetRequest {
            counter: self.email_counter(&email)?,
            token: NewEmailToken {
                hash,
                expires_at: Utc::now() + chrono_duration(ttl)?,
            },
            email,
            email_out,
        };
        match self
            .store
            .request_password_reset(request)
            .await
            .map_err(store_failure)?
        {
            EmailRequested::Limited(attempts) => {
                Err(limited_until(attempts.window_ends_at, origin, "email"))
            }
            EmailRequested::Queued => {
                mail.wake();
                audit::password_reset_requested(origin);
                Ok(())
            }
            EmailRequested::NotQueued => Ok(()),
        }
    }

    /// Sets a new password with the token of a reset email: every session
    /// and reset token of the account ends, its address counts as verified
    /// (the link proved it), and a new session starts.
    pub async fn reset_password(
        &self,
        presented: &str,
        new: Password,
        origin: &Origin,
    ) -> Result<SignedIn, AppError> {
        self.check_ip(origin)?;
        let token = link_token::parse(presented).ok_or(AppError::InvalidToken)?;
        // The new password is checked before the token is spent: a refused
        // one leaves the link usable.
        new.check_policy()
            .map_err(|message| AppError::BadUserInput {
                field: "newPassword",
                message,
            })?;
        // Checked before bcrypt runs, so a stream of made-up tokens costs a
        // lookup each, not a hash.
        let (user_id, address) = self
            .store
            .email_token_account(&token, TokenPurpose::PasswordReset)
            .await
            .map_err(store_failure)?
            .ok_or(AppError::InvalidToken)?;
        let password_hash = self.hasher.hash(new).await?;
        let session_id = Uuid::new_v4();
        let refresh = self.tokens.issue_refresh(user_id, session_id)?;
        let notice = self
            .mail
            .as_deref()
            .map(|mail| mail.compose(Kind::PasswordResetDone, &address, &address, "", None));
        let reset = PasswordReset {
            token,
            password_hash,
            session: new_session(session_id, &refresh, origin),
            notice,
        };
        // Spent here, atomically: of two concurrent uses, one gets the account.
        let user = self
            .store
            .reset_password(reset)
            .await
            .map_err(store_failure)?
            .ok_or(AppError::InvalidToken)?;
        if let Some(mail) = self.mail.as_deref() {
            mail.wake();
        }
        audit::password_reset(origin, user.id, session_id);
        self.signed_in(user, session_id, refresh)
    }

    /// The first steps of a public request for an email: the IP limit, mail
    /// being on, and the address's format (the only thing it may refuse).
    pub(super) fn mail_request(
        &self,
        raw_email: &str,
        origin: &Origin,
    ) -> Result<(&Mail, String), AppError> {
        self.check_ip(origin)?;
        let mail = self.mail.as_deref().ok_or(AppError::FeatureDisabled)?;
        let address = email::normalize(raw_email).map_err(|message| AppError::BadUserInput {
            field: "email",
            message,
        })?;
        Ok((mail, address))
    }

    /// Where a request for an email to `email` is counted.
    pub(super) fn email_counter(&self, email: &str) -> Result<EmailCounter, AppError> {
        let (max, window) = match self.email_links.limit {
            Some(limit) => (limit.max, limit.window),
            None => (u32::MAX, std::time::Duration::from_secs(60)),
        };
        Ok(EmailCounter {
            key: EmailKey::of(email),
            new_window_ends_at: Utc::now() + chrono_duration(window)?,
            max,
        })
    }
}

pub(super) fn chrono_duration(d: std::time::Duration) -> Result<chrono::Duration, AppError> {
    chrono::Duration::from_std(d).map_err(|_| AppError::internal("a lifetime is out of range"))
}
