//! A person's sessions: seeing them and ending them one by one or all but
//! this one. (`logout` and `logoutAll` are sign-out flows, in `flows`.)

use uuid::Uuid;

use super::audit::{self, Origin};
use super::flows::store_failure;
use super::{AuthService, Principal};
use crate::domain::{AuditKind, EndReason, Session};
use crate::error::AppError;

impl AuthService {
    /// The live sessions of the account `user_id`, the most recently active
    /// first. Who may read them is the caller's decision (the account
    /// itself, or an ADMIN).
    pub async fn sessions(&self, user_id: Uuid) -> Result<Vec<Session>, AppError> {
        self.store
            .list_sessions(user_id)
            .await
            .map_err(store_failure)
    }

    /// Ends one of the signed-in account's sessions: true when a live one
    /// was ended. An id of another account's session, or of none, ends
    /// nothing and answers false, so the field reveals nothing about ids
    /// that are not the caller's. Ending the caller's own session is a
    /// logout.
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session_id: Uuid,
        origin: &Origin,
    ) -> Result<bool, AppError> {
        let own = session_id == principal.session_id;
        let (reason, kind) = if own {
            (EndReason::Logout, AuditKind::LoggedOut)
        } else {
            (EndReason::Revoked, AuditKind::SessionRevoked)
        };
        let event = audit::event(origin, kind, Some(principal.user.id), Some(session_id));
        let ended = self
            .store
            .end_session(principal.user.id, session_id, reason, &event)
            .await
            .map_err(store_failure)?;
        if ended {
            audit::session_revoked(origin, principal.user.id, principal.session_id, session_id);
        }
        Ok(ended)
    }

    /// Ends every session of the signed-in account but the caller's;
    /// returns how many.
    pub async fn logout_others(
        &self,
        principal: &Principal,
        origin: &Origin,
    ) -> Result<u64, AppError> {
        let event = audit::event(
            origin,
            AuditKind::LoggedOutOthers,
            Some(principal.user.id),
            Some(principal.session_id),
        );
        let ended = self
            .store
            .end_other_sessions(principal.user.id, principal.session_id, &event)
            .await
            .map_err(store_failure)?;
        audit::logged_out_others(origin, principal.user.id, principal.session_id, ended);
        Ok(ended)
    }
}
