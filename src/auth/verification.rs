//! Proving an address: `requestEmailVerification` and `verifyEmail`, and
//! moving to a new one, `requestEmailChange`, confirmed at the new address
//! with `verifyEmail`.
//!
//! As with resets, a request answers alike for every well-formed address
//! and no mail server is on its path. `verifyEmail` never signs in: a link
//! forwarded or scanned proves the mailbox, not the person.

use std::sync::Arc;

use chrono::Utc;

use super::audit::{self, Origin};
use super::flows::store_failure;
use super::reset::{chrono_duration, link_request};
use super::{AuthService, Password, Principal, email, link_token};
use crate::db::{EmailChangeRequested, LinkRequest, NewEmailToken, NewVerification, Verified};
use crate::domain::{AuditKind, User};
use crate::error::AppError;
use crate::mail::Kind;

impl AuthService {
    /// A verification link for `address` and the email carrying it, or
    /// `None` when mail is off.
    pub(super) fn verification_link(
        &self,
        address: &str,
    ) -> Result<Option<NewVerification>, AppError> {
        let Some(mail) = self.mail.as_deref() else {
            return Ok(None);
        };
        let link = link_request(mail, address, self.email_links.verify_ttl, |token| {
            (Kind::VerifyEmail, mail.verify_link(token))
        })?;
        Ok(Some(NewVerification {
            token: link.token,
            email: link.email_out,
        }))
    }

    /// Queues a verification link for `raw_email` if it has an account
    /// whose address is not verified yet. `Ok` for every well-formed
    /// address (unless rate limited, alike for every address); as with
    /// resets, what depends on the account runs after the answer.
    pub async fn request_email_verification(
        &self,
        raw_email: &str,
        origin: &Origin,
    ) -> Result<(), AppError> {
        let (mail, address) = self.counted_mail_request(raw_email, origin).await?;
        let ttl = self.email_links.verify_ttl;
        let store = Arc::clone(&self.store);
        let event = audit::event(origin, AuditKind::EmailVerificationRequested, None, None);
        self.after_answer(async move {
            let request = link_request(&mail, &address, ttl, |token| {
                (Kind::VerifyEmail, mail.verify_link(token))
            })?;
            if store
                .request_email_verification(request, &event)
                .await
                .map_err(store_failure)?
            {
                mail.wake();
            }
            Ok(())
        });
        Ok(())
    }

    /// Confirms an address with the token of a verification or
    /// email-change email. Sessions live on; nothing signs in.
    pub async fn verify_email(&self, presented: &str, origin: &Origin) -> Result<User, AppError> {
        self.check_ip(origin).await?;
        let token = link_token::parse(presented).ok_or(AppError::InvalidToken)?;
        let event = audit::event(origin, AuditKind::EmailVerified, None, None);
        match self
            .store
            .verify_email(&token, &event)
            .await
            .map_err(store_failure)?
        {
            Verified::Account(user) => {
                audit::email_verified(origin, user.id);
                Ok(user)
            }
            Verified::Taken => Err(AppError::EmailTaken),
            Verified::Invalid => Err(AppError::InvalidToken),
        }
    }

    /// Starts moving the signed-in account to `raw_new_email`: after the
    /// password check, a confirmation link goes to the new address and a
    /// notice to the current one. The address changes only when the link
    /// is used.
    pub async fn request_email_change(
        &self,
        principal: &Principal,
        raw_new_email: &str,
        password: Password,
        origin: &Origin,
    ) -> Result<(), AppError> {
        let mail = self.mail.as_deref().ok_or(AppError::FeatureDisabled)?;
        let new_email =
            email::normalize(raw_new_email).map_err(|message| AppError::BadUserInput {
                field: "newEmail",
                message,
            })?;
        let current = principal.user.email.as_str();
        if new_email == current {
            return Err(AppError::BadUserInput {
                field: "newEmail",
                message: "the new address is the current one",
            });
        }
        self.check_password(principal, password, origin).await?;
        let (token, hash) = link_token::generate()?;
        let ttl = self.email_links.verify_ttl;
        let link = mail.verify_link(&token);
        let confirmation = mail.compose(
            Kind::EmailChange,
            &new_email,
            current,
            &new_email,
            Some((&link, ttl)),
        );
        let notice = mail.compose(Kind::EmailChangeNotice, current, current, &new_email, None);
        let counter = self.email_counter(&new_email)?;
        let request = LinkRequest {
            email: new_email,
            token: NewEmailToken {
                hash,
                expires_at: Utc::now() + chrono_duration(ttl)?,
            },
            email_out: confirmation,
        };
        let max = counter.max;
        let event = audit::event(
            origin,
            AuditKind::EmailChangeRequested,
            Some(principal.user.id),
            Some(principal.session_id),
        );
        match self
            .store
            .request_email_change(principal.user.id, counter, request, notice, &event)
            .await
            .map_err(store_failure)?
        {
            EmailChangeRequested::Limited(attempts) => {
                let id = Some(principal.user.id);
                Err(self.limited(origin, attempts, max, "email", id).await)
            }
            EmailChangeRequested::Taken => Err(AppError::EmailTaken),
            EmailChangeRequested::Queued => {
                mail.wake();
                audit::email_change_requested(origin, principal.user.id, principal.session_id);
                Ok(())
            }
        }
    }
}
