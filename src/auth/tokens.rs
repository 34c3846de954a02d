//! Access and refresh tokens: JWTs signed HS256, each kind with its own key.
//!
//! Verification follows RFC 8725 (JWT best current practices): the algorithm
//! is pinned to HS256 (`alg: none` and every other algorithm are refused
//! before the signature is looked at), `exp`, `iss` and `sub` are required,
//! the issuer is checked, and a `typ` claim keeps one kind of token from
//! being accepted as the other even if both secrets were set alike.
//!
//! Refresh tokens are JWTs too, rather than opaque random strings: the
//! contract signs them with `JWT_REFRESH_SECRET` and tells a token this
//! server never issued (a foreign signature) from one whose session ended.
//! The signature only proves origin; whether a refresh token still works is
//! decided by the database, which stores its SHA-256 (see `db::TokenHash`),
//! and each one carries 128 random bits in `jti`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;
use crate::db::{NewRefreshToken, TokenHash};
use crate::domain::{Role, User};
use crate::error::AppError;

/// The `typ` claim: which kind of token this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// Sent as `Authorization: Bearer` to guarded fields.
    Access,
    /// Traded for a new pair by `refreshToken`, or ended by `logout`.
    Refresh,
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The account id.
    pub sub: Uuid,
    /// The account email when issued.
    pub email: String,
    /// The account role when issued.
    pub role: Role,
    /// Whether the address was verified when issued. Tokens issued before
    /// the claim existed verify as `false`.
    #[serde(default)]
    pub email_verified: bool,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// A unique id for this token.
    pub jti: Uuid,
    /// The issuer (`JWT_ISSUER`).
    pub iss: String,
    /// The session the token belongs to: it dies with it.
    pub sid: Uuid,
    /// Always [`TokenType::Access`].
    pub typ: TokenType,
}

/// The claims of a refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshClaims {
    /// The account id.
    pub sub: Uuid,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// 128 random bits: no two refresh tokens are alike, even within a second.
    pub jti: Uuid,
    /// The issuer (`JWT_ISSUER`).
    pub iss: String,
    /// The session the token belongs to.
    pub sid: Uuid,
    /// Always [`TokenType::Refresh`].
    pub typ: TokenType,
}

/// A freshly signed access token.
pub struct IssuedAccess {
    /// The JWT.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// A freshly signed refresh token and what the database keeps of it.
pub struct IssuedRefresh {
    /// The JWT, shown to the client once.
    pub token: String,
    /// Its hash and expiry, for the database.
    pub stored: NewRefreshToken,
    /// Its lifetime (the cookie's `Max-Age`).
    pub lifetime: Duration,
}

/// Keys and rules for both kinds of token, made once at start-up.
pub struct TokenKeys {
    access_encoding: EncodingKey,
    access_decoding: DecodingKey,
    refresh_encoding: EncodingKey,
    refresh_decoding: DecodingKey,
    access_validation: Validation,
    refresh_validation: Validation,
    /// For `logout`, which accepts an expired refresh token of a live session.
    refresh_validation_any_age: Validation,
    issuer: String,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

impl TokenKeys {
    /// Keys from the configured secrets (used byte for byte as HMAC keys).
    pub fn new(config: &Config) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.set_issuer(&[&config.issuer]);
        // No leeway: the same servers issue and check these tokens, and a
        // 60-second grace (the library default) would outlive short tokens.
        validation.leeway = 0;
        validation.validate_aud = false;
        // We never set `nbf`, but a token that carries one is held to it.
        validation.validate_nbf = true;
        let mut any_age = validation.clone();
        any_age.validate_exp = false;
        Self {
            access_encoding: EncodingKey::from_secret(config.access_secret.as_bytes()),
            access_decoding: DecodingKey::from_secret(config.access_secret.as_bytes()),
            refresh_encoding: EncodingKey::from_secret(config.refresh_secret.as_bytes()),
            refresh_decoding: DecodingKey::from_secret(config.refresh_secret.as_bytes()),
            access_validation: validation.clone(),
            refresh_validation: validation,
            refresh_validation_any_age: any_age,
            issuer: config.issuer.clone(),
            access_ttl: config.access_ttl,
            refresh_ttl: config.refresh_ttl,
        }
    }

    /// Signs an access token for `user` in session `sid`.
    pub fn issue_access(&self, user: &User, sid: Uuid) -> Result<IssuedAccess, AppError> {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user.id,
            email: user.email.clone(),
            role: user.role,
            email_verified: user.email_verified,
            iat: now,
            exp: now + self.access_ttl.as_secs() as i64,
            jti: Uuid::new_v4(),
            iss: self.issuer.clone(),
            sid,
            typ: TokenType::Access,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.access_encoding,
        )
        .map_err(|_| AppError::internal("jwt: signing an access token failed"))?;
        Ok(IssuedAccess {
            token,
            expires_in: self.access_ttl.as_secs(),
        })
    }

