//! Audit events, twice: each security-relevant outcome is an
//! [`AuditEvent`] the store writes in the transaction of its change (the
//! queryable audit log), and a structured `tracing` event under the target
//! `authql::audit`, so operators can route them apart from the rest of the
//! log (`RUST_LOG=authql::audit=info`).
//!
//! Every event carries `event` (a stable name), and where known `user_id`,
//! `session_id` and `client_ip`. None ever carries a password, hash, token
//! or secret, nor the email a login tried (attacker-chosen text, and
//! personal data).

use std::net::IpAddr;

use chrono::Utc;
use uuid::Uuid;

use crate::domain::{AuditEvent, AuditKind};

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
    /// The request's id (a valid `X-Request-Id`), for finding its log
    /// lines from an audit event.
    pub request_id: Option<String>,
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
        Self {
            ip,
            user_agent,
            request_id: None,
        }
    }

    /// The origin with the request's id.
    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
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
    /// The password was right; an ADMIN disabled the account.
    Disabled,
    /// The password was right; the address is not verified yet
    /// (`EMAIL_VERIFICATION=required`).
    Unverified,
}

impl LoginFailure {
    fn as_str(self) -> &'static str {
        match self {
            Self::MalformedEmail => "malformed_email",
            Self::UnknownEmail => "unknown_email",
            Self::WrongPassword => "wrong_password",
            Self::Disabled => "disabled",
            Self::Unverified => "unverified",
        }
    }
}

/// An event of `kind` from the request at `origin`, about `user_id` (when
/// the flow knows it: the store fills in the account it finds) and
/// `session_id`.
pub fn event(
    origin: &Origin,
    kind: AuditKind,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
) -> AuditEvent {
    AuditEvent {
        id: Uuid::new_v4(),
        kind,
        at: Utc::now(),
        user_id,
        actor_id: None,
        session_id,
        ip: origin.ip_text(),
        user_agent: origin.user_agent.clone(),
        reason: None,
        request_id: origin.request_id.clone(),
    }
}

/// A refused sign-in. Of an unknown or malformed email it names no account
/// and holds nothing of what was typed.
pub fn failed_login(origin: &Origin, reason: LoginFailure, user_id: Option<Uuid>) -> AuditEvent {
    AuditEvent {
        reason: Some(reason.as_str()),
        ..event(origin, AuditKind::LoginFailed, user_id, None)
    }
}

/// The first refusal of a rate limit's window (`reason`: `login`, `ip` or
/// `email`): later refusals of the same window record nothing, so cheap
/// refused requests cannot become unbounded writes.
pub fn limited(origin: &Origin, reason: &'static str, user_id: Option<Uuid>) -> AuditEvent {
    AuditEvent {
        reason: Some(reason),
        ..event(origin, AuditKind::RateLimited, user_id, None)
    }
}

/// An administrative change by `actor` (`None`: an operator at the command
/// line) of the account `user_id`.
pub fn admin(origin: &Origin, kind: AuditKind, actor: Option<Uuid>, user_id: Uuid) -> AuditEvent {
    AuditEvent {
        actor_id: actor,
        ..event(origin, kind, Some(user_id), None)
    }
}

/// An ADMIN (or an operator: `actor` is `None`) changed an account.
pub fn administered(kind: AuditKind, actor: Option<Uuid>, user_id: Uuid, origin: &Origin) {
    tracing::info!(target: "authql::audit", event = kind.as_str(), user_id = %user_id,
        actor_id = actor.map(tracing::field::display), client_ip = %ip(origin),
        "account administered");
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
