//! The flows themselves. Each failure is one contract code; internal
//! failures carry only safe descriptions (see `crate::error`). Each outcome
//! that matters for security is an audit event (see [`super::audit`]).

use chrono::Utc;
use uuid::Uuid;

use super::audit::{self, LoginFailure, Origin};
use super::limits::limited_until;
use super::tokens::IssuedRefresh;
use super::{AuthService, Password, Principal, SignedIn, email};
use crate::config::EmailVerification;
use crate::db::{
    AttemptCounter, Attempts, CreateUserError, EmailKey, EndSession, NewSession, NewUser, Rotation,
    TokenHash,
};
use crate::domain::{AuditKind, EndReason, Role, User};
use crate::error::AppError;

/// A store failure, as the client sees it: internal, described safely.
pub(super) fn store_failure(error: crate::db::StoreError) -> AppError {
    AppError::internal(error.describe())
}

/// A session about to be stored for a sign-in from `origin`.
pub(super) fn new_session(id: Uuid, refresh: &IssuedRefresh, origin: &Origin) -> NewSession {
    NewSession {
        id,
        refresh_token: refresh.stored.clone(),
        user_agent: origin.user_agent.clone(),
        ip: origin.ip_text(),
    }
}

impl AuthService {
    /// Creates an account with role `USER` and signs it in.
    pub async fn register(
        &self,
        raw_email: &str,
        password: Password,
        origin: &Origin,
    ) -> Result<SignedIn, AppError> {
        self.check_ip(origin).await?;
        let (email, password_hash) = self.new_credentials(raw_email, password).await?;

        let user_id = Uuid::new_v4();
        let session_id = Uuid::new_v4();
        let refresh = self.tokens.issue_refresh(user_id, session_id)?;
        // EMAIL_VERIFICATION: `optional` and `required` queue a link with the
        // account; `required` starts no session until it is used.
        let verification = match self.email_links.verification {
            EmailVerification::Off => None,
            EmailVerification::Optional | EmailVerification::Required => {
                self.verification_link(&email)?
            }
        };
        let required = self.email_links.verification == EmailVerification::Required;
        let new_user = NewUser {
            id: user_id,
            email,
            password_hash,
            role: Role::User,
            email_verified: false,
            verification,
        };
        let session = (!required).then(|| new_session(session_id, &refresh, origin));
        let queued = new_user.verification.is_some();
        let event = audit::event(
            origin,
            AuditKind::Registered,
            Some(user_id),
            session.as_ref().map(|s| s.id),
        );
        let user = match self.store.create_user(new_user, session, &event).await {
            Ok(user) => user,
            Err(CreateUserError::EmailTaken) => return Err(AppError::EmailTaken),
            Err(CreateUserError::Store(error)) => return Err(store_failure(error)),
        };
        if let (true, Some(mail)) = (queued, self.mail.as_deref()) {
            mail.wake();
        }
        audit::registered(origin, user.id, session_id);
        if required {
            return Err(AppError::EmailNotVerified);
        }
        self.signed_in(user, session_id, refresh)
    }

    /// A new account's normalized email and bcrypt hash, after the
    /// contract's checks of both (`BAD_USER_INPUT` naming the field).
    pub(super) async fn new_credentials(
        &self,
        raw_email: &str,
        password: Password,
    ) -> Result<(String, String), AppError> {
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
        Ok((email, password_hash))
    }

