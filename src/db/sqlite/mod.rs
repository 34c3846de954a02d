//! The embedded SQLite backend: one file, one writing connection, a pool of
//! reading ones, all through diesel-async's `SyncConnectionWrapper`.
//!
//! SQLite lets one connection write at a time. Rather than letting writers
//! race for its lock (and sleep in its busy handler), every write goes
//! through one connection's queue and commits in groups (see [`writer`]).
//! WAL mode lets the readers go on while a write runs.
//!
//! Times are stored as milliseconds since the Unix epoch, ids as their 16
//! bytes; "now" comes from this process's clock, which is the only clock an
//! SQLite database shared by one instance has.

mod accounts;
mod admin;
mod audit;
mod email;
mod outbox;
mod purge;
mod rows;
mod sessions;
mod writer;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool::Runtime;
use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionError, ConnectionResult, QueryResult, SqliteConnection};
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use uuid::Uuid;

use writer::Writer;

use super::{
    AccountChange, AdminChange, AttemptCounter, Attempts, AuditEvent, AuditQuery, CreateUserError,
    DeleteAccount, EmailChangeRequested, EmailCounter, EmailKey, EndSession, LinkRequest,
    LoginLookup, NewEmail, NewRefreshToken, NewSession, NewUser, PasswordReset, Purged,
    QueuedEmail, Rotation, Store, StoreError, TokenHash, TokenPurpose, UserPage, UserQuery,
    Verified, bounded,
};
use crate::config::SqliteFile;
use crate::domain::{EndReason, Session, User};

/// A SQLite connection made async: each call runs on a blocking thread.
type Conn = SyncConnectionWrapper<SqliteConnection>;

/// How long a statement waits for a lock another process holds.
const BUSY_TIMEOUT_MS: u32 = 5_000;

/// How long a read waits for a pooled connection.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// The writing connection's settings (after the busy timeout, so that
/// switching to WAL waits for another process's lock too). `synchronous =
/// FULL` makes each commit durable (fsync of the WAL), as PostgreSQL's
/// default is: a rotated refresh token or an ended session must not come
/// back to life after a power cut.
const WRITER_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

/// The reading connections' settings: `query_only` makes a write through a
/// reader (which would bypass the write queue) an error.
const READER_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA query_only = ON;";

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Opens a connection to `path` and applies `pragmas`, on a blocking thread.
async fn connect(path: String, pragmas: &'static str) -> ConnectionResult<Conn> {
    tokio::task::spawn_blocking(move || {
        let mut conn = SqliteConnection::establish(&path)?;
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}; {pragmas}"
        ))
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
        Ok(Conn::new(conn))
    })
    .await
    .map_err(|_| ConnectionError::BadConnection("connection setup panicked".into()))?
}

fn connect_reader(path: &str) -> BoxFuture<'_, ConnectionResult<Conn>> {
    Box::pin(connect(path.to_owned(), READER_PRAGMAS))
}

/// [`Store`] on SQLite.
pub struct SqliteStore {
    /// The queue of the one connection that writes.
    writer: Writer,
    /// Connections that only read; `None` for an in-memory database, which
    /// exists only inside the writer's connection.
    readers: Option<Pool<Conn>>,
}

