//! Authentication: the flows of the API and the pieces they are made of.
//!
//! [`AuthService`] runs the flows against any [`Store`]: signing in and out
//! and rotating tokens (`flows`), a person's sessions (`sessions`), and
//! their account (`account`: password change, deletion). It knows nothing of
//! GraphQL or HTTP (the resolvers in `graphql/` translate), and nothing of
//! SQL (the store does one atomic step per call).

mod account;
pub mod admin;
pub mod audit;
pub mod bcrypt;
mod cpu_pool;
pub mod email;
mod flows;
mod limits;
mod link_token;
pub mod password;
mod reset;
mod sessions;
pub mod tokens;
mod verification;

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

pub use audit::Origin;
pub use password::{Password, PasswordHasher};
pub use tokens::TokenKeys;

use crate::config::{Config, EmailVerification, RateLimit};
use crate::db::Store;
use crate::domain::User;
use crate::mail::Mail;

/// The authentication flows, shared by every request.
pub struct AuthService {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    tokens: TokenKeys,
    ip_limiter: Option<limits::IpLimiter>,
    login_limit: Option<RateLimit>,
    /// `None` when no mail is set up: the fields that send mail answer
    /// `FEATURE_DISABLED`.
    mail: Option<Arc<Mail>>,
    email_links: EmailLinks,
    /// Bounds the emailed-link jobs that run after their answer.
    link_jobs: Arc<tokio::sync::Semaphore>,
}

/// The lifetimes and limit of emailed links, and `EMAIL_VERIFICATION`.
struct EmailLinks {
    reset_ttl: Duration,
    verify_ttl: Duration,
    limit: Option<RateLimit>,
    verification: EmailVerification,
}

/// The account and session behind a valid access token.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account, as stored now (not as the token remembers it).
    pub user: User,
    /// The live session the token belongs to.
    pub session_id: Uuid,
}

/// A signed-in session: what `register`, `login` and `refreshToken` return.
pub struct SignedIn {
    /// The new access token.
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The new refresh token (shown once, stored only as a hash).
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
    /// The new session.
    pub session_id: Uuid,
    /// The signed-in account.
    pub user: User,
}

impl AuthService {
    /// Builds the service from the configuration, a store and the mail
    /// delivery (`None` when mail is off).
    pub fn new(config: &Config, store: Arc<dyn Store>, mail: Option<Arc<Mail>>) -> Self {
        Self {
            store,
            hasher: PasswordHasher::new(config.bcrypt_cost),
            tokens: TokenKeys::new(config),
            ip_limiter: config.rate_limit_ip.map(limits::IpLimiter::new),
            login_limit: config.rate_limit_login,
            mail,
            email_links: EmailLinks {
                reset_ttl: config.password_reset_ttl,
                verify_ttl: config.email_verify_ttl,
                limit: config.rate_limit_email,
                verification: config.email_verification,
            },
            link_jobs: Arc::new(tokio::sync::Semaphore::new(reset::LINK_JOBS)),
        }
    }

    /// The password hasher (for warming up its dummy hash at start-up).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }
}
