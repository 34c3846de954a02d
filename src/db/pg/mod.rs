//! The PostgreSQL backend: a deadpool of fully async diesel connections.

mod admin;
mod audit;
mod email;
mod limits;
mod models;
mod outbox;
mod purge;
mod schema;
mod sessions;
mod setup;
mod users;

use std::future::Future;
use std::pin::Pin;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool::Runtime;
use diesel::{ConnectionError, ConnectionResult};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use uuid::Uuid;

pub use setup::{connect_error, ensure_database, redact_url};

use super::{
    AccountChange, AdminChange, AttemptCounter, Attempts, AuditEvent, AuditQuery, CreateUserError,
    DeleteAccount, EmailChangeRequested, EmailCounter, EmailKey, EndSession, LinkRequest,
    LoginLookup, NewEmail, NewRefreshToken, NewSession, NewUser, PasswordReset, Purged,
    QueuedEmail, Rotation, Store, StoreError, TokenHash, TokenPurpose, UserPage, UserQuery,
    Verified, bounded,
};
use crate::domain::{EndReason, Session, User};

/// How long a request waits for a pooled connection (or for a new one to be
/// made) before failing with `INTERNAL_SERVER_ERROR` instead of hanging.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// Limits PostgreSQL enforces on each statement of ours: a lock held by
/// someone else, or a statement that runs away, fails the request instead of
/// holding it (and graceful shutdown) forever.
const SESSION_LIMITS: &str = "SET statement_timeout = '5s'; SET lock_timeout = '3s'";

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Opens a connection and applies [`SESSION_LIMITS`] to it.
fn connect(url: &str) -> BoxFuture<'_, ConnectionResult<AsyncPgConnection>> {
    Box::pin(async move {
        let mut conn = AsyncPgConnection::establish(url).await?;
        conn.batch_execute(SESSION_LIMITS)
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        Ok(conn)
    })
}

/// [`Store`] on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool<AsyncPgConnection>,
}

