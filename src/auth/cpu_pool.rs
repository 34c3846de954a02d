//! A few threads for bcrypt, outside Tokio's runtime, at a slightly lower
//! priority than the async workers.
//!
//! Tokio's blocking pool would grow a thread per waiting bcrypt run, so a
//! login storm would take every CPU from the cheap requests (`me`, a
//! refresh). These threads are one per core, and a fair semaphore keeps at
//! most one job per thread in flight, so callers wait (asynchronously, in
//! arrival order) instead of piling work onto the threads. Their nice value
//! ([`NICE`]) sets how a contended CPU is shared between sign-ins and
//! everything else; it was chosen by measurement (the README's
//! *Performance* has the sweep).
//!
//! The queue is bounded in time, not length: the pool keeps a running
//! average of how long a job takes, and a job that would wait longer than
//! its `max_wait` for a thread is refused at once ([`RunError::Busy`], with
//! the expected wait) instead of joining the queue. However many sign-ins an
//! attacker sends, nobody waits longer than that, and the waiting requests
//! cannot pile up connections and memory.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, oneshot};

/// The nice value of the pool's threads (0 is normal, 19 the lowest). 1
/// gives an async worker about 1.25 times a bcrypt thread's share of a
/// contended CPU. Measured in a login storm beside a closed loop of `me`
/// requests: at 0, `me`'s p99 reaches 5 ms; from 2 up, sign-ins fall under
/// half their solo rate (at 10, to about a third, and the queue's bound
/// starts refusing them). 1 keeps both.
pub const NICE: i32 = 1;

type Job = Box<dyn FnOnce() + Send>;

/// The pool. Dropping the last handle lets its threads finish and exit.
#[derive(Clone)]
pub struct CpuPool {
    jobs: Sender<Job>,
    permits: Arc<Semaphore>,
    queue: Arc<Queue>,
}

/// What the pool knows of its queue, to bound the wait.
struct Queue {
    threads: usize,
    max_wait: Duration,
    /// Jobs admitted and not yet finished (running or waiting).
    admitted: AtomicUsize,
    /// A running average of a job's duration, in nanoseconds (0: none yet).
    average_nanos: AtomicU64,
}

/// Why a job did not run.
#[derive(Debug, PartialEq, Eq)]
pub enum RunError {
    /// It would have waited longer than the pool's `max_wait` (about this
    /// long) for a thread, so it was not queued.
    Busy(Duration),
    /// The pool's threads are gone (only possible while shutting down).
    Closed,
}

/// Holds a job's place in [`Queue::admitted`] until the job ends, or until
/// it is abandoned before it starts.
struct Admitted(Arc<Queue>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Queue {
    /// Admits one more job unless the ones ahead of it would keep it
    /// waiting longer than `max_wait`.
    fn admit(self: &Arc<Self>) -> Result<Admitted, RunError> {
        let ahead = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admitted = Admitted(Arc::clone(self));
        // Jobs ahead of this one, in rounds of one per thread: the first
        // `threads` start at once.
        let rounds = u32::try_from(ahead / self.threads).unwrap_or(u32::MAX);
        let wait = Duration::from_nanos(self.average_nanos.load(Ordering::Relaxed)) * rounds;
        if wait > self.max_wait {
            return Err(RunError::Busy(wait));
        }
        Ok(admitted)
    }

    /// Folds one job's duration into the average (weight 1/8: a change of
    /// cost or load shows within a few jobs; one slow job moves it little).
    fn record(&self, took: Duration) {
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let old = self.average_nanos.load(Ordering::Relaxed);
        let new = if old == 0 {
            took
        } else {
            old - old / 8 + took / 8
        };
        self.average_nanos.store(new, Ordering::Relaxed);
    }
}

impl CpuPool {
    /// Starts `threads` threads named `name`; a job that would wait longer
    /// than `max_wait` for one is refused.
    pub fn new(threads: usize, max_wait: Duration, name: &str) -> Self {
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
            queue: Arc::new(Queue {
                threads,
                max_wait,
                admitted: AtomicUsize::new(0),
                average_nanos: AtomicU64::new(0),
            }),
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
    ) -> Result<T, RunError> {
        let admitted = self.queue.admit()?;
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| RunError::Closed)?;
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            if done.is_closed() {
                return;
            }
            let started = Instant::now();
            let value = job();
            admitted.0.record(started.elapsed());
            // Free the slot before the caller hears back, so the next job
            // can start as soon as this one is delivered.
            drop(admitted);
            drop(permit);
            let _ = done.send(value);
        });

        self.jobs.send(job).map_err(|_| RunError::Closed)?;
        result.await.map_err(|_| RunError::Closed)
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
        // `RunError::Closed`); the thread lives on for the next one.
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
        let pool = CpuPool::new(2, Duration::from_secs(60), "test-pool");
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
        let pool = CpuPool::new(1, Duration::from_secs(60), "test-cancel");
        let slow = pool.run(|| std::thread::sleep(Duration::from_millis(300)));
        let gave_up = tokio::time::timeout(Duration::from_millis(30), slow).await;
        assert!(gave_up.is_err());
        // The job still runs, so its permit is still taken.
        assert_eq!(pool.permits.available_permits(), 0);
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
        assert_eq!(pool.permits.available_permits(), 1);
    }

    #[tokio::test]
    async fn a_job_that_would_wait_too_long_is_refused_at_once() {
        let pool = CpuPool::new(1, Duration::from_millis(150), "test-busy");
        // Nothing measured yet: admitted.
        pool.run(|| std::thread::sleep(Duration::from_millis(200)))
            .await
            .unwrap();
        // One job running: the next would wait about 200 ms, over 150.
        let running = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(|| std::thread::sleep(Duration::from_millis(300)))
                    .await
            }
        });
        while pool.queue.admitted.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        match pool.run(|| 1).await {
            Err(RunError::Busy(wait)) => assert!(wait >= Duration::from_millis(200), "{wait:?}"),
            other => panic!("expected Busy, got {other:?}"),
        }
        // The refused job took no place in the queue.
        assert_eq!(pool.queue.admitted.load(Ordering::Acquire), 1);
        running.await.unwrap().unwrap();
        assert_eq!(pool.queue.admitted.load(Ordering::Acquire), 0);
        // Free again: admitted, and it runs.
        assert_eq!(pool.run(|| 2).await, Ok(2));
    }

    #[test]
    fn the_wait_counts_rounds_of_one_job_per_thread() {
        let queue = Arc::new(Queue {
            threads: 2,
            max_wait: Duration::from_millis(250),
            admitted: AtomicUsize::new(0),
            average_nanos: AtomicU64::new(100_000_000),
        });
        // Two start at once, the next two wait one job (100 ms), the next
        // two wait two (200 ms), the next would wait 300 ms: refused.
        let held: Vec<_> = (0..6).map(|_| queue.admit().unwrap()).collect();
        assert!(matches!(queue.admit(), Err(RunError::Busy(w)) if w == Duration::from_millis(300)));
        drop(held);
        assert_eq!(queue.admitted.load(Ordering::Acquire), 0);
        queue.record(Duration::from_millis(900));
        assert_eq!(queue.average_nanos.load(Ordering::Relaxed), 200_000_000);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn threads_run_at_the_lower_priority() {
        let pool = CpuPool::new(1, Duration::from_secs(60), "test-nice");
        let nice = pool
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(nice, NICE);
    }
}