    /// Signs a new refresh token for `user_id` in session `sid`.
    pub fn issue_refresh(&self, user_id: Uuid, sid: Uuid) -> Result<IssuedRefresh, AppError> {
        let now = Utc::now();
        let expires_at = now
            + chrono::Duration::from_std(self.refresh_ttl)
                .map_err(|_| AppError::internal("refresh lifetime out of range"))?;
        let claims = RefreshClaims {
            sub: user_id,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: Uuid::new_v4(),
            iss: self.issuer.clone(),
            sid,
            typ: TokenType::Refresh,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.refresh_encoding,
        )
        .map_err(|_| AppError::internal("jwt: signing a refresh token failed"))?;
        Ok(IssuedRefresh {
            stored: NewRefreshToken {
                hash: TokenHash::of(&token),
                expires_at: truncate_to_seconds(expires_at),
            },
            token,
            lifetime: self.refresh_ttl,
        })
    }

    /// Verifies an access token: signature, algorithm, expiry, issuer, type.
    pub fn verify_access(&self, token: &str) -> Option<AccessClaims> {
        let claims: AccessClaims =
            jsonwebtoken::decode(token, &self.access_decoding, &self.access_validation)
                .ok()?
                .claims;
        (claims.typ == TokenType::Access).then_some(claims)
    }

    /// Verifies a refresh token; with `check_expiry` false an expired one
    /// still passes (its signature proves this server issued it).
    pub fn verify_refresh(&self, token: &str, check_expiry: bool) -> Option<RefreshClaims> {
        let validation = if check_expiry {
            &self.refresh_validation
        } else {
            &self.refresh_validation_any_age
        };
        let claims: RefreshClaims = jsonwebtoken::decode(token, &self.refresh_decoding, validation)
            .ok()?
            .claims;
        (claims.typ == TokenType::Refresh).then_some(claims)
    }
}

/// The database keeps the same whole-second expiry the JWT carries.
fn truncate_to_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn keys(vars: &[(&str, &str)]) -> TokenKeys {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TokenKeys::new(&Config::from_lookup(|k| map.get(k).cloned()).unwrap())
    }

    fn user() -> User {
        User {
            id: Uuid::new_v4(),
            email: "a@example.com".into(),
            role: Role::User,
            created_at: Utc::now(),
            email_verified: false,
            last_login_at: None,
            disabled: false,
        }
    }

    #[test]
    fn access_tokens_round_trip_with_every_claim() {
        let keys = keys(&[("JWT_ACCESS_EXPIRES", "90s")]);
        let user = user();
        let sid = Uuid::new_v4();
        let issued = keys.issue_access(&user, sid).unwrap();
        assert_eq!(issued.expires_in, 90);
        let claims = keys.verify_access(&issued.token).unwrap();
        assert_eq!(claims.sub, user.id);
        assert_eq!(claims.sid, sid);
        assert_eq!(claims.email, "a@example.com");
        assert_eq!(claims.role, Role::User);
        assert!(!claims.email_verified);
        assert_eq!(claims.iss, "authql");
        assert_eq!(claims.exp - claims.iat, 90);
        let header = jsonwebtoken::decode_header(&issued.token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
    }

    #[test]
    fn kinds_are_not_interchangeable_even_with_one_secret() {
        let same = "the-same-secret-for-both-kinds-of-token";
        let keys = keys(&[("JWT_ACCESS_SECRET", same), ("JWT_REFRESH_SECRET", same)]);
        let user = user();
        let access = keys.issue_access(&user, Uuid::new_v4()).unwrap().token;
        let refresh = keys.issue_refresh(user.id, Uuid::new_v4()).unwrap().token;
        assert!(keys.verify_access(&refresh).is_none());
        assert!(keys.verify_refresh(&access, true).is_none());
        assert!(keys.verify_refresh(&refresh, true).is_some());
    }

    #[test]
    fn other_issuers_and_secrets_are_refused() {
        let ours = keys(&[("JWT_ACCESS_SECRET", "a-secret-of-our-own-1234567890")]);
        let theirs = keys(&[
            ("JWT_ACCESS_SECRET", "a-secret-of-our-own-1234567890"),
            ("JWT_ISSUER", "someone-else"),
        ]);
        let foreign = keys(&[("JWT_ACCESS_SECRET", "another-secret-entirely-0987654321")]);
        let user = user();
        assert!(
            ours.verify_access(&theirs.issue_access(&user, Uuid::new_v4()).unwrap().token)
                .is_none()
        );
        assert!(
            ours.verify_access(&foreign.issue_access(&user, Uuid::new_v4()).unwrap().token)
                .is_none()
        );
    }

    #[test]
    fn refresh_tokens_are_unique_and_hashed() {
        let keys = keys(&[]);
        let (user_id, sid) = (Uuid::new_v4(), Uuid::new_v4());
        let a = keys.issue_refresh(user_id, sid).unwrap();
        let b = keys.issue_refresh(user_id, sid).unwrap();
        assert_ne!(a.token, b.token);
        assert_eq!(a.stored.hash, TokenHash::of(&a.token));
        assert_ne!(a.stored.hash, b.stored.hash);
    }
}
