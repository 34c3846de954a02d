//! The PostgreSQL backend: a deadpool of fully async diesel connections.

mod prepared;
mod sessions;
mod setup;
mod users;

use std::time::Duration;

use async_trait::async_trait;
use deadpool::Runtime;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

pub use setup::{connect_error, ensure_database, redact_url};

use super::{
    CreateUserError, Credentials, EndSession, NewRefreshToken, NewSession, NewUser, Rotation,
    Store, StoreError, TokenHash, User,
};

/// How long a request waits for a pooled connection (or for a new one to be
/// made) before failing with `INTERNAL_SERVER_ERROR` instead of hanging.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// [`Store`] on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool<AsyncPgConnection>,
}

impl PgStore {
    /// Builds the pool. No connection is made until the first query, so the
    /// server starts (and `/readyz` reports 503) while the database is down.
    pub fn new(database_url: &str, max_connections: usize) -> Result<Self, StoreError> {
        let mut manager_config = ManagerConfig::default();
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
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    }

    async fn create_user(
        &self,
        user: NewUser,
        session: NewSession,
    ) -> Result<User, CreateUserError> {
        users::create(&mut *self.conn().await?, user, session).await
    }

    async fn find_credentials(&self, email: &str) -> Result<Option<Credentials>, StoreError> {
        users::find_credentials(&mut *self.conn().await?, email).await
    }

    async fn create_session(&self, user_id: Uuid, session: NewSession) -> Result<(), StoreError> {
        sessions::create(&mut *self.conn().await?, user_id, &session).await
    }

    async fn rotate_refresh_token(
        &self,
        presented: &TokenHash,
        session_id: Uuid,
        next: &NewRefreshToken,
    ) -> Result<Rotation, StoreError> {
        sessions::rotate(&mut *self.conn().await?, presented, session_id, next).await
    }

    async fn end_session_by_token(&self, presented: &TokenHash) -> Result<EndSession, StoreError> {
        sessions::end_by_token(&mut *self.conn().await?, presented).await
    }

    async fn end_all_sessions(&self, user_id: Uuid) -> Result<u64, StoreError> {
        sessions::end_all(&mut *self.conn().await?, user_id).await
    }

    async fn find_session_user(
        &self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Option<User>, StoreError> {
        sessions::find_user(&mut *self.conn().await?, user_id, session_id).await
    }
}