    /// Signs in with email and password. Every failure, whatever its cause
    /// (malformed email, unknown account, wrong password), is the same
    /// `INVALID_CREDENTIALS` after the same bcrypt work.
    pub async fn login(
        &self,
        raw_email: &str,
        password: Password,
        origin: &Origin,
    ) -> Result<SignedIn, AppError> {
        self.check_ip(origin).await?;
        let normalized = email::normalize(raw_email).ok();
        // RATE_LIMIT_LOGIN: the attempt is counted before any password is
        // checked, so a limited email is refused even with the right
        // password (no oracle), and malformed, unknown and known emails are
        // counted alike (no enumeration). A successful login clears it.
        let key = self.login_limit.map(|_| match &normalized {
            Some(email) => EmailKey::of(email),
            None => EmailKey::of(&raw_email.trim().to_lowercase()),
        });
        let lookup = self
            .store
            .begin_login(normalized.as_deref(), self.attempt_counter(key.as_ref())?)
            .await
            .map_err(store_failure)?;
        let found = lookup.credentials.as_ref().map(|c| c.user.id);
        self.enforce_login_limit(lookup.attempts, origin, found)
            .await?;

        let (user, hash) = match lookup.credentials {
            Some(c) => (Some(c.user), Some(c.password_hash)),
            None => (None, None),
        };
        let matched = self.hasher.verify(password, hash).await?;
        let user = match user {
            Some(user) if matched => user,
            found => {
                let reason = match (&normalized, &found) {
                    (None, _) => LoginFailure::MalformedEmail,
                    (Some(_), None) => LoginFailure::UnknownEmail,
                    (Some(_), Some(_)) => LoginFailure::WrongPassword,
                };
                let user_id = found.map(|u| u.id);
                return Err(self
                    .refuse_login(origin, reason, user_id, AppError::InvalidCredentials)
                    .await);
            }
        };

        // Only now, after the password matched: a disabled account or an
        // unverified address is not revealed to someone who does not know
        // the password.
        if user.disabled {
            return Err(self
                .refuse_login(
                    origin,
                    LoginFailure::Disabled,
                    Some(user.id),
                    AppError::AccountDisabled,
                )
                .await);
        }
        if self.email_links.verification == EmailVerification::Required && !user.email_verified {
            return Err(self
                .refuse_login(
                    origin,
                    LoginFailure::Unverified,
                    Some(user.id),
                    AppError::EmailNotVerified,
                )
                .await);
        }
        let session_id = Uuid::new_v4();
        let refresh = self.tokens.issue_refresh(user.id, session_id)?;
        let session = new_session(session_id, &refresh, origin);
        let event = audit::event(
            origin,
            AuditKind::LoginSucceeded,
            Some(user.id),
            Some(session_id),
        );
        self.store
            .create_session(user.id, session, key.as_ref(), &event)
            .await
            .map_err(store_failure)?;
        audit::login_succeeded(origin, user.id, session_id);
        self.signed_in(user, session_id, refresh)
    }

    /// Trades a refresh token for a new pair in the same session.
    pub async fn refresh(&self, presented: &str, origin: &Origin) -> Result<SignedIn, AppError> {
        self.check_ip(origin).await?;
        let claims = self
            .tokens
            .verify_refresh(presented, true)
            .ok_or(AppError::InvalidRefreshToken)?;
        let next = self.tokens.issue_refresh(claims.sub, claims.sid)?;
        // Stored only if the token turns out to be spent (a rotation itself
        // is no event: see `Session.lastActiveAt`).
        let reuse = audit::event(
            origin,
            AuditKind::ReuseDetected,
            Some(claims.sub),
            Some(claims.sid),
        );
        let rotation = self
            .store
            .rotate_refresh_token(
                &TokenHash::of(presented),
                claims.sid,
                &next.stored,
                origin.ip_text().as_deref(),
                &reuse,
            )
            .await
            .map_err(store_failure)?;
        match rotation {
            Rotation::Rotated(user) => {
                audit::refreshed(origin, user.id, claims.sid);
                self.signed_in(user, claims.sid, next)
            }
            Rotation::Reused { session_id } => {
                audit::reuse_detected(origin, claims.sub, session_id);
                Err(AppError::InvalidRefreshToken)
            }
            Rotation::Rejected => Err(AppError::InvalidRefreshToken),
        }
    }

    /// Ends the session of any refresh token this server issued, used or
    /// not, expired or not. True when a live session was ended; false when it
    /// had already ended. A token this server never issued (bad signature, or
    /// validly signed but never stored) is an error.
    pub async fn logout(&self, presented: &str, origin: &Origin) -> Result<bool, AppError> {
        let claims = self
            .tokens
            .verify_refresh(presented, false)
            .ok_or(AppError::InvalidRefreshToken)?;
        let event = audit::event(
            origin,
            AuditKind::LoggedOut,
            Some(claims.sub),
            Some(claims.sid),
        );
        let outcome = self
            .store
            .end_session_by_token(&TokenHash::of(presented), claims.sub, &event)
            .await
            .map_err(store_failure)?;
        match outcome {
            EndSession::Ended => {
                audit::logged_out(origin, claims.sub, claims.sid);
                Ok(true)
            }
            EndSession::AlreadyEnded => Ok(false),
            // Rows of expired tokens are purged in the background. A token
            // that is gone, but whose signature says we issued it and whose
            // expiry says it may have been purged, still names its session:
            // end that session if it is live, as the contract asks of any
            // token of a live session, rotated away or not.
            EndSession::Unknown if claims.exp < Utc::now().timestamp() => {
                let ended = self
                    .store
                    .end_session(claims.sub, claims.sid, EndReason::Logout, &event)
                    .await
                    .map_err(store_failure)?;
                if ended {
                    audit::logged_out(origin, claims.sub, claims.sid);
                }
                Ok(ended)
            }
            EndSession::Unknown => Err(AppError::InvalidRefreshToken),
        }
    }

