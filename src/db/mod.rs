//! Storage: the one narrow interface the auth flows use, and its backends.
//!
//! [`Store`] is named for what the flows need (`rotate_refresh_token`,
//! `end_session_by_token`, ...), never for tables, and never hands out a
//! connection. Each call's change is atomic in the database (one statement
//! or one transaction), so several authql instances can share one database
//! without in-process locks.
//!
//! Two backends implement it: [`sqlite`], embedded, the default for one
//! instance; and [`pg`], PostgreSQL, for several instances sharing one
//! database. [`open`] picks one from the configuration and migrates it.

mod error;
pub mod migrations;
pub mod pg;
mod prepared;
pub mod sqlite;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use error::StoreError;

use crate::config::Database;
pub use crate::domain::{AuditEvent, AuditKind, EndReason, Role, Session, User};

/// The whole of one store call, pool (or write lock) wait included. Also
/// bounds what the database cannot: a network that silently stops answering.
const CALL_TIMEOUT: Duration = Duration::from_secs(12);

/// Runs one store call under [`CALL_TIMEOUT`].
async fn bounded<T, E: From<StoreError>>(call: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| Err(StoreError::new("database: call timed out").into()))
}

/// A database ready for use, and what opening it did.
pub struct Opened {
    /// The backend, behind the one interface the flows use.
    pub store: Arc<dyn Store>,
    /// True when the database (PostgreSQL) or its file (SQLite) was created.
    pub created: bool,
    /// The migrations applied while opening it.
    pub applied: Vec<String>,
}

/// Opens the configured database: creates it when it is missing (and that
/// is allowed), applies pending migrations, and builds the store with at
/// most `pool_size` connections.
pub async fn open(database: &Database, pool_size: usize) -> Result<Opened, StoreError> {
    match database {
        Database::Postgres(url) => {
            let created = pg::ensure_database(url).await?;
            let applied = migrations::postgres(url).await?;
            let store = pg::PgStore::new(url, pool_size)?;
            Ok(Opened {
                store: Arc::new(store),
                created,
                applied,
            })
        }
        Database::Sqlite(file) => {
            let (store, created, applied) = sqlite::SqliteStore::open(file, pool_size).await?;
            Ok(Opened {
                store: Arc::new(store),
                created,
                applied,
            })
        }
    }
}

/// An account with its bcrypt hash, for `login` only.
pub struct Credentials {
    /// The account.
    pub user: User,
    /// The stored bcrypt hash.
    pub password_hash: String,
}

/// Defines a SHA-256 digest newtype: what the database keeps instead of a
/// value it must be able to match but never reveal. `Debug` prints nothing.
macro_rules! sha256_digest {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Hashes the text as given.
            pub fn of(text: &str) -> Self {
                Self(Sha256::digest(text.as_bytes()).into())
            }

            /// The 32 hash bytes.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(redacted)"))
            }
        }
    };
}

sha256_digest!(
    /// The SHA-256 of a token (a refresh token, or the token of an emailed
    /// link): all the database ever stores of one, so a leaked table yields
    /// no usable token (crates.io stores API tokens alike).
    TokenHash
);

sha256_digest!(
    /// The key of an email's login-attempt counter: the SHA-256 of the
    /// normalized (or, when malformed, trimmed and lowercased) email, so the
    /// table holds neither addresses nor attacker-chosen text.
    EmailKey
);

/// Which counter a login attempt goes to, and the end of a new window.
#[derive(Debug, Clone, Copy)]
pub struct AttemptCounter<'a> {
    /// The email's counter.
    pub key: &'a EmailKey,
    /// When a window started by this attempt ends.
    pub new_window_ends_at: DateTime<Utc>,
}

/// What [`Store::begin_login`] found.
pub struct LoginLookup {
    /// The account, when the email is well formed and has one.
    pub credentials: Option<Credentials>,
    /// The attempts counted, when a counter was given.
    pub attempts: Option<Attempts>,
}

