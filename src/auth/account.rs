//! The signed-in account's own changes that need its password: a new
//! password, and deleting the account.
//!
//! Each checks the current password the way `login` does (API.md, Rules
//! v2): the attempt counts toward `RATE_LIMIT_LOGIN` of the account's
//! email, so a stolen access token cannot be used to guess the password
//! faster than a login could, and a wrong one is `INVALID_CREDENTIALS`.

use super::audit::{self, LoginFailure, Origin};
use super::flows::store_failure;
use super::{AuthService, Password, Principal};
use crate::db::{DeleteAccount, EmailKey};
use crate::domain::AuditKind;
use crate::error::AppError;
use crate::mail::Kind;

impl AuthService {
    /// Sets a new password after checking the current one, and ends every
    /// other session of the account (whoever knew the old password may hold
    /// one) and every reset link; the caller's session lives on. The account
    /// gets a notice when mail is on.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: Password,
        new: Password,
        origin: &Origin,
    ) -> Result<(), AppError> {
        // The cheap check first: a refused new password costs no bcrypt run
        // and no login attempt.
        new.check_policy()
            .map_err(|message| AppError::BadUserInput {
                field: "newPassword",
                message,
            })?;
        self.check_password(principal, current, origin).await?;
        let hash = self.hasher.hash(new).await?;
        let email = principal.user.email.as_str();
        let notice = self
            .mail
            .as_deref()
            .map(|mail| mail.compose(Kind::PasswordChanged, email, email, "", None));
        let queued = notice.is_some();
        let event = audit::event(
            origin,
            AuditKind::PasswordChanged,
            Some(principal.user.id),
            Some(principal.session_id),
        );
        let ended = self
            .store
            .change_password(
                principal.user.id,
                &hash,
                principal.session_id,
                notice,
                &event,
            )
            .await
            .map_err(store_failure)?
            // Deleted meanwhile: its token died with it.
            .ok_or(AppError::Unauthenticated)?;
        if let (true, Some(mail)) = (queued, self.mail.as_deref()) {
            mail.wake();
        }
        audit::password_changed(origin, principal.user.id, principal.session_id, ended);
        Ok(())
    }

    /// Deletes the signed-in account after checking its password: its
    /// sessions and tokens go with it. The last `ADMIN` cannot delete itself
    /// (`FORBIDDEN`): nobody would be left to administer the others.
    pub async fn delete_account(
        &self,
        principal: &Principal,
        password: Password,
        origin: &Origin,
    ) -> Result<(), AppError> {
        self.check_password(principal, password, origin).await?;
        let event = audit::event(
            origin,
            AuditKind::AccountDeleted,
            Some(principal.user.id),
            Some(principal.session_id),
        );
        match self
            .store
            .delete_account(principal.user.id, &event)
            .await
            .map_err(store_failure)?
        {
            DeleteAccount::Deleted => {
                audit::account_deleted(origin, principal.user.id, principal.session_id);
                Ok(())
            }
            DeleteAccount::LastAdmin => Err(AppError::Forbidden),
            DeleteAccount::Missing => Err(AppError::Unauthenticated),
        }
    }

    /// Checks the signed-in account's password as a login of its email
    /// would be checked: counted, limited, and with the same bcrypt work.
    pub(super) async fn check_password(
        &self,
        principal: &Principal,
        password: Password,
        origin: &Origin,
    ) -> Result<(), AppError> {
        let email = principal.user.email.as_str();
        let key = self.login_limit.map(|_| EmailKey::of(email));
        let lookup = self
            .store
            .begin_login(Some(email), self.attempt_counter(key.as_ref())?)
            .await
            .map_err(store_failure)?;
        self.enforce_login_limit(lookup.attempts, origin, Some(principal.user.id))
            .await?;
        // The stored hash of this account (not another that took the
        // address meanwhile); without one, the dummy hash does the same work.
        let hash = lookup
            .credentials
            .filter(|found| found.user.id == principal.user.id)
            .map(|found| found.password_hash);
        if self.hasher.verify(password, hash).await? {
            return Ok(());
        }
        let id = Some(principal.user.id);
        Err(self
            .refuse_login(
                origin,
                LoginFailure::WrongPassword,
                id,
                AppError::InvalidCredentials,
            )
            .await)
    }
}
