//! The write queue: every change to an SQLite database goes through one
//! connection, in order, and commits in groups.
//!
//! SQLite has one writer at a time, and with `synchronous = FULL` each commit
//! waits for the disk (an fsync of the WAL: about 1.5 ms here, so at most a
//! few hundred commits a second). PostgreSQL amortises that with group
//! commit; this does the same for SQLite. Writes queue on a channel; one
//! task takes whatever is waiting (up to [`MAX_BATCH`]), runs it as one
//! `BEGIN IMMEDIATE` transaction on a blocking thread, each write inside a
//! savepoint of its own, and commits once. A write that fails rolls back to
//! its savepoint and fails alone; the others commit. Each caller hears back
//! only after the commit is durable, so a rotated token or an ended session
//! never comes back after a crash or a power cut.
//!
//! `BEGIN IMMEDIATE` takes the write lock before the first statement, so a
//! write never reads, then fails to upgrade its lock halfway. Another
//! process holding the lock (an operator's shell, `authql migrate`) is
//! waited for up to the busy timeout; then the whole group fails with
//! `INTERNAL_SERVER_ERROR`, and none of it is applied.

use std::collections::VecDeque;
use std::future::Future;
use std::num::NonZeroU32;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::time::{Duration, Instant};

use diesel::connection::TransactionManager;
use diesel::{Connection, ConnectionResult, QueryResult, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::Conn;
use crate::db::StoreError;

/// Most writes committed together: bounds how long the first of a group
/// waits for the last.
const MAX_BATCH: usize = 64;

/// Writes waiting for the writer; callers beyond this wait to enqueue.
const QUEUE_DEPTH: usize = 1024;

/// A write not started this long after it was queued is not started at all:
/// with the busy timeout (5 s) it would finish after its caller has given
/// up (12 s), and a caller told "failed" must be able to trust that nothing
/// was written, as on PostgreSQL.
const START_DEADLINE: Duration = Duration::from_secs(6);

/// Opens a new writing connection, to replace one left unusable.
pub type Reopen =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = ConnectionResult<Conn>> + Send>> + Send + Sync>;

/// A queued write, before it runs.
trait Pending: Send {
    /// Its caller is gone, or it waited too long to start.
    fn abandoned(&self) -> bool;
    /// Runs it in a savepoint of its own; the result waits for the commit.
    fn run(self: Box<Self>, conn: &mut SqliteConnection) -> Box<dyn Ran>;
    /// Reports `error` without running it.
    fn fail(self: Box<Self>, error: StoreError);
}

/// A write that ran, waiting for its group's commit.
trait Ran: Send {
    /// Reports its outcome (`None`: the commit succeeded).
    fn finish(self: Box<Self>, commit_error: Option<&StoreError>);
}

struct Write<F, T> {
    op: F,
    done: oneshot::Sender<Result<T, StoreError>>,
    queued_at: Instant,
}

struct Done<T> {
    result: QueryResult<T>,
    done: oneshot::Sender<Result<T, StoreError>>,
}

impl<F, T> Pending for Write<F, T>
where
    F: FnOnce(&mut SqliteConnection) -> QueryResult<T> + Send,
    T: Send + 'static,
{
    fn abandoned(&self) -> bool {
        self.done.is_closed() || self.queued_at.elapsed() > START_DEADLINE
    }

    fn run(self: Box<Self>, conn: &mut SqliteConnection) -> Box<dyn Ran> {
        // A savepoint of its own: if the write fails, only its changes go.
        let result = conn.transaction(self.op);
        Box::new(Done {
            result,
            done: self.done,
        })
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.done.send(Err(error));
    }
}

impl<T: Send> Ran for Done<T> {
    fn finish(self: Box<Self>, commit_error: Option<&StoreError>) {
        let _ = self.done.send(match commit_error {
            Some(error) => Err(error.clone()),
            None => self.result.map_err(StoreError::from),
        });
    }
}

/// The sending side of the write queue.
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Pending>>,
}

impl Writer {
    /// Starts the task that owns `conn` and commits the queued writes;
    /// `reopen` replaces the connection if a write ever leaves it unusable.
    pub fn start(conn: Conn, reopen: Option<Reopen>) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(conn, reopen, queue));
        Self { jobs }
    }

    /// Queues `op` and waits until it is committed (or failed).
    pub async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut SqliteConnection) -> QueryResult<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (done, outcome) = oneshot::channel();
        let job = Box::new(Write {
            op,
            done,
            queued_at: Instant::now(),
        });
        if self.jobs.send(job).await.is_err() {
            return Err(StoreError::new("database: the writer has stopped"));
        }
        outcome
            .await
            .unwrap_or_else(|_| Err(StoreError::new("database: a write was lost")))
    }
}

