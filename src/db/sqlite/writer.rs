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

use diesel::{Connection, QueryResult, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::Conn;
use crate::db::StoreError;

/// Most writes committed together: bounds how long the first of a group
/// waits for the last.
const MAX_BATCH: usize = 64;

/// Writes waiting for the writer; callers beyond this wait to enqueue.
const QUEUE_DEPTH: usize = 1024;

/// Reports a write's outcome once its group's commit is known (`None`: the
/// commit succeeded).
type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// One queued write: runs inside the group's transaction, returns how to
/// report its outcome.
type Job = Box<dyn FnOnce(&mut SqliteConnection) -> Finish + Send>;

/// The sending side of the write queue.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the task that owns `conn` and commits the queued writes.
    pub fn start(conn: Conn) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(conn, queue));
        Self { jobs }
    }

    /// Queues `op` and waits until it is committed (or failed).
    pub async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut SqliteConnection) -> QueryResult<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (done, outcome) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // A savepoint of its own: if `op` fails, only its changes go.
            let result = conn.transaction(op);
            Box::new(move |commit_error| {
                let _ = done.send(match commit_error {
                    Some(error) => Err(error.clone()),
                    None => result.map_err(StoreError::from),
                });
            })
        });
        if self.jobs.send(job).await.is_err() {
            return Err(StoreError::new("database: the writer has stopped"));
        }
        outcome
            .await
            .unwrap_or_else(|_| Err(StoreError::new("database: a write was lost")))
    }
}

/// The writer task: takes what is queued, commits it as one group, reports.
async fn run(mut conn: Conn, mut queue: mpsc::Receiver<Job>) {
    let mut group = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut group, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut group);
        let outcome = conn
            .spawn_blocking(move |conn| {
                let mut finishers = Vec::with_capacity(jobs.len());
                let committed = conn.immediate_transaction(|conn| {
                    finishers.extend(jobs.into_iter().map(|job| job(conn)));
                    QueryResult::Ok(())
                });
                Ok((finishers, committed.err().map(StoreError::from)))
            })
            .await;
        // On a panic the finishers are gone, and their callers hear that
        // their write was lost.
        if let Ok((finishers, commit_error)) = outcome {
            for finish in finishers {
                finish(commit_error.as_ref());
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        let writer = Writer::start(Conn::new(SqliteConnection::establish(":memory:").unwrap()));
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
}