/// Login attempts counted for one email in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    /// Attempts in the window, this one included.
    pub count: u32,
    /// When the window (and so the limit) ends.
    pub window_ends_at: DateTime<Utc>,
}

/// Rows removed by one batch of the background purge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Expired refresh tokens.
    pub refresh_tokens: u64,
    /// Sessions whose every token has expired.
    pub sessions: u64,
    /// Login-attempt counters whose window ended.
    pub login_attempts: u64,
    /// Tokens of emailed links past their expiry.
    pub email_tokens: u64,
    /// `RATE_LIMIT_EMAIL` counters whose window ended.
    pub email_requests: u64,
    /// Sent or abandoned emails older than a week.
    pub outbox: u64,
    /// Audit events older than `AUDIT_RETENTION`.
    pub audit_events: u64,
}

impl Purged {
    /// Every count, in a fixed order.
    pub fn counts(&self) -> [u64; 7] {
        [
            self.refresh_tokens,
            self.sessions,
            self.login_attempts,
            self.email_tokens,
            self.email_requests,
            self.outbox,
            self.audit_events,
        ]
    }
}

/// A refresh token about to be stored.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    /// The hash of the token handed to the client.
    pub hash: TokenHash,
    /// When the token stops working; the session slides to this too.
    pub expires_at: DateTime<Utc>,
}

/// A new sign-in: one session and its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Generated by the application; access tokens carry it as `sid`.
    pub id: Uuid,
    /// The first refresh token of the session.
    pub refresh_token: NewRefreshToken,
    /// The sign-in's `User-Agent`, at most 256 characters.
    pub user_agent: Option<String>,
    /// The sign-in's client IP.
    pub ip: Option<String>,
}

/// What an administrative change of an account did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminChange {
    /// The account as it is now.
    Changed(User),
    /// The account already was so: nothing changed, nothing recorded.
    Unchanged(User),
    /// Refused: it would leave no enabled `ADMIN`.
    LastAdmin,
    /// No such account.
    Missing,
}

/// What [`Store::set_user`] changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    /// A new role; a different one ends every session of the account.
    Role(Role),
    /// Disabled (`true`: every session and emailed token ends) or enabled.
    Disabled(bool),
}

/// A page of the users list: newest first, after a position.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Only accounts whose (lowercased) email holds this, literally.
    pub search: Option<String>,
    /// Only accounts before this `(created_at, id)` in the order.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    /// At most this many.
    pub limit: u32,
}

/// What [`Store::list_users`] found.
#[derive(Debug, Clone, Default)]
pub struct UserPage {
    /// The accounts, newest first.
    pub users: Vec<User>,
    /// Every account the search matches, on any page.
    pub total: u64,
}

/// A page of the audit log: newest first, after a position.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only the events of this account.
    pub user_id: Option<Uuid>,
    /// Only events of these kinds (empty: all).
    pub kinds: Vec<AuditKind>,
    /// Only events before this `(at, id)` in the order.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    /// At most this many.
    pub limit: u32,
}

/// What [`Store::delete_account`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteAccount {
    /// The account and everything it owned are gone.
    Deleted,
    /// Refused: it is the last `ADMIN`, and an account system without one
    /// cannot be administered.
    LastAdmin,
    /// No such account (deleted meanwhile).
    Missing,
}

/// A new account.
pub struct NewUser {
    /// Generated by the application.
    pub id: Uuid,
    /// Already trimmed, lowercased and validated.
    pub email: String,
    /// A bcrypt hash.
    pub password_hash: String,
    /// `USER` from the API; `ADMIN` only from the command line.
    pub role: Role,
    /// True when the address is known to be the person's (an account made
    /// by an operator).
    pub email_verified: bool,
    /// A verification link to store and email with the account
    /// (`EMAIL_VERIFICATION` optional or required).
    pub verification: Option<NewVerification>,
}