    /// Ends every session of the signed-in account; returns how many.
    pub async fn logout_all(
        &self,
        principal: &Principal,
        origin: &Origin,
    ) -> Result<u64, AppError> {
        let event = audit::event(
            origin,
            AuditKind::LoggedOutAll,
            Some(principal.user.id),
            Some(principal.session_id),
        );
        let ended = self
            .store
            .end_all_sessions(principal.user.id, EndReason::LogoutAll, &event)
            .await
            .map_err(store_failure)?;
        audit::logged_out_everywhere(origin, principal.user.id, principal.session_id, ended);
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

    /// `RATE_LIMIT_IP`: counts one sign-in call from the client's IP.
    pub(super) async fn check_ip(&self, origin: &Origin) -> Result<(), AppError> {
        let (Some(limiter), Some(ip)) = (&self.ip_limiter, origin.ip) else {
            return Ok(());
        };
        let Err((retry_after, first)) = limiter.check(ip) else {
            return Ok(());
        };
        audit::rate_limited(origin, "ip", retry_after);
        if first {
            self.record(audit::limited(origin, "ip", None)).await?;
        }
        Err(AppError::RateLimited { retry_after })
    }

    /// Records an event that goes with no change.
    pub(super) async fn record(&self, event: crate::db::AuditEvent) -> Result<(), AppError> {
        self.store
            .record(std::slice::from_ref(&event))
            .await
            .map_err(store_failure)
    }

    /// A refused sign-in: logged, recorded, and answered with `error` (the
    /// store's failure instead, if the event could not be written).
    pub(super) async fn refuse_login(
        &self,
        origin: &Origin,
        reason: LoginFailure,
        user_id: Option<Uuid>,
        error: AppError,
    ) -> AppError {
        audit::login_failed(origin, reason, user_id);
        match self
            .record(audit::failed_login(origin, reason, user_id))
            .await
        {
            Ok(()) => error,
            Err(failure) => failure,
        }
    }

    /// `RATE_LIMITED` for a request whose counter (`attempts`, limited at
    /// `max`) is past its limit; the window's first refusal is recorded
    /// (`reason`: `login` or `email`).
    pub(super) async fn limited(
        &self,
        origin: &Origin,
        attempts: Attempts,
        max: u32,
        reason: &'static str,
        user_id: Option<Uuid>,
    ) -> AppError {
        let error = limited_until(attempts.window_ends_at, origin, "email");
        if attempts.count != max.saturating_add(1) {
            return error;
        }
        match self.record(audit::limited(origin, reason, user_id)).await {
            Ok(()) => error,
            Err(failure) => failure,
        }
    }

    /// Where this login's attempt is counted, when the limit is on.
    pub(super) fn attempt_counter<'a>(
        &self,
        key: Option<&'a EmailKey>,
    ) -> Result<Option<AttemptCounter<'a>>, AppError> {
        let (Some(key), Some(limit)) = (key, self.login_limit) else {
            return Ok(None);
        };
        let window = chrono::Duration::from_std(limit.window)
            .map_err(|_| AppError::internal("rate limit window out of range"))?;
        Ok(Some(AttemptCounter {
            key,
            new_window_ends_at: Utc::now() + window,
        }))
    }

    /// Refuses the login when its email is past `RATE_LIMIT_LOGIN`.
    pub(super) async fn enforce_login_limit(
        &self,
        attempts: Option<Attempts>,
        origin: &Origin,
        user_id: Option<Uuid>,
    ) -> Result<(), AppError> {
        let (Some(attempts), Some(limit)) = (attempts, self.login_limit) else {
            return Ok(());
        };
        if attempts.count <= limit.max {
            return Ok(());
        }
        Err(self
            .limited(origin, attempts, limit.max, "login", user_id)
            .await)
    }

    pub(super) fn signed_in(
        &self,
        user: User,
        session_id: Uuid,
        refresh: IssuedRefresh,
    ) -> Result<SignedIn, AppError> {
        let access = self.tokens.issue_access(&user, session_id)?;
        Ok(SignedIn {
            access_token: access.token,
            expires_in: access.expires_in,
            refresh_token: refresh.token,
            refresh_expires_in: refresh.lifetime.as_secs(),
            session_id,
            user,
        })
    }
}