impl SqliteStore {
    /// Opens (creating it if needed) the database, applies pending
    /// migrations, and keeps up to `readers` reading connections. Returns
    /// the store, whether the file was created, and the migrations applied.
    pub async fn open(
        file: &SqliteFile,
        readers: usize,
    ) -> Result<(Self, bool, Vec<String>), StoreError> {
        let (path, created) = match file {
            SqliteFile::Memory => (":memory:".to_owned(), true),
            SqliteFile::Path(path) => (path.to_string_lossy().into_owned(), !path.exists()),
        };
        if created {
            if let SqliteFile::Path(path) = file {
                create_private(path).map_err(|_| open_error(file))?;
            }
        }
        let mut writer = connect(path.clone(), WRITER_PRAGMAS)
            .await
            .map_err(|_| open_error(file))?;
        let applied = writer
            .spawn_blocking(|conn| Ok(super::migrations::sqlite(conn)))
            .await??;
        let readers = match file {
            SqliteFile::Memory => None,
            SqliteFile::Path(_) => Some(reader_pool(&path, readers)?),
        };
        // A writing connection left unusable (a write panicked) is replaced;
        // an in-memory database lives in its connection and cannot be.
        let reopen: Option<writer::Reopen> = match file {
            SqliteFile::Memory => None,
            SqliteFile::Path(_) => Some(Box::new(move || {
                Box::pin(connect(path.clone(), WRITER_PRAGMAS))
            })),
        };
        let store = Self {
            writer: Writer::start(writer, reopen),
            readers,
        };
        Ok((store, created, applied))
    }

    /// Runs `op` on the writing connection, after the writes queued before
    /// it, atomically; returns once it is committed. Every store call goes
    /// through here or [`Self::read`], so the call limit is applied here.
    async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut SqliteConnection) -> QueryResult<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        bounded(self.writer.write(op)).await
    }

    /// Runs `op` on a reading connection (the writer's, in memory).
    async fn read<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut SqliteConnection) -> QueryResult<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        match &self.readers {
            Some(pool) => bounded(async { Ok(pool.get().await?.spawn_blocking(op).await?) }).await,
            None => self.write(op).await,
        }
    }
}

fn reader_pool(path: &str, size: usize) -> Result<Pool<Conn>, StoreError> {
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(connect_reader);
    // A local file does not drop connections: no check on checkout.
    config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::<Conn>::new_with_config(path, config);
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_TIMEOUT))
        .create_timeout(Some(POOL_TIMEOUT))
        .recycle_timeout(Some(POOL_TIMEOUT))
        .build()
        .map_err(|_| StoreError::new("database pool: invalid configuration"))
}

/// Creates the database file readable by its owner only: it holds password
/// hashes. (SQLite gives its `-wal` and `-shm` files the same permissions.)
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

