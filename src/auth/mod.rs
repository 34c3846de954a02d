//! Authentication: the flows of the API and the pieces they are made of.
//!
//! [`AuthService`] runs the flows against any [`Store`]: signing in and out
//! and rotating tokens (`flows`), a person's sessions (`sessions`), and
//! their account (`account`: password change, deletion). It knows nothing of
//! GraphQL or HTTP (the resolvers in `graphql/` translate), and nothing of
//! SQL (the store does one atomic step per call).

mod account;
pub mod audit;
pub mod bcrypt;
mod cpu_pool;
pub mod email;
mod flows;
mod limits;
pub mod password;
mod sessions;
pub mod tokens;

use std::sync::Arc;

use uuid::Uuid;

pub use audit::Origin;
pub use password::{Password, PasswordHasher};
pub use tokens::TokenKeys;

use crate::config::{Config, RateLimit};
use crate::db::Store;
use crate::domain::User;

/// The authentication flows, shared by every request.
pub struct AuthService {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    tokens: TokenKeys,
    ip_limiter: Option<limits::IpLimiter>,
    login_limit: Option<RateLimit>,
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
    /// Builds the service from the configuration and a store.
    pub fn new(config: &Config, store: Arc<dyn Store>) -> Self {
        Self {
            store,
            hasher: PasswordHasher::new(config.bcrypt_cost),
            tokens: TokenKeys::new(config),
            ip_limiter: config.rate_limit_ip.map(limits::IpLimiter::new),
            login_limit: config.rate_limit_login,
        }
    }

    /// The password hasher (for warming up its dummy hash at start-up).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }
}