impl PgStore {
    /// Builds the pool. No connection is made until the first query: a
    /// database that goes away later makes `/readyz` answer 503 and requests
    /// fail with `INTERNAL_SERVER_ERROR` until it is back.
    pub fn new(database_url: &str, max_connections: usize) -> Result<Self, StoreError> {
        let mut manager_config = ManagerConfig::default();
        manager_config.custom_setup = Box::new(connect);

        // `Verified` would spend a round trip on every checkout; a connection
        // the server closed is noticed by `is_broken` and replaced instead.
        manager_config.recycling_method = RecyclingMethod::Fast;
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            database_url,
            manager_config,
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|_| StoreError::new("database pool: invalid configuration"))?;
        Ok(Self { pool })
    }

    async fn conn(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
        Ok(self.pool.get().await?)
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        bounded(async {
            let mut conn = self.conn().await?;
            diesel::sql_query("SELECT 1").execute(&mut conn).await?;
            Ok(())
        })
        .await
    }

    async fn create_user(
        &self,
        user: NewUser,
        session: Option<NewSession>,
        event: &AuditEvent,
    ) -> Result<User, CreateUserError> {
        bounded(async { users::create(&mut *self.conn().await?, user, session, event).await }).await
    }

    async fn begin_login(
        &self,
        email: Option<&str>,
        counter: Option<AttemptCounter<'_>>,
    ) -> Result<LoginLookup, StoreError> {
        bounded(async { limits::begin_login(&mut *self.conn().await?, email, counter).await }).await
    }

    async fn create_session(
        &self,
        user_id: Uuid,
        session: NewSession,
        clear: Option<&EmailKey>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        bounded(async {
            let mut conn = self.conn().await?;
            conn.transaction(async |conn| {
                sessions::create(conn, user_id, &session, clear).await?;
                audit::insert(conn, &[event], Some(user_id)).await?;
                Ok(())
            })
            .await
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        presented: &TokenHash,
        session_id: Uuid,
        next: &NewRefreshToken,
        ip: Option<&str>,
        reuse: &AuditEvent,
    ) -> Result<Rotation, StoreError> {
        bounded(async {
            let mut conn = self.conn().await?;
            sessions::rotate(&mut conn, presented, session_id, next, ip, reuse).await
        })
        .await
    }

    async fn end_session_by_token(
        &self,
        presented: &TokenHash,
        user_id: Uuid,
        event: &AuditEvent,
    ) -> Result<EndSession, StoreError> {
        bounded(async {
            let mut conn = self.conn().await?;
            conn.transaction(async |conn| {
                let outcome = sessions::end_by_token(conn, presented, user_id).await?;
                if outcome == EndSession::Ended {
                    audit::insert(conn, &[event], Some(user_id)).await?;
                }
                Ok(outcome)
            })
            .await
        })
        .await
    }

    async fn end_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        reason: EndReason,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        bounded(async {
            let mut conn = self.conn().await?;
            conn.transaction(async |conn| {
                let ended = sessions::end_one(conn, user_id, session_id, reason).await?;
                if ended {
                    audit::insert(conn, &[event], Some(user_id)).await?;
                }
                Ok(ended)
            })
            .await
        })
        .await
    }

    async fn end_all_sessions(
        &self,
        user_id: Uuid,
        reason: EndReason,
        event: &AuditEvent,
    ) -> Result<u64, StoreError> {
        bounded(async {
            let mut conn = self.conn().await?;
            conn.transaction(async |conn| {
                let ended = sessions::end_all(conn, user_id, reason).await?;
                audit::insert(conn, &[event], Some(user_id)).await?;
                Ok(ended)
            })
            .await
        })
        .await
    }

    async fn end_other_sessions(
        &self,
        user_id: Uuid,
        keep: Uuid,
        event: &AuditEvent,
    ) -> Result<u64, StoreError> {
        bounded(async {
            let mut conn = self.conn().await?;
            conn.transaction(async |conn| {
                let ended = sessions::end_others(conn, user_id, keep).await?;
                audit::insert(conn, &[event], Some(user_id)).await?;
                Ok(ended)
            })
            .await
        })
        .await
    }

    async fn list_sessions(&self, user_id: Uuid) -> Result<Vec<Session>, StoreError> {
        bounded(async { sessions::list(&mut *self.conn().await?, user_id).await }).await
    }

    async fn change_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        keep: Uuid,
        notice: Option<NewEmail>,
        event: &AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        bounded(async {
            let mut conn = self.conn().await?;
            let notice = notice.as_ref();
            users::change_password(&mut conn, user_id, password_hash, keep, notice, event).await
        })
        .await
    }

    async fn count_email_request(
        &self,
        counter: &EmailCounter,
    ) -> Result<Option<Attempts>, StoreError> {
        bounded(async { email::count(&mut *self.conn().await?, counter).await }).await
    }

    async fn request_password_reset(
        &self,
        request: LinkRequest,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        bounded(async {
            let mut conn = self.conn().await?;
            email::request_link(&mut conn, &request, TokenPurpose::PasswordReset, event).await
        })
        .await
    }

    async fn request_email_verification(
        &self,
        request: LinkRequest,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        bounded(async {
            let mut conn = self.conn().await?;
            email::request_link(&mut conn, &request, TokenPurpose::VerifyEmail, event).await
        })
        .await
    }

    async fn request_email_change(
        &self,
        user_id: Uuid,
        counter: EmailCounter,
        request: LinkRequest,
        notice: NewEmail,
        event: &AuditEvent,
    ) -> Result<EmailChangeRequested, StoreError> {
        bounded(async {
            let mut conn = self.conn().await?;
            email::request_change(&mut conn, user_id, &counter, &request, &notice, event).await
        })
        .await
    }

    async fn verify_email(
        &self,
        token: &TokenHash,
        event: &AuditEvent,
    ) -> Result<Verified, StoreError> {
        bounded(async { email::verify(&mut *self.conn().await?, token, event).await }).await
    }

    async fn email_token_account(
        &self,
        token: &TokenHash,
        purpose: TokenPurpose,
    ) -> Result<Option<(Uuid, String)>, StoreError> {
        bounded(async { email::token_account(&mut *self.conn().await?, token, purpose).await })
            .await
    }

    async fn reset_password(
        &self,
        reset: PasswordReset,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        bounded(async { email::reset_password(&mut *self.conn().await?, &reset, event).await })
            .await
    }

    async fn claim_emails(
        &self,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<QueuedEmail>, StoreError> {
        bounded(async { outbox::claim(&mut *self.conn().await?, limit, lease_until).await }).await
    }

    async fn email_sent(&self, id: Uuid) -> Result<(), StoreError> {
        bounded(async { outbox::sent(&mut *self.conn().await?, id).await }).await
    }

    async fn email_failed(
        &self,
        id: Uuid,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        bounded(async { outbox::failed(&mut *self.conn().await?, id, retry_at).await }).await
    }

    async fn delete_account(
        &self,
        user_id: Uuid,
        event: &AuditEvent,
    ) -> Result<DeleteAccount, StoreError> {
        bounded(async { users::delete(&mut *self.conn().await?, user_id, event).await }).await
    }

    async fn set_user(
        &self,
        user_id: Uuid,
        change: AccountChange,
        event: &AuditEvent,
    ) -> Result<AdminChange, StoreError> {
        bounded(async { admin::set(&mut *self.conn().await?, user_id, change, event).await }).await
    }

    async fn record(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        bounded(async {
            let events: Vec<&AuditEvent> = events.iter().collect();
            Ok(audit::insert(&mut *self.conn().await?, &events, None).await?)
        })
        .await
    }

    async fn find_user(&self, user_id: Uuid) -> Result<Option<User>, StoreError> {
        bounded(async { admin::find(&mut *self.conn().await?, user_id).await }).await
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        bounded(async { admin::find_by_email(&mut *self.conn().await?, email).await }).await
    }

    async fn list_users(&self, query: &UserQuery) -> Result<UserPage, StoreError> {
        bounded(async { admin::list(&mut *self.conn().await?, query).await }).await
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        bounded(async { audit::list(&mut *self.conn().await?, query).await }).await
    }

    async fn find_session_user(
        &self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Option<User>, StoreError> {
        bounded(async { sessions::find_user(&mut *self.conn().await?, user_id, session_id).await })
            .await
    }

    async fn purge_expired(
        &self,
        batch: u32,
        audit_before: Option<DateTime<Utc>>,
    ) -> Result<Purged, StoreError> {
        bounded(async { purge::batch(&mut *self.conn().await?, batch, audit_before).await }).await
    }
}