/// A verification token and the email that carries it.
#[derive(Debug, Clone)]
pub struct NewVerification {
    /// The token to store.
    pub token: NewEmailToken,
    /// The email to queue.
    pub email: NewEmail,
}

/// Why an account could not be created.
#[derive(Debug)]
pub enum CreateUserError {
    /// The unique constraint on `users.email` refused it.
    EmailTaken,
    /// Anything else.
    Store(StoreError),
}

impl From<StoreError> for CreateUserError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// The outcome of presenting a refresh token for rotation.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live and is now used; its successor is stored.
    Rotated(User),
    /// The token had been used before: reuse. Its session has been ended.
    Reused {
        /// The session that was ended.
        session_id: Uuid,
    },
    /// Unknown, expired, or its session already ended.
    Rejected,
}

/// The outcome of ending a session by one of its refresh tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSession {
    /// The session was live and is now ended.
    Ended,
    /// The token is known but its session had already ended or expired.
    AlreadyEnded,
    /// No such token was ever stored.
    Unknown,
}

/// An email to queue, written in the same transaction as the change it
/// reports (the outbox).
#[derive(Debug, Clone)]
pub struct NewEmail {
    /// Generated by the application.
    pub id: Uuid,
    /// The template it was written from (for logs and metrics).
    pub kind: &'static str,
    /// The address it goes to.
    pub recipient: String,
    /// One line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// A queued email, claimed for sending.
#[derive(Debug, Clone)]
pub struct QueuedEmail {
    /// Its id.
    pub id: Uuid,
    /// The template it was written from.
    pub kind: String,
    /// The address it goes to.
    pub recipient: String,
    /// One line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

/// What the token of an emailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// `resetPassword`.
    PasswordReset,
    /// `verifyEmail` of the account's address.
    VerifyEmail,
    /// `verifyEmail` of a new address.
    EmailChange,
}

impl TokenPurpose {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::VerifyEmail => "email_verify",
            Self::EmailChange => "email_change",
        }
    }
}

/// A token of an emailed link, about to be stored.
#[derive(Debug, Clone)]
pub struct NewEmailToken {
    /// Its SHA-256.
    pub hash: TokenHash,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Where a request for an email is counted (`RATE_LIMIT_EMAIL`).
#[derive(Debug, Clone)]
pub struct EmailCounter {
    /// The target address's counter.
    pub key: EmailKey,
    /// When a window started by this request ends.
    pub new_window_ends_at: DateTime<Utc>,
    /// Requests allowed in a window (`u32::MAX` when the limit is off).
    pub max: u32,
}

/// An emailed link about to be stored, with the email that carries it.
#[derive(Debug, Clone)]
pub struct LinkRequest {
    /// The normalized address the link is for (and goes to).
    pub email: String,
    /// Stored when the address has a qualifying account.
    pub token: NewEmailToken,
    /// Queued with the token.
    pub email_out: NewEmail,
}

/// What [`Store::request_email_change`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailChangeRequested {
    /// Past `RATE_LIMIT_EMAIL`.
    Limited(Attempts),
    /// An account has the new address.
    Taken,
    /// The token is stored and both emails queued.
    Queued,
}

/// What [`Store::verify_email`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// The account, its address now verified (and changed, for an email
    /// change).
    Account(User),
    /// An email-change token whose address another account took meanwhile.
    Taken,
    /// No live token of either kind.
    Invalid,
}

/// `resetPassword` as one atomic step.
#[derive(Debug, Clone)]
pub struct PasswordReset {
    /// The presented token's hash.
    pub token: TokenHash,
    /// The new bcrypt hash.
    pub password_hash: String,
    /// The session the reset signs in with.
    pub session: NewSession,
    /// The notice to queue (written once the account's address is known:
    /// the store fills in the recipient).
    pub notice: Option<NewEmail>,
}