/// SQLite's own message says little more than "unable to open database
/// file"; the path (not a secret) and the usual causes say more.
fn open_error(file: &SqliteFile) -> StoreError {
    match file {
        SqliteFile::Memory => StoreError::new("could not open an in-memory SQLite database"),
        SqliteFile::Path(path) => {
            let hint = match path.parent() {
                Some(dir) if dir != Path::new("") && !dir.is_dir() => {
                    "its directory does not exist"
                }
                _ => "is the file a SQLite database, and may authql write there?",
            };
            StoreError::new(format!(
                "could not open the SQLite database {}: {hint}",
                path.display()
            ))
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    /// Through both the readers and the write queue: ready means a write
    /// can get SQLite's lock too, not only that the file can be read.
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.batch_execute("SELECT 1")).await?;
        self.write(|conn| conn.batch_execute("SELECT 1")).await
    }

    async fn create_user(
        &self,
        user: NewUser,
        session: Option<NewSession>,
        event: &AuditEvent,
    ) -> Result<User, CreateUserError> {
        let event = event.clone();
        let created =
            self.write(move |conn| accounts::create(conn, &user, session.as_ref(), &event));
        created.await?.ok_or(CreateUserError::EmailTaken)
    }

    async fn begin_login(
        &self,
        email: Option<&str>,
        counter: Option<AttemptCounter<'_>>,
    ) -> Result<LoginLookup, StoreError> {
        let email = email.map(str::to_owned);
        match counter {
            Some(counter) => {
                let key = counter.key.clone();
                let window_ends_at = counter.new_window_ends_at;
                self.write(move |conn| {
                    accounts::count_and_find(conn, &key, window_ends_at, email.as_deref())
                })
                .await
            }
            None => {
                self.read(move |conn| {
                    let credentials = match email {
                        Some(email) => accounts::find_credentials(conn, &email)?,
                        None => None,
                    };
                    Ok(LoginLookup {
                        credentials,
                        attempts: None,
                    })
                })
                .await
            }
        }
    }

    async fn create_session(
        &self,
        user_id: Uuid,
        session: NewSession,
        clear: Option<&EmailKey>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let (clear, event) = (clear.cloned(), event.clone());
        self.write(move |conn| {
            sessions::create(conn, user_id, &session, clear.as_ref())?;
            audit::insert(conn, &event, Some(user_id))
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
        let (presented, next, reuse) = (presented.clone(), next.clone(), reuse.clone());
        let ip = ip.map(str::to_owned);
        self.write(move |conn| {
            sessions::rotate(conn, &presented, session_id, &next, ip.as_deref(), &reuse)
        })
        .await
    }

    async fn end_session_by_token(
        &self,
        presented: &TokenHash,
        user_id: Uuid,
        event: &AuditEvent,
    ) -> Result<EndSession, StoreError> {
        let (presented, event) = (presented.clone(), event.clone());
        self.write(move |conn| {
            let outcome = sessions::end_by_token(conn, &presented, user_id)?;
            if outcome == EndSession::Ended {
                audit::insert(conn, &event, Some(user_id))?;
            }
            Ok(outcome)
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
        let event = event.clone();
        self.write(move |conn| {
            let ended = sessions::end_one(conn, user_id, session_id, reason)?;
            if ended {
                audit::insert(conn, &event, Some(user_id))?;
            }
            Ok(ended)
        })
        .await
    }

    async fn end_all_sessions(
        &self,
        user_id: Uuid,
        reason: EndReason,
        event: &AuditEvent,
    ) -> Result<u64, StoreError> {
        let event = event.clone();
        self.write(move |conn| {
            let ended = sessions::end_all_for(conn, user_id, reason)?;
            audit::insert(conn, &event, Some(user_id))?;
            Ok(ended)
        })
        .await
    }

    async fn end_other_sessions(
        &self,
        user_id: Uuid,
        keep: Uuid,
        event: &AuditEvent,
    ) -> Result<u64, StoreError> {
        let event = event.clone();
        self.write(move |conn| {
            let ended = sessions::end_others(conn, user_id, keep, EndReason::LogoutOthers)?;
            audit::insert(conn, &event, Some(user_id))?;
            Ok(ended)
        })
        .await
    }

    async fn list_sessions(&self, user_id: Uuid) -> Result<Vec<Session>, StoreError> {
        self.read(move |conn| sessions::list(conn, user_id)).await
    }

    async fn change_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        keep: Uuid,
        notice: Option<NewEmail>,
        event: &AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        let (hash, event) = (password_hash.to_owned(), event.clone());
        self.write(move |conn| {
            accounts::change_password(conn, user_id, &hash, keep, notice.as_ref(), &event)
        })
        .await
    }

    async fn count_email_request(
        &self,
        counter: &EmailCounter,
    ) -> Result<Option<Attempts>, StoreError> {
        let counter = counter.clone();
        self.write(move |conn| email::count(conn, &counter)).await
    }

    async fn request_password_reset(
        &self,
        request: LinkRequest,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let event = event.clone();
        self.write(move |conn| {
            email::request_link(conn, &request, TokenPurpose::PasswordReset, &event)
        })
        .await
    }

    async fn request_email_verification(
        &self,
        request: LinkRequest,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let event = event.clone();
        self.write(move |conn| {
            email::request_link(conn, &request, TokenPurpose::VerifyEmail, &event)
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
        let event = event.clone();
        self.write(move |conn| {
            email::request_change(conn, user_id, &counter, &request, &notice, &event)
        })
        .await
    }

    async fn verify_email(
        &self,
        token: &TokenHash,
        event: &AuditEvent,
    ) -> Result<Verified, StoreError> {
        let (token, event) = (token.clone(), event.clone());
        self.write(move |conn| email::verify(conn, &token, &event))
            .await
    }

    async fn email_token_account(
        &self,
        token: &TokenHash,
        purpose: TokenPurpose,
    ) -> Result<Option<(Uuid, String)>, StoreError> {
        let token = token.clone();
        self.read(move |conn| email::token_account(conn, &token, purpose))
            .await
    }

    async fn reset_password(
        &self,
        reset: PasswordReset,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let event = event.clone();
        self.write(move |conn| email::reset_password(conn, &reset, &event))
            .await
    }

    async fn claim_emails(
        &self,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<QueuedEmail>, StoreError> {
        // A look through a reader first: the worker polls every few
        // seconds, and an empty outbox should not cost a turn of the write
        // queue (or SQLite's write lock) each time.
        if !self.read(outbox::any_due).await? {
            return Ok(Vec::new());
        }
        self.write(move |conn| outbox::claim(conn, limit, lease_until))
            .await
    }

    async fn email_sent(&self, id: Uuid) -> Result<(), StoreError> {
        self.write(move |conn| outbox::sent(conn, id)).await
    }

    async fn email_failed(
        &self,
        id: Uuid,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.write(move |conn| outbox::failed(conn, id, retry_at))
            .await
    }

    async fn delete_account(
        &self,
        user_id: Uuid,
        event: &AuditEvent,
    ) -> Result<DeleteAccount, StoreError> {
        let event = event.clone();
        self.write(move |conn| accounts::delete(conn, user_id, &event))
            .await
    }

    async fn set_user(
        &self,
        user_id: Uuid,
        change: AccountChange,
        event: &AuditEvent,
    ) -> Result<AdminChange, StoreError> {
        let event = event.clone();
        self.write(move |conn| admin::set(conn, user_id, change, &event))
            .await
    }

    async fn record(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let events = events.to_vec();
        self.write(move |conn| {
            events
                .iter()
                .try_for_each(|event| audit::insert(conn, event, None))
        })
        .await
    }

    async fn find_user(&self, user_id: Uuid) -> Result<Option<User>, StoreError> {
        self.read(move |conn| admin::find(conn, user_id)).await
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let email = email.to_owned();
        self.read(move |conn| admin::find_by_email(conn, &email))
            .await
    }

    async fn list_users(&self, query: &UserQuery) -> Result<UserPage, StoreError> {
        let query = query.clone();
        self.read(move |conn| admin::list(conn, &query)).await
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let query = query.clone();
        self.read(move |conn| audit::list(conn, &query)).await
    }

    async fn purge_expired(
        &self,
        batch: u32,
        audit_before: Option<DateTime<Utc>>,
    ) -> Result<Purged, StoreError> {
        // One write per table, so live writes can slip in between.
        Ok(Purged {
            refresh_tokens: self
                .write(move |conn| purge::batch::<purge::PurgeTokens>(conn, batch))
                .await?,
            sessions: self
                .write(move |conn| purge::batch::<purge::PurgeSessions>(conn, batch))
                .await?,
            login_attempts: self
                .write(move |conn| purge::batch::<purge::PurgeAttempts>(conn, batch))
                .await?,
            email_tokens: self
                .write(move |conn| purge::batch::<purge::PurgeEmailTokens>(conn, batch))
                .await?,
            email_requests: self
                .write(move |conn| purge::batch::<purge::PurgeEmailRequests>(conn, batch))
                .await?,
            outbox: self
                .write(move |conn| purge::batch::<purge::PurgeOutbox>(conn, batch))
                .await?,
            audit_events: match audit_before {
                Some(before) => {
                    self.write(move |conn| audit::purge(conn, before, batch))
                        .await?
                }
                None => 0,
            },
        })
    }

    async fn find_session_user(
        &self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Option<User>, StoreError> {
        self.read(move |conn| sessions::find_user(conn, user_id, session_id))
            .await
    }
}
