//! The flows themselves. Each failure is one contract code; internal
//! failures carry only safe descriptions (see `crate::error`).

use uuid::Uuid;

use super::{AuthService, Password, Principal, SignedIn, email};
use crate::db::{CreateUserError, EndSession, NewSession, NewUser, Rotation, TokenHash, User};
use crate::error::AppError;

fn store_failure(error: crate::db::StoreError) -> AppError {
    AppError::internal(error.describe())
}

impl AuthService {
    /// Creates an account with role `USER` and signs it in.
    pub async fn register(
        &self,
        raw_email: &str,
        password: Password,
    ) -> Result<SignedIn, AppError> {
        let email = email::normalize(raw_email).map_err(|message| AppError::BadUserInput {
            field: "email",
            message,
        })?;
        password
            .check_policy()
            .map_err(|message| AppError::BadUserInput {
                field: "password",
                message,
            })?;
        let password_hash = self.hasher.hash(password).await?;

        let user_id = Uuid::new_v4();
        let session_id = Uuid::new_v4();
        let refresh = self.tokens.issue_refresh(user_id, session_id)?;
        let new_user = NewUser {
            id: user_id,
            email,
            password_hash,
        };
        let session = NewSession {
            id: session_id,
            refresh_token: refresh.stored.clone(),
        };
        let user = match self.store.create_user(new_user, session).await {
            Ok(user) => user,
            Err(CreateUserError::EmailTaken) => return Err(AppError::EmailTaken),
            Err(CreateUserError::Store(error)) => return Err(store_failure(error)),
        };
        tracing::info!(user.id = %user.id, session.id = %session_id, "account registered");
        self.signed_in(user, session_id, refresh)
    }

    /// Signs in with email and password. Every failure, whatever its cause
    /// (malformed email, unknown account, wrong password), is the same
    /// `INVALID_CREDENTIALS` after the same bcrypt work.
    pub async fn login(&self, raw_email: &str, password: Password) -> Result<SignedIn, AppError> {
        let credentials = match email::normalize(raw_email) {
            Ok(email) => self
                .store
                .find_credentials(&email)
                .await
                .map_err(store_failure)?,
            Err(_) => None,
        };
        let (user, hash) = match credentials {
            Some(c) => (Some(c.user), Some(c.password_hash)),
            None => (None, None),
        };
        let matched = self.hasher.verify(password, hash).await?;
        let Some(user) = user.filter(|_| matched) else {
            tracing::info!("login failed");
            return Err(AppError::InvalidCredentials);
        };

        let session_id = Uuid::new_v4();
        let refresh = self.tokens.issue_refresh(user.id, session_id)?;
        let session = NewSession {
            id: session_id,
            refresh_token: refresh.stored.clone(),
        };
        self.store
            .create_session(user.id, session)
            .await
            .map_err(store_failure)?;
        tracing::info!(user.id = %user.id, session.id = %session_id, "login succeeded");
        self.signed_in(user, session_id, refresh)
    }

    /// Trades a refresh token for a new pair in the same session.
    pub async fn refresh(&self, presented: &str) -> Result<SignedIn, AppError> {
        let claims = self
            .tokens
            .verify_refresh(presented, true)
            .ok_or(AppError::InvalidRefreshToken)?;
        let next = self.tokens.issue_refresh(claims.sub, claims.sid)?;
        let rotation = self
            .store
            .rotate_refresh_token(&TokenHash::of(presented), claims.sid, &next.stored)
            .await
            .map_err(store_failure)?;
        match rotation {
            Rotation::Rotated(user) => {
                tracing::debug!(user.id = %user.id, session.id = %claims.sid, "refresh token rotated");
                self.signed_in(user, claims.sid, next)
            }
            Rotation::Reused { session_id } => {
                tracing::warn!(
                    user.id = %claims.sub,
                    session.id = %session_id,
                    "refresh token reuse detected; session ended"
                );
                Err(AppError::InvalidRefreshToken)
            }
            Rotation::Rejected => Err(AppError::InvalidRefreshToken),
        }
    }

    /// Ends the session of any refresh token this server issued, used or
    /// not, expired or not. True when a live session was ended; false when it
    /// had already ended. A token this server never issued (bad signature, or
    /// validly signed but never stored) is an error.
    pub async fn logout(&self, presented: &str) -> Result<bool, AppError> {
        let claims = self
            .tokens
            .verify_refresh(presented, false)
            .ok_or(AppError::InvalidRefreshToken)?;
        let outcome = self
            .store
            .end_session_by_token(&TokenHash::of(presented), claims.sub)
            .await
            .map_err(store_failure)?;
        match outcome {
            EndSession::Ended => {
                tracing::info!(user.id = %claims.sub, session.id = %claims.sid, "logged out");
                Ok(true)
            }
            EndSession::AlreadyEnded => Ok(false),
            EndSession::Unknown => Err(AppError::InvalidRefreshToken),
        }
    }

    /// Ends every session of the signed-in account; returns how many.
    pub async fn logout_all(&self, principal: &Principal) -> Result<u64, AppError> {
        let ended = self
            .store
            .end_all_sessions(principal.user.id)
            .await
            .map_err(store_failure)?;
        tracing::info!(user.id = %principal.user.id, sessions = ended, "logged out everywhere");
        Ok(ended)
    }

    /// Checks a bearer token: a valid access token whose session is live and
    /// whose account still exists. Anything else is `UNAUTHENTICATED`.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal, AppError> {
        let claims = self
            .tokens
            .verify_access(bearer)
            .ok_or(AppError::Unauthenticated)?;
        let user = self
            .store
            .find_session_user(claims.sub, claims.sid)
            .await
            .map_err(store_failure)?
            .ok_or(AppError::Unauthenticated)?;
        Ok(Principal {
            user,
            session_id: claims.sid,
        })
    }

    fn signed_in(
        &self,
        user: User,
        session_id: Uuid,
        refresh: super::tokens::IssuedRefresh,
    ) -> Result<SignedIn, AppError> {
        let access = self.tokens.issue_access(&user, session_id)?;
        Ok(SignedIn {
            access_token: access.token,
            expires_in: access.expires_in,
            refresh_token: refresh.token,
            refresh_expires_in: refresh.lifetime.as_secs(),
            user,
        })
    }
}
