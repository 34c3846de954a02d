//! Forgotten passwords: `requestPasswordReset` emails a single-use link,
//! `resetPassword` spends it.
//!
//! The request answers the same for every well-formed address, known or
//! not, in the same time: before answering it does only what is the same
//! for every address (the IP limit, the address's format, and counting the
//! request against `RATE_LIMIT_EMAIL` in the database). Whatever depends on
//! whether the address has an account (making the token, storing it with
//! its email in one transaction) runs after the answer, in a bounded
//! background job, so neither its work nor a mail server shows in the
//! response. No state is half-made: the token and its email commit
//! together, or (after a crash) not at all and the person asks again.

use std::sync::Arc;

use chrono::Utc;
use uuid::Uuid;

use super::audit::{self, Origin};
use super::flows::{new_session, store_failure};
use super::{AuthService, Password, SignedIn, email, link_token};
use crate::db::{EmailCounter, EmailKey, LinkRequest, NewEmailToken, PasswordReset, TokenPurpose};
use crate::domain::AuditKind;
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
        let (mail, email) = self.counted_mail_request(raw_email, origin).await?;
        let ttl = self.email_links.reset_ttl;
        let store = Arc::clone(&self.store);
        let origin = origin.clone();
        self.after_answer(async move {
            let request = link_request(&mail, &email, ttl, |token| {
                (Kind::PasswordReset, mail.reset_link(token))
            })?;
            let event = audit::event(&origin, AuditKind::PasswordResetRequested, None, None);
            if store
                .request_password_reset(request, &event)
                .await
                .map_err(store_failure)?
            {
                mail.wake();
                audit::password_reset_requested(&origin);
            }
            Ok(())
        });
        Ok(())
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
        self.check_ip(origin).await?;
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
        let event = audit::event(
            origin,
            AuditKind::PasswordReset,
            Some(user_id),
            Some(session_id),
        );
        let user = self
            .store
            .reset_password(reset, &event)
            .await
            .map_err(store_failure)?
            .ok_or(AppError::InvalidToken)?;
        if let Some(mail) = self.mail.as_deref() {
            mail.wake();
        }
        audit::password_reset(origin, user.id, session_id);
        self.signed_in(user, session_id, refresh)
    }

    /// The steps of a public request for an email that are the same for
    /// every address: the IP limit, mail being on, the address's format (the
    /// only thing it may refuse), and counting it against
    /// `RATE_LIMIT_EMAIL`.
    pub(super) async fn counted_mail_request(
        &self,
        raw_email: &str,
        origin: &Origin,
    ) -> Result<(Arc<Mail>, String), AppError> {
        self.check_ip(origin).await?;
        let mail = self.mail.clone().ok_or(AppError::FeatureDisabled)?;
        let address = email::normalize(raw_email).map_err(|message| AppError::BadUserInput {
            field: "email",
            message,
        })?;
        let counter = self.email_counter(&address)?;
        if let Some(attempts) = self
            .store
            .count_email_request(&counter)
            .await
            .map_err(store_failure)?
        {
            let max = counter.max;
            return Err(self.limited(origin, attempts, max, "email", None).await);
        }
        Ok((mail, address))
    }

    /// Runs `job` after the answer, at most [`LINK_JOBS`] at once; a
    /// failure is logged (the person asks again).
    pub(super) fn after_answer(
        &self,
        job: impl std::future::Future<Output = Result<(), AppError>> + Send + 'static,
    ) {
        let permits = Arc::clone(&self.link_jobs);
        tokio::spawn(async move {
            // Let the answer leave first: on a busy core the job's work
            // would otherwise run beside the response being written, and
            // only for addresses that have an account.
            tokio::time::sleep(JOB_DELAY).await;
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            if let Err(error) = job.await {
                // An internal error's text is a safe description (see
                // `crate::error`); the others are their code.
                let reason = match &error {
                    AppError::Internal(description) => description.as_str(),
                    other => other.code(),
                };
                tracing::warn!(reason, "an emailed link could not be queued");
            }
        });
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

/// Emailed-link jobs that run at once; more wait their turn.
pub(super) const LINK_JOBS: usize = 16;

/// How long a job waits after its answer before it starts.
const JOB_DELAY: std::time::Duration = std::time::Duration::from_millis(20);

/// A new link token for `address`, valid `ttl`, and the email carrying it:
/// `kind_and_link` names the template and builds the URL from the token.
pub(super) fn link_request(
    mail: &Mail,
    address: &str,
    ttl: std::time::Duration,
    kind_and_link: impl FnOnce(&str) -> (Kind, String),
) -> Result<LinkRequest, AppError> {
    let (token, hash) = link_token::generate()?;
    let (kind, link) = kind_and_link(&token);
    Ok(LinkRequest {
        email: address.to_owned(),
        token: NewEmailToken {
            hash,
            expires_at: Utc::now() + chrono_duration(ttl)?,
        },
        email_out: mail.compose(kind, address, address, "", Some((&link, ttl))),
    })
}