/// What became of one group.
struct Group {
    ran: Vec<Box<dyn Ran>>,
    not_run: VecDeque<Box<dyn Pending>>,
    error: Option<StoreError>,
    /// A write panicked: the connection's transaction state is unknown.
    poisoned: bool,
}

/// True while the group's own transaction (and nothing deeper) is open. A
/// statement that makes SQLite roll back the whole transaction (disk full,
/// I/O error) leaves none: the writes after it must not run, or they would
/// each commit on their own.
fn in_group_transaction(conn: &mut SqliteConnection) -> bool {
    let status =
        <SqliteConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn);
    status.transaction_depth() == Ok(NonZeroU32::new(1))
}

/// Runs one group as one `BEGIN IMMEDIATE` transaction.
fn commit_group(conn: &mut SqliteConnection, mut pending: VecDeque<Box<dyn Pending>>) -> Group {
    let mut ran = Vec::with_capacity(pending.len());
    let mut poisoned = false;
    let committed = conn.immediate_transaction(|conn| {
        while let Some(job) = pending.pop_front() {
            if job.abandoned() {
                job.fail(StoreError::new(
                    "database: a write waited too long to start",
                ));
                continue;
            }
            match catch_unwind(AssertUnwindSafe(|| job.run(conn))) {
                Ok(done) => ran.push(done),
                Err(_) => {
                    poisoned = true;
                    return Err(diesel::result::Error::RollbackTransaction);
                }
            }
            if !in_group_transaction(conn) {
                return Err(diesel::result::Error::RollbackTransaction);
            }
        }
        Ok(())
    });
    Group {
        ran,
        not_run: pending,
        error: committed.err().map(|e| match e {
            diesel::result::Error::RollbackTransaction => {
                StoreError::new("database: a write aborted its group's transaction")
            }
            other => StoreError::from(other),
        }),
        poisoned,
    }
}

