//! A few low-priority threads for bcrypt, outside Tokio's runtime.
//!
//! Tokio's blocking pool would run bcrypt at the same priority as the async
//! workers, so during a login storm every cheap request (`me`, a refresh)
//! would queue behind whole bcrypt runs for a CPU. These threads run at a
//! higher nice value instead: the kernel hands the CPU to an async worker as
//! soon as one has work, and bcrypt gets whatever is left, which under a login
//! storm is nearly everything. A fair semaphore keeps at most one job per
//! thread in flight, so callers wait (asynchronously, in arrival order)
//! instead of piling work onto the threads.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, oneshot};

/// The nice value of the pool's threads (0 is normal, 19 the lowest). 10
/// gives an async worker about nine times bcrypt's share of a contended CPU:
/// enough for cheap requests to get through at once, not so much that a busy
/// `me` load could starve logins.
pub const NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// The pool. Dropping the last handle lets its threads finish and exit.
#[derive(Clone)]
pub struct CpuPool {
    jobs: Sender<Job>,
    permits: Arc<Semaphore>,
}

/// The pool's threads are gone (only possible while shutting down).
#[derive(Debug)]
pub struct PoolClosed;

impl CpuPool {
    /// Starts `threads` threads named `name`.
    pub fn new(threads: usize, name: &str) -> Self {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let threads = threads.max(1);
        for _ in 0..threads {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || work(&queue));
            if spawned.is_err() {
                tracing::error!("could not start a {name} thread");
            }
        }
        Self {
            jobs,
            permits: Arc::new(Semaphore::new(threads)),
        }
    }

    /// Runs `job` on one of the pool's threads and waits for its result.
    ///
    /// The permit travels with the job and is released when the job ends, not
    /// when the caller stops waiting: a caller that gives up (a client that
    /// disconnects) cannot make room for more work than there are threads.
    /// A job whose caller is gone before it starts is skipped.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolClosed> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| PoolClosed)?;
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            if done.is_closed() {
                return;
            }
            let value = job();
            // Free the slot before the caller hears back, so the next job
            // can start as soon as this one is delivered.
            drop(permit);
            let _ = done.send(value);
        });

        self.jobs.send(job).map_err(|_| PoolClosed)?;
        result.await.map_err(|_| PoolClosed)
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let job = match queue.lock() {
            Ok(queue) => match queue.recv() {
                Ok(job) => job,
                Err(_) => return, // every handle dropped
            },
            Err(_) => return,
        };
        // A panicking job drops its result sender (its caller sees
        // `PoolClosed`); the thread lives on for the next one.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux, PRIO_PROCESS with a thread id sets that thread's nice value.
    let tid = rustix::thread::gettid();
    if rustix::process::setpriority_process(Some(tid), NICE).is_err() {
        tracing::warn!("could not lower the priority of the bcrypt threads");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_survives_a_panicking_one() {
        let pool = CpuPool::new(2, "test-pool");
        assert_eq!(pool.run(|| 2 + 2).await.unwrap(), 4);
        assert!(pool.run(|| panic!("boom")).await.is_err());
        let results: Vec<_> =
            futures_util::future::join_all((0..8).map(|i| pool.run(move || i * 10)))
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
        assert_eq!(results, (0..8).map(|i| i * 10).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_keeps_its_slot_until_the_job_ends() {
        let pool = CpuPool::new(1, "test-cancel");
        let slow = pool.run(|| std::thread::sleep(std::time::Duration::from_millis(300)));
        let gave_up = tokio::time::timeout(std::time::Duration::from_millis(30), slow).await;
        assert!(gave_up.is_err());
        // The job still runs, so its permit is still taken.
        assert_eq!(pool.permits.available_permits(), 0);
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
        assert_eq!(pool.permits.available_permits(), 1);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn threads_run_at_the_lower_priority() {
        let pool = CpuPool::new(1, "test-nice");
        let nice = pool
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(nice, NICE);
    }
}
