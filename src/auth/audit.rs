//! Audit events: one structured `tracing` event per security-relevant
//! outcome, under the target `authql::audit`, so operators can route them
//! apart from the rest of the log (`RUST_LOG=authql::audit=info`).
//!
//! Every event carries `event` (a stable name), and where known `user_id`,
//! `session_id` and `client_ip`. None ever carries a password, hash, token
//! or secret, nor the email a login tried (attacker-chosen text, and
//! personal data).

use std::net::IpAddr;

use uuid::Uuid;

/// The most of a `User-Agent` a session records (API.md: 256 characters).
pub const USER_AGENT_CHARS: usize = 256;

/// Where a request came from, as far as the server can tell.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The client IP (the socket peer, or `X-Forwarded-For` when trusted).
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header, cut to its first [`USER_AGENT_CHARS`]
    /// characters. Client-chosen text: stored and shown to the account,
    /// never written to a log line.
    pub user_agent: Option<String>,
}

impl Origin {
    /// An origin from the client IP and the raw `User-Agent` header.
    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent
            .map(|raw| {
                raw.trim()
                    .chars()
                    .take(USER_AGENT_CHARS)
                    .collect::<String>()
            })
            .filter(|ua| !ua.is_empty());
        Self { ip, user_agent }
    }

    /// The client IP as stored (sessions, audit).
    pub fn ip_text(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}

/// Why a login failed; one of these goes into `login_failed` as `reason`.
#[derive(Debug, Clone, Copy)]
pub enum LoginFailure {
    /// The email is not shaped like one.
    MalformedEmail,
    /// No account has this email.
    UnknownEmail,
    /// The account exists; the password is wrong.
    WrongPassword,
}

impl LoginFailure {
    fn as_str(self) -> &'static str {
        match self {
            Self::MalformedEmail => "malformed_email",
            Self::UnknownEmail => "unknown_email",
            Self::WrongPassword => "wrong_password",
        }
    }
}

fn ip(origin: &Origin) -> String {
    origin
        .ip
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// An account was created (and signed in).
pub fn registered(origin: &Origin, user_id: Uuid, session_id: Uuid) {
    tracing::info!(target: "authql::audit", event = "registered", user_id = %user_id,
        session_id = %session_id, client_ip = %ip(origin), "account registered");
}

/// A login succeeded and started a session.
pub fn login_succeeded(origin: &Origin, user_id: Uuid, session_id: Uuid) {
    tracing::info!(target: "authql::audit", event = "login_succeeded", user_id = %user_id,
        session_id = %session_id, client_ip = %ip(origin), "login succeeded");
}

/// A login failed.
pub fn login_failed(origin: &Origin, reason: LoginFailure, user_id: Option<Uuid>) {
    tracing::info!(target: "authql::audit", event = "login_failed", reason = reason.as_str(),
        user_id = user_id.map(tracing::field::display), client_ip = %ip(origin), "login failed");
}

/// A request was refused by a rate limit; `scope` is `email` or `ip`.
pub fn rate_limited(origin: &Origin, scope: &'static str, retry_after: u64) {
    tracing::warn!(target: "authql::audit", event = "rate_limited", scope, retry_after,
        client_ip = %ip(origin), "rate limited");
}

/// A refresh token was traded for a new pair.
pub fn refreshed(origin: &Origin, user_id: Uuid, session_id: Uuid) {
    tracing::info!(target: "authql::audit", event = "refreshed", user_id = %user_id,
        session_id = %session_id, client_ip = %ip(origin), "refresh token rotated");
}

/// A spent refresh token came back: the session was ended.
pub fn reuse_detected(origin: &Origin, user_id: Uuid, session_id: Uuid) {
    tracing::warn!(target: "authql::audit", event = "reuse_detected", user_id = %user_id,
        session_id = %session_id, client_ip = %ip(origin),
        "refresh token reuse detected; session ended");
}

/// A session was ended by `logout`.
pub fn logged_out(origin: &Origin, user_id: Uuid, session_id: Uuid) {
    tracing::info!(target: "authql::audit", event = "logged_out", user_id = %user_id,
        session_id = %session_id, client_ip = %ip(origin), "logged out");
}

/// Every session of an account was ended by `logoutAll`.
pub fn logged_out_everywhere(origin: &Origin, user_id: Uuid, session_id: Uuid, sessions: u64) {
    tracing::info!(target: "authql::audit", event = "logged_out_everywhere", user_id = %user_id,
        session_id = %session_id, sessions, client_ip = %ip(origin), "logged out everywhere");
}

/// One session of an account was ended by `revokeSession`.
pub fn session_revoked(origin: &Origin, user_id: Uuid, session_id: Uuid, revoked: Uuid) {
    tracing::info!(target: "authql::audit", event = "session_revoked", user_id = %user_id,
        session_id = %session_id, revoked = %revoked, client_ip = %ip(origin), "session revoked");
}

/// Every other session of an account was ended by `logoutOthers`.
pub fn logged_out_others(origin: &Origin, user_id: Uuid, session_id: Uuid, sessions: u64) {
    tracing::info!(target: "authql::audit", event = "logged_out_others", user_id = %user_id,
        session_id = %session_id, sessions, client_ip = %ip(origin), "logged out other sessions");
}

/// The password was changed; the account's other sessions ended.
pub fn password_changed(origin: &Origin, user_id: Uuid, session_id: Uuid, sessions: u64) {
    tracing::info!(target: "authql::audit", event = "password_changed", user_id = %user_id,
        session_id = %session_id, sessions, client_ip = %ip(origin), "password changed");
}

/// The account deleted itself.
pub fn account_deleted(origin: &Origin, user_id: Uuid, session_id: Uuid) {
    tracing::info!(target: "authql::audit", event = "account_deleted", user_id = %user_id,
        session_id = %session_id, client_ip = %ip(origin), "account deleted");
}

/// A password-reset email was queued for an account (unknown addresses log
/// nothing: they change nothing).
pub fn password_reset_requested(origin: &Origin) {
    tracing::info!(target: "authql::audit", event = "password_reset_requested",
        client_ip = %ip(origin), "password reset requested");
}

/// A password was reset with an emailed link; every session ended and a
/// new one started.
pub fn password_reset(origin: &Origin, user_id: Uuid, session_id: Uuid) {
    tracing::info!(target: "authql::audit", event = "password_reset", user_id = %user_id,
        session_id = %session_id, client_ip = %ip(origin), "password reset");
}

/// An address was verified (or changed) with an emailed link.
pub fn email_verified(origin: &Origin, user_id: Uuid) {
    tracing::info!(target: "authql::audit", event = "email_verified", user_id = %user_id,
        client_ip = %ip(origin), "email verified");
}

/// A change of address was asked for; the link went to the new address.
pub fn email_change_requested(origin: &Origin, user_id: Uuid, session_id: Uuid) {
    tracing::info!(target: "authql::audit", event = "email_change_requested",
        user_id = %user_id, session_id = %session_id, client_ip = %ip(origin),
        "email change requested");
}