/// The writer task: takes what is queued, commits it as one group, reports.
async fn run(mut conn: Conn, reopen: Option<Reopen>, mut queue: mpsc::Receiver<Box<dyn Pending>>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let group: VecDeque<_> = jobs.drain(..).collect();
        let outcome = conn
            .spawn_blocking(move |conn| Ok(commit_group(conn, group)))
            .await;
        // `commit_group` catches the writes' panics, so this is Ok unless
        // the blocking task itself failed; then the group's callers hear
        // that their writes were lost.
        let Ok(group) = outcome else { continue };
        let error = group.error.or_else(|| {
            (!group.not_run.is_empty()).then(|| StoreError::new("database: the group failed"))
        });
        for done in group.ran {
            done.finish(error.as_ref());
        }
        let error = error.unwrap_or_else(|| StoreError::new("database: the group failed"));
        for job in group.not_run {
            job.fail(error.clone());
        }
        if group.poisoned {
            tracing::error!("database: a write panicked; reopening the writing connection");
            match reopen.as_ref() {
                Some(reopen) => match reopen().await {
                    Ok(fresh) => conn = fresh,
                    Err(_) => tracing::error!("database: could not reopen the writing connection"),
                },
                None => tracing::error!("database: an in-memory database cannot be reopened"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::time::Duration;

    use diesel::connection::SimpleConnection;
    use diesel::sql_types::BigInt;
    use diesel::{QueryableByName, RunQueryDsl};
    use futures_util::future::join_all;

    use super::*;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_failing_write_rolls_back_alone_and_the_rest_of_its_group_commits() {
        let writer = Writer::start(
            Conn::new(SqliteConnection::establish(":memory:").unwrap()),
            None,
        );
        writer
            .write(|c| c.batch_execute("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
            .await
            .unwrap();
        // A slow write holds the writer while ten more queue up behind it, so
        // they run as one group.
        let slow = writer.write(|c| {
            std::thread::sleep(Duration::from_millis(100));
            c.batch_execute("INSERT INTO t VALUES (100)")
        });
        let group = join_all((0..10).map(|i| {
            writer.write(move |c| {
                c.batch_execute(&format!("INSERT INTO t VALUES ({i})"))?;
                if i == 3 {
                    // Violates the primary key: this write fails as a whole,
                    // its first insert included.
                    c.batch_execute("INSERT INTO t VALUES (100)")?;
                }
                Ok(i)
            })
        }));
        let (slow, group) = tokio::join!(slow, async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            group.await
        });
        slow.unwrap();
        for (i, result) in group.into_iter().enumerate() {
            assert_eq!(result.is_ok(), i != 3, "write {i}: {result:?}");
        }
        let rows: Vec<Count> = writer
            .write(|c| diesel::sql_query("SELECT count(*) AS n FROM t WHERE x <> 3").load(c))
            .await
            .unwrap();
        assert_eq!(rows[0].n, 10);
        let three: Vec<Count> = writer
            .write(|c| diesel::sql_query("SELECT count(*) AS n FROM t WHERE x = 3").load(c))
            .await
            .unwrap();
        assert_eq!(three[0].n, 0);
    }

    async fn count(writer: &Writer, filter: &'static str) -> i64 {
        let rows: Vec<Count> = writer
            .write(move |c| {
                diesel::sql_query(format!("SELECT count(*) AS n FROM t WHERE {filter}")).load(c)
            })
            .await
            .unwrap();
        rows[0].n
    }

    async fn memory_writer() -> Writer {
        let writer = Writer::start(
            Conn::new(SqliteConnection::establish(":memory:").unwrap()),
            None,
        );
        writer
            .write(|c| c.batch_execute("CREATE TABLE t (x INTEGER PRIMARY KEY, pad BLOB)"))
            .await
            .unwrap();
        writer
    }

    /// Holds the writer for `ms` so that what is queued meanwhile forms one group.
    fn hold(writer: &Writer, ms: u64) -> impl Future<Output = Result<(), StoreError>> + '_ {
        writer.write(move |_| {
            std::thread::sleep(Duration::from_millis(ms));
            Ok(())
        })
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_write_that_aborts_the_whole_transaction_stops_its_group() {
        let writer = memory_writer().await;
        writer
            .write(|c| c.batch_execute("PRAGMA max_page_count = 64"))
            .await
            .unwrap();
        let group = join_all((0..6).map(|i| {
            writer.write(move |c| {
                // Write 2 fills the database: SQLite rolls back the group's
                // whole transaction, not just this statement.
                let pad = if i == 2 { 4_000_000 } else { 8 };
                c.batch_execute(&format!("INSERT INTO t VALUES ({i}, zeroblob({pad}))"))
            })
        }));
        let (held, group) = tokio::join!(hold(&writer, 100), async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            group.await
        });
        held.unwrap();
        for (i, result) in group.iter().enumerate() {
            assert!(result.is_err(), "write {i} was reported as written");
        }
        // None of them is in the table: in particular no write after the
        // failing one went on to commit on its own.
        assert_eq!(count(&writer, "1 = 1").await, 0);
        // And the writer goes on.
        writer
            .write(|c| c.batch_execute("INSERT INTO t VALUES (10, NULL)"))
            .await
            .unwrap();
        assert_eq!(count(&writer, "x = 10").await, 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_write_whose_caller_gave_up_is_never_applied() {
        let writer = memory_writer().await;
        let held = hold(&writer, 200);
        let gave_up = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let write = writer.write(|c| c.batch_execute("INSERT INTO t VALUES (1, NULL)"));
            tokio::time::timeout(Duration::from_millis(50), write).await
        };
        let (held, gave_up) = tokio::join!(held, gave_up);
        held.unwrap();
        assert!(gave_up.is_err(), "the write should still have been queued");
        assert_eq!(count(&writer, "x = 1").await, 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_panicking_write_fails_its_group_and_the_writer_recovers() {
        let path = std::env::temp_dir().join(format!("authql-writer-{}.db", uuid::Uuid::new_v4()));
        let path = path.to_string_lossy().into_owned();
        let open = {
            let path = path.clone();
            move || super::super::connect(path.clone(), super::super::WRITER_PRAGMAS)
        };
        let conn = open().await.unwrap();
        let reopen: Reopen = Box::new(move || Box::pin(open()));
        let writer = Writer::start(conn, Some(reopen));
        writer
            .write(|c| c.batch_execute("CREATE TABLE t (x INTEGER PRIMARY KEY, pad BLOB)"))
            .await
            .unwrap();
        let (held, before, panicked) = tokio::join!(
            hold(&writer, 100),
            async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                writer
                    .write(|c| c.batch_execute("INSERT INTO t VALUES (1, NULL)"))
                    .await
            },
            async {
                tokio::time::sleep(Duration::from_millis(40)).await;
                writer
                    .write(|c| -> QueryResult<()> {
                        c.batch_execute("INSERT INTO t VALUES (2, NULL)")?;
                        panic!("a bug in a write");
                    })
                    .await
            }
        );
        held.unwrap();
        assert!(before.is_err() && panicked.is_err());
        // The file's write lock was let go and the writer works again.
        writer
            .write(|c| c.batch_execute("INSERT INTO t VALUES (3, NULL)"))
            .await
            .unwrap();
        assert_eq!(count(&writer, "1 = 1").await, 1);
        drop(writer);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
}