/// Everything the auth flows need from a database.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database does (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates the account, its first session (a sign-in; none when
    /// `session` is `None`) and its verification link and email, in one
    /// transaction.
    async fn create_user(
        &self,
        user: NewUser,
        session: Option<NewSession>,
        event: &AuditEvent,
    ) -> Result<User, CreateUserError>;

    /// Counts a request for an email to the counter's address
    /// (`RATE_LIMIT_EMAIL`, one atomic upsert); `Some` when it is past the
    /// limit.
    async fn count_email_request(
        &self,
        counter: &EmailCounter,
    ) -> Result<Option<Attempts>, StoreError>;

    /// When the address has an account whose address is not verified yet:
    /// ends its earlier verification tokens, stores the new one and queues
    /// its email, in one transaction. True when it did.
    /// `event` is recorded with it, about that account.
    async fn request_email_verification(
        &self,
        request: LinkRequest,
        event: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// For `requestEmailChange` of `user_id` to `request.email`: counts the
    /// request on the new address; within the limit, unless an account has
    /// that address, ends the account's earlier email-change tokens, stores
    /// the new one and queues `request.email_out` (to the new address) and
    /// `notice` (to the current one). All in one transaction.
    async fn request_email_change(
        &self,
        user_id: Uuid,
        counter: EmailCounter,
        request: LinkRequest,
        notice: NewEmail,
        event: &AuditEvent,
    ) -> Result<EmailChangeRequested, StoreError>;

    /// Spends a live verification or email-change token: marks the address
    /// verified, and for an email change moves the account to the token's
    /// address, in one transaction, with `event` about that account
    /// (recorded as `EMAIL_CHANGED` for an email change).
    async fn verify_email(
        &self,
        token: &TokenHash,
        event: &AuditEvent,
    ) -> Result<Verified, StoreError>;

    /// The first step of a login, in one round trip: counts the attempt
    /// against `counter` (when the per-email limit is on) and reads the
    /// account with the normalized `email` (when it is well formed).
    async fn begin_login(
        &self,
        email: Option<&str>,
        counter: Option<AttemptCounter<'_>>,
    ) -> Result<LoginLookup, StoreError>;

    /// Starts a session for an existing account and records the sign-in
    /// (`last_login_at`); with `clear`, also forgets that email's login
    /// attempts (the login succeeded), in one statement.
    async fn create_session(
        &self,
        user_id: Uuid,
        session: NewSession,
        clear: Option<&EmailKey>,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Trades a live refresh token of `session_id` for `next`, atomically: of
    /// concurrent calls with one token exactly one gets [`Rotation::Rotated`].
    /// A token that was already used ends its session ([`Rotation::Reused`])
    /// and records `reuse` (about the session's account) with that end.
    async fn rotate_refresh_token(
        &self,
        presented: &TokenHash,
        session_id: Uuid,
        next: &NewRefreshToken,
        ip: Option<&str>,
        reuse: &AuditEvent,
    ) -> Result<Rotation, StoreError>;

    /// Ends the live session this token (used or not) of `user_id` belongs
    /// to. Tokens of a deleted account count as [`EndSession::AlreadyEnded`].
    async fn end_session_by_token(
        &self,
        presented: &TokenHash,
        user_id: Uuid,
        event: &AuditEvent,
    ) -> Result<EndSession, StoreError>;

    /// Ends the session `session_id` of `user_id` if it is live; true when
    /// it was. For `revokeSession`, and for `logout` with a token whose row
    /// the purge already removed.
    async fn end_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        reason: EndReason,
        event: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Ends every live session of the account for `reason` and records
    /// `event`; returns how many ended.
    async fn end_all_sessions(
        &self,
        user_id: Uuid,
        reason: EndReason,
        event: &AuditEvent,
    ) -> Result<u64, StoreError>;

    /// Ends every live session of the account but `keep` and records
    /// `event`; returns how many ended.
    async fn end_other_sessions(
        &self,
        user_id: Uuid,
        keep: Uuid,
        event: &AuditEvent,
    ) -> Result<u64, StoreError>;

    /// The account's live sessions, the most recently active first.
    async fn list_sessions(&self, user_id: Uuid) -> Result<Vec<Session>, StoreError>;

    /// Sets a new bcrypt hash, ends every live session of the account but
    /// `keep` and every reset token, and queues `notice`, in one
    /// transaction. `None` when the account no longer exists; else how many
    /// sessions ended.
    async fn change_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        keep: Uuid,
        notice: Option<NewEmail>,
        event: &AuditEvent,
    ) -> Result<Option<u64>, StoreError>;

    /// When the address has an account: ends its earlier reset tokens,
    /// stores the new one and queues its email, in one transaction. True
    /// when it did; then `event` is recorded with it, about that account.
    /// Disabled accounts get nothing.
    async fn request_password_reset(
        &self,
        request: LinkRequest,
        event: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// The account (id and address) of `token` when it is a live token of
    /// `purpose`: not spent, ended or expired, and issued for the account's
    /// address as it is now. Reads only.
    async fn email_token_account(
        &self,
        token: &TokenHash,
        purpose: TokenPurpose,
    ) -> Result<Option<(Uuid, String)>, StoreError>;

    /// Spends a live reset token and, in the same transaction, sets the
    /// password, marks the address verified, ends every session and reset
    /// token of the account, starts the new session and queues the notice.
    /// `None` when the token was not live (of N concurrent calls with one
    /// token, one gets the account).
    /// `event` is recorded with it, about that account.
    async fn reset_password(
        &self,
        reset: PasswordReset,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError>;

    /// Claims up to `limit` emails that are due, reserving each until
    /// `lease_until` (another instance skips them meanwhile).
    async fn claim_emails(
        &self,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<QueuedEmail>, StoreError>;

    /// Records a sent email and deletes its body.
    async fn email_sent(&self, id: Uuid) -> Result<(), StoreError>;

    /// Records a failed attempt: try again at `retry_at`, or (`None`)
    /// abandon it, deleting its body.
    async fn email_failed(
        &self,
        id: Uuid,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    /// Deletes the account, its sessions and its tokens, and records
    /// `event`, unless it is the last enabled `ADMIN` (checked under a lock,
    /// so two admins deleting themselves at once cannot both succeed).
    async fn delete_account(
        &self,
        user_id: Uuid,
        event: &AuditEvent,
    ) -> Result<DeleteAccount, StoreError>;

    /// Changes the account's role or status and records `event`, in one
    /// transaction; a change that would leave no enabled `ADMIN` is refused
    /// under the same lock as [`Store::delete_account`]. A new role and a
    /// disable end every session (and a disable every emailed token).
    async fn set_user(
        &self,
        user_id: Uuid,
        change: AccountChange,
        event: &AuditEvent,
    ) -> Result<AdminChange, StoreError>;

    /// Records events that go with no change (a refused sign-in, a rate
    /// limit), in one transaction.
    async fn record(&self, events: &[AuditEvent]) -> Result<(), StoreError>;

    /// The account with this id.
    async fn find_user(&self, user_id: Uuid) -> Result<Option<User>, StoreError>;

    /// The account with this normalized email.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// A page of accounts, newest first, and how many match in all.
    async fn list_users(&self, query: &UserQuery) -> Result<UserPage, StoreError>;

    /// A page of audit events, newest first.
    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;

    /// Deletes up to `batch` rows of each kind that can no longer matter:
    /// audit events only when `audit_before` is given, those older than it.
    async fn purge_expired(
        &self,
        batch: u32,
        audit_before: Option<DateTime<Utc>>,
    ) -> Result<Purged, StoreError>;

    /// The account, if `session_id` is one of its live sessions.
    async fn find_session_user(
        &self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Option<User>, StoreError>;
}
